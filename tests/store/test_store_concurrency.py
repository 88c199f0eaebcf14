"""Several threads and several processes writing one store file: nothing is lost."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from tests.helpers.paths import ROOT
from tests.helpers.store import step, traj
from trajectories.store import SQLiteTrajectoryStore

_WRITER = """
import sys
sys.path[:0] = [{src!r}, {root!r}]
from tests.helpers.store import step, traj
from trajectories.store import SQLiteTrajectoryStore

base = int(sys.argv[1])
with SQLiteTrajectoryStore(sys.argv[2]) as s:
    for i in range(60):
        if i % 3 == 0:
            s.add_many([traj(base + i, [step(0, "w")], embedding=(1, i)), traj(base + 1000 + i, embedding=(i, 1))])
        else:
            s.add(traj(base + i, [step(0, "w")], embedding=(1, i)))
        if i % 10 == 0:
            s.similar([1, 0], k=3)
"""


def test_threads_sharing_one_store_lose_nothing(tmp_path: Path) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    errors: list[BaseException] = []

    def writer(base: int) -> None:
        try:
            for i in range(50):
                store.add(traj(base + i, [step(0, "x")], embedding=(1, i)))
                if i % 10 == 0:
                    store.similar([1, 0], k=2)
                    store.list(limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n * 10_000,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 300
    assert store.stats().top_actions == [("x", 300)]
    assert len(store.similar([1, 0], k=1000)) == 300
    store.close()


def test_two_processes_writing_the_same_file_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    root = ROOT
    script = tmp_path / "writer.py"
    script.write_text(_WRITER.format(src=str(root / "src"), root=str(root)))
    with SQLiteTrajectoryStore(db) as reader:
        reader.similar([1, 0], k=1)  # an index built before the other processes write
        procs = [subprocess.Popen([sys.executable, str(script), str(base), str(db)]) for base in (100_000, 200_000)]
        for p in procs:
            assert p.wait(timeout=120) == 0
        expected = 2 * (60 + 20)
        assert reader.count() == expected
        ids = {int(t.id) for t in reader.list(limit=None)}
        assert len(ids) == expected
        assert len(reader.similar([1, 0], k=10_000)) == expected  # the index caught up with both


def test_connections_of_finished_threads_are_released(tmp_path: Path) -> None:
    import gc

    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    for i in range(20):
        t = threading.Thread(target=store.add, args=(traj(i + 1),))
        t.start()
        t.join()
    gc.collect()
    assert len(store._connections) <= 2  # this thread's, maybe one not yet collected
    assert store.count() == 20
    store.close()
