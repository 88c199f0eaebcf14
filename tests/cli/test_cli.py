"""The command line through its real entry point (``python -m trajectories``) in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.store import step, traj
from trajectories._internal.model.serde.jsonl import write_jsonl
from trajectories.model import RootCause, StepOutcome, Trajectory, Verdict
from trajectories.store import SQLiteTrajectoryStore

SRC = str(ROOT / "src")


def run(
    *args: str, db: Path | None = None, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TRAJECTORIES_DB", None)
    if db is not None:
        env["TRAJECTORIES_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "trajectories", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=60,
        cwd=cwd,
    )


def sample() -> list[Trajectory]:
    return [
        traj(
            1,
            [
                step(0, "search", tool="kb"),
                step(1, "lookup", parent=0),
                step(2, "answer", StepOutcome.partial("draft", "sources"), 0.7),
            ],
            name="support",
            session="s1",
            lessons=["Search first"],
            embedding=(1, 0),
        ),
        traj(
            2,
            [step(0, "execute_refund", StepOutcome.failure("gateway timeout"), 0.4)],
            Verdict.failure(RootCause.tool_failure("payments", "timeout")),
            name="refunds",
            embedding=(0.9, 0.1),
        ),
        traj(3, [step(0, "greet")], Verdict.partial(0.5), name="support", embedding=(0, 1)),
    ]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    with SQLiteTrajectoryStore(path) as s:
        s.add_many(sample())
    return path


@pytest.mark.parametrize("command", ["demo", "list", "show", "search", "stats", "analyze", "distill", "export", "import"])
def test_every_command_has_help(command: str) -> None:
    r = run(command, "--help")
    assert r.returncode == 0, r.stderr
    assert f"usage: trajectories {command}" in r.stdout
    assert "--db" in r.stdout


def test_top_level_help_and_usage_errors() -> None:
    r = run("--help")
    assert r.returncode == 0
    assert "exit codes" in r.stdout
    assert run().returncode == 2  # a command is required
    r = run("frobnicate")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr


def test_list_table_json_filters_and_paging(db: Path) -> None:
    r = run("list", db=db)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "VERDICT", "QUALITY", "STEPS", "LATENCY", "STARTED"]
    assert [line.split()[0] for line in lines[1:]] == ["traj-3", "traj-2", "traj-1"]
    r = run("list", "--json", "--name", "support", db=db)
    assert [d["id"] for d in json.loads(r.stdout)] == [3, 1]
    r = run("--db", str(db), "list", "--json", "--verdict", "failure")  # --db before the command
    assert [d["id"] for d in json.loads(r.stdout)] == [2]
    r = run("list", "--json", "--limit", "1", "--offset", "1", "--db", str(db))  # --db after it
    assert [d["id"] for d in json.loads(r.stdout)] == [2]
    r = run("list", "--json", "--min-quality", "0.8", db=db)
    assert {d["id"] for d in json.loads(r.stdout)} == {1}
    r = run("list", "--since", "not-a-date", db=db)
    assert r.returncode == 2
    assert "ISO 8601" in r.stderr


def test_show_tree_and_json(db: Path) -> None:
    r = run("show", "traj-1", db=db)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "verdict: Success" in out
    assert "|-- [+] #0 search  10 ms  success  confidence 1.00  tool=kb" in out
    assert "|   `-- [+] #1 lookup" in out  # child under its parent step
    assert "`-- [~] #2 answer  10 ms  partial (achieved: draft; missing: sources)  confidence 0.70" in out
    assert "Search first" in out
    r = run("show", "2", "--json", db=db)
    data = json.loads(r.stdout)
    assert data["verdict"] == {"Failure": {"ToolFailure": {"tool": "payments", "error": "timeout"}}}
    with SQLiteTrajectoryStore(db) as s:
        uuid = str(s.get(3).uuid)
    assert run("show", uuid, db=db).returncode == 0


def test_unknown_id_and_bad_id(db: Path) -> None:
    r = run("show", "traj-99", db=db)
    assert r.returncode == 1
    assert "no trajectory with id 99" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("analyze", "bogus", db=db)
    assert r.returncode == 2
    assert "not a trajectory id" in r.stderr


def test_search_text_like_and_nothing_matched(db: Path, tmp_path: Path) -> None:
    r = run("search", "--like", "traj-1", "--json", "--min-similarity", "-1", db=db)  # traj-3 is at 0.0
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert [h["id"] for h in hits] == [2, 3]
    assert hits[0]["similarity"] > hits[1]["similarity"]
    r = run("search", "--like", "1", "-k", "1", db=db)
    assert r.stdout.splitlines()[1].split()[1] == "traj-2"
    r = run("search", "--like", "1", "--verdict", "success", db=db)
    assert r.returncode == 1  # nothing matched
    assert "no similar trajectories" in r.stdout
    assert run("search", db=db).returncode == 2  # neither TEXT nor --like
    text_db = tmp_path / "text.db"
    from trajectories._internal.embedding import HashingEmbedder

    emb = HashingEmbedder()
    with SQLiteTrajectoryStore(text_db) as s:
        s.add_many([traj(1, embedding=emb("reset my password")), traj(2, embedding=emb("refund my order"))])
    r = run("search", "how do I reset my password", "--json", db=text_db)
    assert next(h["id"] for h in json.loads(r.stdout)) == 1


def test_stats_and_analyze(db: Path) -> None:
    r = run("stats", "--json", db=db)
    st = json.loads(r.stdout)
    assert st["total"] == 3
    assert st["by_verdict"] == {"success": 1, "failure": 1, "partial": 1, "recovered_via_reflection": 0}
    r = run("stats", db=db)
    assert "trajectories: 3" in r.stdout
    r = run("analyze", "traj-2", db=db)
    assert r.returncode == 0, r.stderr
    assert "root cause: Tool 'payments' failed: timeout" in r.stdout
    assert "Alternative Approach" in r.stdout
    r = run("analyze", "2", "--json", db=db)
    a = json.loads(r.stdout)
    assert a["pattern_category"] == "ErrorRecovery"
    assert a["lessons"] == ["Avoid: execute_refund - gateway timeout"]


def test_export_import_roundtrip_with_a_bad_line(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    r = run("export", str(out), db=db)
    assert r.returncode == 0, r.stderr
    assert "exported 3 trajectories" in r.stderr
    lines = out.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]  # oldest first
    lines.insert(1, '{"id": 5, "uuid": "nope"}')
    lines.insert(3, "")
    out.write_text("\n".join(lines) + "\n")
    new_db = tmp_path / "new.db"
    r = run("import", str(out), db=new_db)
    assert r.returncode == 3
    assert f"{out}:2: " in r.stderr
    assert "imported 3 trajectories, 1 invalid line skipped" in r.stderr
    with SQLiteTrajectoryStore(db) as a, SQLiteTrajectoryStore(new_db) as b:
        assert list(a.iter_all()) == list(b.iter_all())
    r = run("import", "-", db=new_db, stdin=out.read_text().splitlines()[0] + "\n")
    assert r.returncode == 0
    assert "imported 1 trajectory\n" in r.stderr
    with SQLiteTrajectoryStore(new_db) as b:
        assert b.count() == 3  # re-import replaced, no duplicate
    r = run("export", "--verdict", "failure", db=db)
    assert [json.loads(line)["id"] for line in r.stdout.splitlines()] == [2]


def test_import_missing_file(tmp_path: Path) -> None:
    r = run("import", str(tmp_path / "missing.jsonl"), db=tmp_path / "t.db")
    assert r.returncode == 3
    assert "cannot read" in r.stderr


def test_missing_database_directory_is_a_database_error(tmp_path: Path) -> None:
    r = run("import", "-", "--db", str(tmp_path / "no" / "such" / "t.db"), stdin="")  # a command that writes
    assert r.returncode == 4
    assert "does not exist" in r.stderr
    assert "Traceback" not in r.stderr


def test_default_database_is_in_the_current_directory(tmp_path: Path) -> None:
    f = tmp_path / "one.jsonl"
    write_jsonl(f, [traj(1)])
    assert run("import", str(f), cwd=tmp_path).returncode == 0
    assert (tmp_path / "trajectories.db").exists()


def test_distill_too_few_then_prune(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with SQLiteTrajectoryStore(path) as s:
        s.add_many([traj(i, [step(0, "a")], lessons=["keep going"]) for i in range(1, 6)])
    r = run("distill", db=path)
    assert r.returncode == 1
    assert "need at least 100" in r.stderr
    assert "nothing was changed" in r.stderr
    r = run("distill", "--min-trajectories", "5", "--json", db=path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["compressed"], d["pruned"]) == (5, 0)
    assert d["key_lessons"][0]["content"] == "keep going"
    with SQLiteTrajectoryStore(path) as s:
        assert s.count() == 5
    r = run("distill", "--min-trajectories", "5", "--prune", db=path)
    assert r.returncode == 0, r.stderr
    assert "5 originals pruned" in r.stdout
    with SQLiteTrajectoryStore(path) as s:
        assert s.count() == 0
        assert len(s.compressed()) == 5


def test_demo_records_through_the_exporter_and_prints_the_table(tmp_path: Path) -> None:
    import time

    path = tmp_path / "demo.db"
    started = time.monotonic()
    r = run("demo", db=path)
    elapsed = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert elapsed < 10
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "REQUEST", "VERDICT"]
    assert len(lines) == 7
    assert "recorded 6 trajectories from 6 concurrent requests" in r.stderr
    with SQLiteTrajectoryStore(path) as s:
        ts = s.list(limit=None)
        kinds = sorted(t.verdict.kind for t in ts)
        assert kinds == ["failure", "partial", "recovered_via_reflection", "success", "success", "success"]
        refund = next(t for t in ts if t.verdict.kind == "recovered_via_reflection")
        assert [st.outcome.kind for st in refund.steps] == ["success", "failure", "needs_retry", "success", "success"]
        assert refund.metadata.tools_invoked == ("payments",)
        assert all(t.metadata.attributes.get("trajectory.name") == "support-agent" for t in ts)
        assert len({t.uuid for t in ts}) == 6
    r = run("search", "I forgot my password", "-k", "1", "--json", db=path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["session_id"] == "s-101"
    r = run("demo", db=path)  # a second run adds six more, nothing is replaced
    assert r.returncode == 0, r.stderr
    with SQLiteTrajectoryStore(path) as s:
        assert s.count() == 12


def test_a_damaged_row(db: Path, tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE trajectories SET json = 'garbage' WHERE id = 2")
    conn.commit()
    conn.close()
    r = run("show", "2", db=db)
    assert r.returncode == 3
    assert "traj-2 cannot be read" in r.stderr
    r = run("list", "--json", db=db)
    assert r.returncode == 0
    assert [d["id"] for d in json.loads(r.stdout)] == [3, 1]
    assert "skipping a damaged row" in r.stderr
    r = run("export", str(tmp_path / "out.jsonl"), db=db)
    assert r.returncode == 3
    assert "exported 2 trajectories, 1 damaged row skipped" in r.stderr


def test_import_of_a_binary_file(tmp_path: Path) -> None:
    f = tmp_path / "bin.jsonl"
    f.write_bytes(b"\xff\xfe\x00garbage\n")
    r = run("import", str(f), db=tmp_path / "t.db")
    assert r.returncode == 3
    assert "Traceback" not in r.stderr
