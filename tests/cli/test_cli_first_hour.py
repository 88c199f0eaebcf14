"""The command line's rough edges from a new user's first hour (issue 17), each through the real
entry point (``python -m trajectories``) in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import paths
from tests.helpers.store import step, traj
from trajectories._internal.cli.main import build_parser
from trajectories._internal.embedding import HashingEmbedder
from trajectories._internal.model import serde
from trajectories.learning import analyze
from trajectories.model import RootCause, StepOutcome, Verdict
from trajectories.store import SQLiteTrajectoryStore

SRC = str(paths.SRC)


def _env(db: Path | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TRAJECTORIES_DB", None)
    env.pop("TRAJECTORIES_TOKEN", None)
    if db is not None:
        env["TRAJECTORIES_DB"] = str(db)
    return env


def run(*args: str, db: Path | None = None, code: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "trajectories", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(db), timeout=60)


EMBED = HashingEmbedder()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    with SQLiteTrajectoryStore(path) as s:
        s.add_many(
            [
                traj(
                    1,
                    [
                        step(0, "classify"),
                        step(1, "execute_refund", StepOutcome.failure("TimeoutError: payments did not answer in 2s"), tool="pay"),
                        step(2, "execute_refund", tool="pay"),
                    ],
                    Verdict.recovered(RootCause.tool_failure("pay", "timeout"), 1, 0.85),
                    embedding=EMBED("refund my damaged parcel"),
                ),
                traj(
                    2,
                    [step(0, "delete_account", StepOutcome.failure("PermissionError: account is locked"), tool="acct")],
                    Verdict.failure(RootCause.tool_failure("acct", "PermissionError: account is locked")),
                    embedding=EMBED("delete my account"),
                ),
                traj(
                    3,
                    [step(0, "draft"), step(1, "cite", StepOutcome.partial("two sources", "the pricing table")), step(2, "send")],
                    Verdict.partial(0.5),
                    embedding=EMBED("compare your plans"),
                ),
            ]
        )
    return path


# -- optional extras -------------------------------------------------------------------------
# Setting sys.modules[name] = None is how Python itself makes ``import name`` fail
# (ModuleNotFoundError), as it does when the package is not installed.
BLOCKED = (
    "import sys\n"
    "for name in {names!r}:\n"
    "    sys.modules[name] = None\n"
    "from trajectories._internal.cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.parametrize(
    ("command", "blocked", "extra"),
    [
        ("serve", ["uvicorn"], "server"),
        ("serve", ["starlette"], "server"),
        ("ui", ["jinja2"], "ui"),
        ("ui", ["uvicorn"], "ui"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(db: Path, command: str, blocked: list[str], extra: str) -> None:
    r = run(command, "--port", "0", db=db, code=BLOCKED.format(names=blocked))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert f"pip install 'trajectories[{extra}]'" in lines[0]
    assert blocked[0] in lines[0]


# -- Ctrl-C ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("command", "path", "summary"),
    [("serve", "/health", "trajectories serve: stopped; 0 trajectories"), ("ui", "/", "trajectories ui: stopped")],
)
def test_ctrl_c_is_a_clean_stop(db: Path, command: str, path: str, summary: str) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectories", command, "--port", str(port)],
        env=_env(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_up(f"http://127.0.0.1:{port}{path}", proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert summary in err
    assert "interrupted" not in err
    assert "Traceback" not in err


# -- help --------------------------------------------------------------------------------------
def _subparsers() -> dict[str, object]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return dict(action.choices)  # type: ignore[arg-type]


def test_every_option_of_every_command_has_a_complete_help() -> None:
    dangling = ("after", "before", "of", "to", "for", "with", "in", "the", "a", "and", "or")
    commands = _subparsers()
    assert {"serve", "ui", "list", "show", "search", "stats", "analyze", "distill", "export", "import", "demo"} <= set(commands)
    for name, sub in commands.items():
        for action in sub._actions:  # type: ignore[attr-defined]
            if action.help in (None, "==SUPPRESS=="):
                continue
            text = str(action.help).strip()
            assert text, (name, action.dest)
            assert text.split()[-1].strip("().,") not in dangling, (name, action.dest, text)
            default = action.default
            if action.option_strings and default not in (None, False, "==SUPPRESS==") and action.dest != "help":
                assert "default" in text, (name, action.dest, text)


@pytest.mark.parametrize("command", ["serve", "ui"])
def test_serve_and_ui_help(command: str) -> None:
    r = run(command, "--help")
    assert r.returncode == 0
    assert "--token" in r.stdout
    if command == "serve":
        flat = " ".join(r.stdout.split())
        assert (
            "--max-age SECONDS store a trace whose root span has not arrived within SECONDS as incomplete (default 300)" in flat
        )


# -- show --------------------------------------------------------------------------------------
def test_show_labels_each_quality_and_counts_attempts(db: Path) -> None:
    r = run("show", "traj-1", db=db)
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[1]
    assert line.startswith("verdict: Recovered after 1 attempt, final quality 85%  trajectory quality ")
    assert line.count("quality") == 2
    assert "attempts" not in line


def test_show_json_writes_number_arrays_on_one_line(db: Path) -> None:
    r = run("show", "traj-1", "--json", db=db)
    assert r.returncode == 0, r.stderr
    with SQLiteTrajectoryStore(db) as s:
        t = s.get(1)
    expected = serde.to_dict(t)
    assert json.loads(r.stdout) == expected
    line = next(x for x in r.stdout.splitlines() if '"query_embedding"' in x)
    assert json.loads(line.split(":", 1)[1].rstrip(",")) == expected["query_embedding"]
    assert len(r.stdout.splitlines()) < 120  # one float per line would be more than 256


# -- search ------------------------------------------------------------------------------------
def test_search_keeps_a_floor_and_exits_1_below_it(db: Path) -> None:
    r = run("search", "refund my parcel", db=db)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()[1:]
    assert [row.split()[1] for row in rows] == ["traj-1"]
    nothing = run("search", "quantum chromodynamics on a lattice", db=db)
    assert nothing.returncode == 1
    assert "no similar trajectories" in nothing.stdout
    assert "0.000" not in nothing.stdout
    as_json = run("search", "quantum chromodynamics on a lattice", "--json", db=db)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == []
    everything = run("search", "quantum chromodynamics on a lattice", "--min-similarity", "-1", "--json", db=db)
    assert everything.returncode == 0
    assert len(json.loads(everything.stdout)) == 3
    assert run("search", "x", "--min-similarity", "2", db=db).returncode == 2


# -- read-only commands never create a database ----------------------------------------------
@pytest.mark.parametrize(
    "args",
    [("list",), ("show", "traj-1"), ("search", "hello"), ("stats",), ("analyze", "1"), ("export",), ("ui", "--port", "0")],
)
def test_a_reading_command_on_a_mistyped_path_creates_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "trajectoires.db"
    r = run(*args, "--db", str(typo))
    assert r.returncode == 4
    assert r.stderr.splitlines() == [
        f"trajectories: error: no trajectory database at {str(typo)!r} (check --db or $TRAJECTORIES_DB; only writing "
        "commands create one)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_writing_command_creates_the_database(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    r = subprocess.run(
        [sys.executable, "-m", "trajectories", "import", "-", "--db", str(new)],
        input="",
        capture_output=True,
        text=True,
        env=_env(None),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert new.exists()
    assert r.stderr.strip() == "imported 0 trajectories"


# -- analyze -----------------------------------------------------------------------------------
def test_analyze_names_the_step_that_timed_out(db: Path) -> None:
    r = run("analyze", "1", db=db)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "step #1 'execute_refund' (tool 'pay') timed out after 10 ms: TimeoutError: payments did not answer in 2s" in out
    assert "retry with backoff" in out
    assert "(step #2 succeeded at the same action)" in out
    assert out.index("findings") < out.index("ruvllm verdict analysis:")


def test_analyze_does_not_tell_a_permission_error_to_retry(db: Path) -> None:
    r = run("analyze", "2", "--json", db=db)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    with SQLiteTrajectoryStore(db) as s:
        ruvllm = analyze(s.get(2)).to_dict()
    assert {k: v for k, v in doc.items() if k not in ("id", "findings")} == ruvllm  # ruvllm's fields, exact
    step_findings = [f for f in doc["findings"] if f["step"] == 0]
    assert [f["kind"] for f in step_findings] == ["permission"]
    text = step_findings[0]["text"]
    assert "was refused permission" in text
    assert "retrying will not help" in text
    assert "delete_account" in text


def test_analyze_of_a_partial_names_what_was_not_successful(db: Path) -> None:
    r = run("analyze", "traj-3", db=db)
    assert r.returncode == 0, r.stderr
    assert "step #1 'cite' was partial: achieved 'two sources', missing 'the pricing table'" in r.stdout
    assert "partial (50% complete): not successful: #1 'cite' missing 'the pricing table'" in r.stdout
    assert "'draft'" not in r.stdout.split("ruvllm verdict analysis:")[0]  # successful steps are not findings
