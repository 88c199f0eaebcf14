"""feedback, lessons and show's recall section, through the real entry point."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from tests.cli.test_cli import run
from tests.helpers.store import T0, step, traj
from trajectories._internal.model.recall import RECALLED_ATTRIBUTE, encode_recalled
from trajectories.learning import KeyLesson, PatternCategory, RecalledMemory, lesson_id
from trajectories.model import Trajectory
from trajectories.store import SQLiteTrajectoryStore

HOSTILE = "Avoid \x1b[2J\x1b[31mthe refund\r tool"


def _with_recall(t: Trajectory, memories: list[RecalledMemory]) -> Trajectory:
    attrs = {**t.metadata.attributes, RECALLED_ATTRIBUTE: encode_recalled(memories)}
    return dataclasses.replace(t, metadata=dataclasses.replace(t.metadata, attributes=attrs))


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "t.db"
    lesson = KeyLesson(
        content=HOSTILE, embedding=np.array([1.0, 0.0, 0.0], dtype=np.float32), source_trajectory_ids=(1, 2),
        observation_count=2, category=PatternCategory.ToolUse, importance=0.8, success_rate=0.0, avg_quality=0.2,
        example_actions=(), tags=(), created_at=T0, last_observed=T0,
    )  # fmt: skip
    with SQLiteTrajectoryStore(db) as store:
        store.add_many([traj(1, [step(0, "lookup")]), traj(2)])
        store.save_distillation([], [lesson])
        memories = [RecalledMemory("trajectory", 1, 0.9), RecalledMemory("lesson", lesson_id(HOSTILE), 0.7, HOSTILE)]
        store.add(_with_recall(traj(10, [step(0, "refund")]), memories))
    return db


def test_feedback_changes_verdict_and_credit_and_show_tells(tmp_path: Path) -> None:
    db = _db(tmp_path)
    r = run("feedback", "traj-10", "--verdict", "failure", "--cause", "customer said wrong", db=db)
    assert r.returncode == 0, r.stderr
    assert "Success -> Failure: Unknown failure: customer said wrong" in r.stdout
    assert "quality 1.000 -> 0.300" in r.stdout
    shown = run("show", "10", db=db)
    assert shown.returncode == 0, shown.stderr
    assert "recalled (2; this run did not succeed" in shown.stdout
    assert "traj-1  similarity 0.900  recalled by 1 run, 0% succeeded, mean quality 0.300" in shown.stdout
    assert "\x1b" not in shown.stdout  # the lesson's escape sequences are shown, not obeyed
    assert "\\x1b[2J" in shown.stdout
    assert "verdict history (replaced by feedback):" in shown.stdout
    assert "by cli" in shown.stdout
    with SQLiteTrajectoryStore(db) as store:
        assert store.get(10).verdict.kind == "failure"
        assert store.memory_credit([("trajectory", 1)])[("trajectory", 1)].successes == 0


def test_feedback_score_and_partial_and_json(tmp_path: Path) -> None:
    db = _db(tmp_path)
    r = run("feedback", "10", "--score", "0.5", "--source", "reviewer", "--json", db=db)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["verdict"], out["quality"], out["recalled"]) == ("Partial: 50% complete", 0.75, 2)
    assert json.loads(run("feedback", "10", "--partial", "1", "--json", db=db).stdout)["verdict"] == "Partial: 100% complete"
    assert json.loads(run("feedback", "10", "--success", "--json", db=db).stdout)["quality"] == 1.0


def test_feedback_refuses_bad_input_with_usage_errors(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert run("feedback", "10", db=db).returncode == 2  # no verdict given
    r = run("feedback", "10", "--success", "--cause", "x", db=db)
    assert (r.returncode, r.stderr.strip()) == (2, "trajectories: error: --cause goes with --verdict failure")
    assert run("feedback", "10", "--score", "1.5", db=db).returncode == 2
    assert run("feedback", "10", "--verdict", "partial", db=db).returncode == 2
    missing = run("feedback", "99", "--success", db=db)
    assert missing.returncode == 1
    assert "traj-99" in missing.stderr
    with SQLiteTrajectoryStore(db) as store:
        assert store.get(10).verdict.kind == "success"  # nothing changed


def test_lessons_lists_uses_success_and_sources(tmp_path: Path) -> None:
    db = _db(tmp_path)
    r = run("lessons", db=db)
    assert r.returncode == 0, r.stderr
    assert "base rate 67% (smoothed): 1 of 1 run that recalled memories succeeded" in r.stdout
    line = next(x for x in r.stdout.splitlines() if "the refund" in x)
    assert line.split()[:4] == ["1", "100%", "1.000", "traj-1,"]
    assert "\x1b" not in r.stdout
    assert "traj-1" in r.stdout.split("trajectories recalled most:")[1]
    data = json.loads(run("lessons", "--json", db=db).stdout)
    assert data["key_lessons"][0]["uses"] == 1
    assert data["key_lessons"][0]["content"] == HOSTILE
    assert data["key_lessons"][0]["sources"] == [1, 2]
    assert data["recalled_trajectories"] == [{"id": 1, "uses": 1, "successes": 1, "success_rate": 1.0, "mean_quality": 1.0}]
