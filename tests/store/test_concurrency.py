"""Several processes on one store: all open a fresh database at once, write the same and different
trajectories, and nothing is lost or duplicated (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import multiprocessing
from collections import Counter

from tests.helpers.store_workers import OWN, SHARED, writer
from trajectories.store import TrajectoryStore, open_store

WORKERS = 4


def test_many_writer_processes_lose_nothing_and_duplicate_nothing(location: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    errors = ctx.Queue()
    procs = [ctx.Process(target=writer, args=(location, w, barrier, errors)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    reported = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert [p.exitcode for p in procs] == [0] * WORKERS, reported
    store: TrajectoryStore
    with open_store(location) as store:
        all_ids = [int(t.id) for t in store.iter_all()]
        assert len(all_ids) == len(set(all_ids)) == SHARED + WORKERS * OWN == store.count()
        assert set(all_ids) == set(range(SHARED)) | {1000 * (w + 1) + i for w in range(WORKERS) for i in range(OWN)}
        for i in range(SHARED):  # each shared trajectory is one writer's whole version, never a mix
            t = store.get(i)
            name = t.metadata.attributes["trajectory.name"]
            assert [s.action for s in t.steps] == [name]
            assert float(t.query_embedding[1]) == float(name[1:])
        actions = Counter(dict(store.stats(top_actions=WORKERS).top_actions))
        assert sum(actions.values()) == SHARED  # the step actions of replaced versions are gone
        hits = store.similar([1.0, 0.0, 0.0], k=5)
        assert len(hits) == 5
