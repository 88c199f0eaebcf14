"""The CLI and configure() on both backends: --db and $TRAJECTORIES_DB take a postgresql:// URL too."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers.export import fresh_global_provider
from tests.helpers.postgres import closed_port, with_database
from tests.helpers.serde import golden_files
from tests.helpers.store import T0, step, traj
from trajectories import configure, trajectory
from trajectories import step as traced_step
from trajectories.model import RootCause, Trajectory, Verdict
from trajectories.store import open_store

SRC = str(Path(__file__).resolve().parents[2] / "src")
SECRET = "cli-Secret-42"


@pytest.fixture(autouse=True)
def _in_a_temporary_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands (and serve) run in a temporary working directory: nothing lands in the checkout."""
    monkeypatch.chdir(tmp_path)


def run(*args: str, db: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TRAJECTORIES_DB", None)
    if db is not None:
        env["TRAJECTORIES_DB"] = db
    return subprocess.run(
        [sys.executable, "-m", "trajectories", *args], capture_output=True, text=True, env=env, input=stdin, timeout=120
    )


def _secret_url(location: str) -> str:
    if not location.startswith("postgresql"):
        return location
    return with_database(location, urlsplit(location).path.lstrip("/"), password=SECRET)


def test_import_export_show_and_search_through_the_cli(location: str) -> None:
    lines = [Trajectory.from_json(p.read_text(encoding="utf-8")).to_json() for p in golden_files()]
    db = _secret_url(location)
    imported = run("--db", db, "import", "-", stdin="\n".join(lines) + "\n")
    assert imported.returncode == 0, imported.stderr
    again = run("import", "-", db=db, stdin="\n".join(lines) + "\n")  # via $TRAJECTORIES_DB; replaces, never duplicates
    assert again.returncode == 0, again.stderr
    exported = run("export", db=db)
    assert exported.returncode == 0, exported.stderr
    by_time = sorted((Trajectory.from_json(line) for line in lines), key=lambda t: (t.started_at, int(t.id)))
    assert exported.stdout.splitlines() == [t.to_json() for t in by_time]
    first = by_time[0]
    shown = run("--db", db, "show", str(int(first.id)))
    assert shown.returncode == 0
    assert str(first.uuid) in shown.stdout
    stats = run("--db", db, "stats")
    assert stats.returncode == 0
    assert str(len(lines)) in stats.stdout
    for out in (imported, again, exported, shown, stats):
        assert SECRET not in out.stdout + out.stderr


@pytest.mark.postgres
def test_an_unreachable_database_is_one_line_and_exit_4() -> None:
    url = f"postgresql://bob:{SECRET}@127.0.0.1:{closed_port()}/traj"
    for args in (("--db", url, "stats"), ("--db", url, "serve", "--port", "0")):
        out = run(*args)
        assert out.returncode == 4, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert "cannot open trajectory database postgresql://bob:***@127.0.0.1" in lines[0]
        assert SECRET not in out.stderr
        assert "Traceback" not in out.stderr


def _search_ids(location: str, *args: str) -> list[int]:
    out = run("search", "--like", "traj-9", "--json", "--min-similarity", "-1", *args, db=location)
    assert out.returncode in (0, 1), out.stderr  # 1: nothing matched (then the JSON is an empty list)
    return [h["id"] for h in json.loads(out.stdout)]


def test_search_takes_the_filters_of_list(location: str) -> None:
    failed = Verdict.failure(RootCause.unknown("x"))
    at = [T0 + timedelta(seconds=s) for s in range(6)]
    with open_store(location) as store:
        store.add_many(
            [  # each less similar to traj-9's (1, 0) than the one before
                traj(1, embedding=(1.0, 0.0), name="support", session="s1", user="u1", started=at[1]),
                traj(2, verdict=failed, embedding=(0.9, 0.1), name="refunds", session="s2", user="u1", started=at[2]),
                traj(
                    3, verdict=Verdict.partial(0.5), embedding=(0.8, 0.2), name="support", session="s2", user="u2", started=at[3]
                ),
                traj(
                    4,
                    [step(0, "a", confidence=0.5)],
                    embedding=(0.7, 0.3),
                    name="support",
                    session="s1",
                    user="u2",
                    started=at[4],
                ),
                traj(9, embedding=(1.0, 0.0), name="origin", session="s9", user="u9", started=at[5]),
            ]
        )
        assert [int(t.id) for t in store.list()] == [9, 4, 3, 2, 1]
    assert _search_ids(location) == [1, 2, 3, 4]  # traj-9 itself is left out
    assert _search_ids(location, "--name", "support") == [1, 3, 4]
    assert _search_ids(location, "--session", "s2") == [2, 3]
    assert _search_ids(location, "--user", "u2", "-k", "2") == [3, 4]  # k hits among those that match
    assert _search_ids(location, "--verdict", "success") == [1, 4]
    assert _search_ids(location, "--min-quality", "0.6") == [1]
    assert _search_ids(location, "--max-quality", "0.5") == [2, 3, 4]
    assert _search_ids(location, "--since", at[3].isoformat()) == [3, 4]
    assert _search_ids(location, "--until", at[2].isoformat().replace("+00:00", "")) == [1, 2]  # no zone: UTC
    assert _search_ids(location, "--name", "support", "--session", "s1", "--max-quality", "0.9") == [4]
    assert _search_ids(location, "--name", "nobody") == []
    bad = run("search", "--like", "traj-9", "--since", "yesterday", db=location)
    assert bad.returncode == 2
    assert "ISO 8601" in bad.stderr


def test_configure_store_takes_the_location(location: str, tmp_path: Path) -> None:
    with fresh_global_provider():
        config = configure("svc", store=location, batch=False, dead_letter_path=tmp_path / "dead")
        with trajectory("agent", query="what?"), traced_step("a"):
            pass
        assert config.flush()
        config.shutdown()
    with open_store(location) as store:
        assert [t.metadata.attributes["trajectory.name"] for t in store.list()] == ["agent"]


CLIENT = textwrap.dedent(
    """
    import sys
    from trajectories import configure, step, trajectory

    config = configure("client", otlp_endpoint=sys.argv[1], store=False, batch=False)
    for i in range(5):
        with trajectory("served", query=f"q{i}"), step("look"):
            pass
    config.flush()
    config.shutdown()
    """
)


def test_serve_writes_into_the_store_and_prints_it_without_password(location: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen(
        [sys.executable, "-m", "trajectories", "--db", _secret_url(location), "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        banner = server.stderr.readline()
        assert "trajectories serve: OTLP/HTTP on" in banner
        assert SECRET not in banner
        if location.startswith("postgresql"):
            assert ":***@" in banner
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + "/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        subprocess.run([sys.executable, "-c", CLIENT, base], env=env, check=True, timeout=60, capture_output=True)
        with open_store(location) as store:
            for _ in range(100):  # stored as the roots arrive; bounded wait
                if store.count() == 5:
                    break
                time.sleep(0.1)
            assert store.count() == 5
    finally:
        server.terminate()
        rest = server.communicate(timeout=30)[1]
    assert SECRET not in rest
