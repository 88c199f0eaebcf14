"""TrajectoryStore.overview (SQL aggregates) checked against the same figures computed from the
trajectories in Python; and create=False, which never makes a database."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers.ui import ui_trajectories
from trajectories.model import FailureOutcome, FailureVerdict, RecoveredVerdict, TrajectoryId
from trajectories.store import SQLiteTrajectoryStore, StoreError, TrajectoryFilter, open_store


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTrajectoryStore:
    s = SQLiteTrajectoryStore(tmp_path / "o.db")
    s.add_many(ui_trajectories())
    return s


def test_overview_matches_python_over_the_same_trajectories(store: SQLiteTrajectoryStore) -> None:
    ts = ui_trajectories()
    ov = store.overview(top=100)
    assert ov.total == len(ts)
    assert ov.by_verdict == {k: sum(t.verdict.kind == k for t in ts) for k in ov.by_verdict}
    assert ov.first_started == min(t.started_at for t in ts)
    assert ov.last_started == max(t.started_at for t in ts)
    causes: Counter[str] = Counter()
    for t in ts:
        if isinstance(t.verdict, FailureVerdict):
            causes[t.verdict.cause.kind] += 1
        elif isinstance(t.verdict, RecoveredVerdict):
            causes[t.verdict.original_failure.kind] += 1
    assert dict(ov.root_causes) == dict(causes)
    steps = [s for t in ts for s in t.steps]
    failing = Counter(s.action for s in steps if isinstance(s.outcome, FailureOutcome))
    assert {g.name: g.failures for g in ov.failing_actions} == dict(failing)
    by_action: dict[str, list[int]] = {}
    for s in steps:
        by_action.setdefault(s.action, []).append(s.latency_ms)
    assert {g.name: (g.steps, g.avg_latency_ms, g.max_latency_ms) for g in ov.slowest_actions} == {
        a: (len(v), sum(v) / len(v), max(v)) for a, v in by_action.items()
    }
    averages = [g.avg_latency_ms for g in ov.slowest_actions]
    assert averages == sorted(averages, reverse=True)
    tools = Counter(s.metadata.tool_used for s in steps if s.metadata and s.metadata.tool_used)
    assert {g.name: g.steps for g in ov.slowest_tools} == dict(tools)
    models: dict[str, list[int]] = {}
    for s in steps:
        if s.metadata and s.metadata.model:
            m = models.setdefault(s.metadata.model, [0, 0, 0])
            m[0] += 1
            m[1] += s.metadata.input_tokens or 0
            m[2] += s.metadata.output_tokens or 0
    assert {m.model: [m.steps, m.input_tokens, m.output_tokens] for m in ov.models} == models
    assert sum(b.count for b in ov.timeline) == len(ts)
    assert sum(b.successes for b in ov.timeline) == sum(t.verdict.kind == "success" for t in ts)
    assert len(ov.timeline) <= 24
    for b in ov.timeline:
        inside = [t for t in ts if b.start <= t.started_at < b.end]
        assert len(inside) == b.count
        assert b.avg_quality == pytest.approx(sum(t.quality for t in inside) / len(inside))


def test_overview_filter_top_and_empty(store: SQLiteTrajectoryStore, tmp_path: Path) -> None:
    ov = store.overview(TrajectoryFilter(verdict="failure"), buckets=3, top=1)
    assert ov.total == 2
    assert ov.by_verdict["failure"] == 2
    assert ov.by_verdict["success"] == 0
    assert len(ov.slowest_actions) == 1
    assert len(ov.timeline) <= 3
    empty = SQLiteTrajectoryStore(tmp_path / "empty.db").overview()
    assert empty.total == 0
    assert empty.timeline == []
    assert empty.first_started is None
    assert empty.to_dict()["by_verdict"]["success"] == 0
    with pytest.raises(ValueError, match="buckets"):
        store.overview(buckets=-1)
    with pytest.raises(TypeError, match="top"):
        store.overview(top="3")  # type: ignore[arg-type]


def test_overview_follows_writes(store: SQLiteTrajectoryStore, tmp_path: Path) -> None:
    first = store.overview()
    assert store.overview() == first  # unchanged store: the same figures
    extra = ui_trajectories()[0]
    store.add(replace(extra, id=TrajectoryId(424242)))
    after = store.overview()
    assert after.total == first.total + 1
    other = SQLiteTrajectoryStore(store.path)  # a write through another connection counts too
    other.delete([424242])
    other.close()
    assert store.overview().total == first.total


def test_create_false_opens_only_an_existing_database(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(StoreError, match="no trajectory database"):
        SQLiteTrajectoryStore(missing, create=False)
    with pytest.raises(StoreError):
        open_store(missing, create=False)
    assert not missing.exists()
    SQLiteTrajectoryStore(missing).close()
    with open_store(missing, create=False) as s:
        assert s.count() == 0
    with pytest.raises(TypeError, match="create"):
        SQLiteTrajectoryStore(missing, create="no")  # type: ignore[arg-type]
