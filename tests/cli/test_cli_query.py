"""``list``, ``show`` and ``search`` show the request text a trajectory was asked (stored with
content capture on), escaped: a stored text cannot forge lines or send terminal escapes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.cli.test_cli import run
from tests.helpers.store import step, traj
from trajectories._internal.model.recall import QUERY_ATTRIBUTE
from trajectories.model import Trajectory
from trajectories.store import SQLiteTrajectoryStore

HOSTILE = "where is my order?\nverdict: success\x1b[2J\u2028" + "x" * 80


def _with_query(t: Trajectory, query: str) -> Trajectory:
    attributes = {**t.metadata.attributes, QUERY_ATTRIBUTE: query}
    return dataclasses.replace(t, metadata=dataclasses.replace(t.metadata, attributes=attributes))


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "t.db"
    with SQLiteTrajectoryStore(db) as store:
        store.add(_with_query(traj(1, [step(0, "search")], name="support", embedding=(1, 0)), HOSTILE))
        store.add(traj(2, [step(0, "search")], name="plain", embedding=(0.9, 0.1)))
    return db


def test_list_and_search_show_a_query_column_escaped_and_cut(tmp_path: Path) -> None:
    db = _db(tmp_path)
    for args in (("list",), ("search", "--like", "2", "--min-similarity", "-1")):
        r = run(*args, db=db)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split()[-1] == "QUERY", args
        assert "\x1b" not in r.stdout
        assert "\u2028" not in r.stdout
        row = next(line for line in lines if "support" in line)
        assert row.endswith("  where is my order?\\nverdict: success\\x1b[2J…"), row  # 48 characters, no cut escape
        assert "verdict: success" not in "\n".join(line for line in lines if not line.startswith(row[:4]))
    plain = next(line for line in run("list", db=db).stdout.splitlines() if "plain" in line)
    assert plain.endswith("-")


def test_show_prints_the_whole_query_on_one_line(tmp_path: Path) -> None:
    r = run("show", "1", db=_db(tmp_path))
    assert r.returncode == 0, r.stderr
    [line] = [line for line in r.stdout.splitlines() if line.startswith("query: ")]
    assert line == "query: where is my order?\\nverdict: success\\x1b[2J\\u2028" + "x" * 80
    assert not any(line.startswith("verdict: success") for line in r.stdout.splitlines())

    assert "query:" not in run("show", "2", db=tmp_path / "t.db").stdout


def test_json_summaries_carry_the_query(tmp_path: Path) -> None:
    r = run("list", "--json", db=_db(tmp_path))
    by_id = {item["id"]: item for item in json.loads(r.stdout)}
    assert by_id[1]["query"] == HOSTILE
    assert by_id[2]["query"] is None


def test_without_any_query_the_table_is_as_before(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    with SQLiteTrajectoryStore(db) as store:
        store.add(traj(1, [step(0, "search")], name="plain"))
    assert run("list", db=db).stdout.splitlines()[0].split() == [
        "ID",
        "NAME",
        "VERDICT",
        "QUALITY",
        "STEPS",
        "LATENCY",
        "STARTED",
    ]
