"""The CLI and configure() on both backends: --db and $TRAJECTORIES_DB take a postgresql:// URL too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers.export import fresh_global_provider
from tests.helpers.postgres import closed_port, with_database
from tests.helpers.serde import golden_files
from trajectories import configure, step, trajectory
from trajectories.model import Trajectory
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


def test_configure_store_takes_the_location(location: str, tmp_path: Path) -> None:
    with fresh_global_provider():
        config = configure("svc", store=location, batch=False, dead_letter_path=tmp_path / "dead")
        with trajectory("agent", query="what?"), step("a"):
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
