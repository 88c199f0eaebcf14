"""TrajectoryStore.overview (SQL aggregates) on every backend, checked against the same figures
computed from the trajectories in Python, and PostgreSQL's checked against SQLite's on the same
data, field for field; and create=False, which never makes a database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.store import T0, step, traj
from tests.helpers.ui import ui_trajectories
from trajectories.model import (
    FailureOutcome,
    FailureVerdict,
    RecoveredVerdict,
    RootCause,
    StepMetadata,
    StepOutcome,
    Trajectory,
    TrajectoryId,
    Verdict,
)
from trajectories.store import (
    SQLiteTrajectoryStore,
    StoreError,
    StoreOverview,
    TrajectoryFilter,
    TrajectoryStore,
    open_store,
)


@pytest.fixture
def filled(store: TrajectoryStore) -> TrajectoryStore:
    """The conformance fixture's store (SQLite, and PostgreSQL under ``make postgres``), filled."""
    store.add_many(ui_trajectories())
    return store


def test_overview_matches_python_over_the_same_trajectories(filled: TrajectoryStore) -> None:
    ts = ui_trajectories()
    ov = filled.overview(top=100)
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


def test_overview_filter_top_and_empty(store: TrajectoryStore) -> None:
    empty = store.overview()
    assert empty.total == 0
    assert empty.timeline == []
    assert empty.first_started is None
    assert empty.to_dict()["by_verdict"]["success"] == 0
    store.add_many(ui_trajectories())
    ov = store.overview(TrajectoryFilter(verdict="failure"), buckets=3, top=1)
    assert ov.total == 2
    assert ov.by_verdict["failure"] == 2
    assert ov.by_verdict["success"] == 0
    assert len(ov.slowest_actions) == 1
    assert len(ov.timeline) <= 3
    with pytest.raises(ValueError, match="buckets"):
        store.overview(buckets=-1)
    with pytest.raises(TypeError, match="top"):
        store.overview(top="3")  # type: ignore[arg-type]


def test_overview_follows_writes(filled: TrajectoryStore, opener: Callable[[], TrajectoryStore]) -> None:
    store = filled
    first = store.overview()
    assert store.overview() == first  # unchanged store: the same figures
    extra = ui_trajectories()[0]
    store.add(replace(extra, id=TrajectoryId(424242)))
    after = store.overview()
    assert after.total == first.total + 1
    opener().delete([424242])  # a write through another connection counts too
    assert store.overview() == first


FAIL_UNKNOWN = Verdict.failure(RootCause.unknown("x"))


def _with_model(s: Any, model: str, tokens: tuple[int, int]) -> Any:
    meta = s.metadata or StepMetadata()
    return replace(s, metadata=replace(meta, model=model, input_tokens=tokens[0], output_tokens=tokens[1]))


def awkward_trajectories() -> list[Trajectory]:
    """Names SQL could get wrong (NUL, quotes and backslashes, non-ASCII, case and ties in every
    ordering), a huge latency, and every root-cause variant, recovered ones too."""
    names = ["a\x00b", 'q"uo\\te', "é-accent", "Zeta", "alpha", "Alpha", "tie-1", "tie-2", "\u2603 snow"]
    causes = [
        RootCause.tool_failure("t\x00ool", "boom"),
        RootCause.unknown("?"),
        RootCause.invalid_input("bad"),
        RootCause.capability_limit("no"),
        RootCause.external_failure("svc", "down"),
        RootCause.resource_constraint("mem", "1G"),
        RootCause.insufficient_context(["a"]),
    ]
    out: list[Trajectory] = []
    for i in range(40):
        a, b = names[i % len(names)], names[(i * 5 + 2) % len(names)]
        steps = [
            _with_model(step(0, a, tool=b, latency_ms=10 + (i % 3)), names[i % 4], (i % 5, 7 - i % 7)),
            step(1, b, StepOutcome.failure("e\x00rr") if i % 3 == 0 else None, 0.5, tool=a, latency_ms=(i % 4) * 10),
            step(2, "tie-1" if i % 2 else "tie-2", latency_ms=1 << 40 if i == 7 else 20),
        ]
        cause = causes[i % len(causes)]
        verdict = [Verdict.success(), Verdict.failure(cause), Verdict.partial(0.25 + i / 100), Verdict.recovered(cause, 1, 0.7)][
            i % 4
        ]
        out.append(traj(5000 + i, steps, verdict, name=names[i % 3], started=T0 + timedelta(minutes=7 * i + i * i)))
    return out


def _exact(ov: StoreOverview) -> StoreOverview:
    """*ov* without the buckets' average quality: a floating-point sum whose last bits depend on
    the order the rows are added in (SQLite's and PostgreSQL's differ); compared to 1e-12 instead."""
    return replace(ov, timeline=[replace(b, avg_quality=0.0) for b in ov.timeline])


@pytest.mark.postgres
def test_postgres_overview_equals_sqlite_field_for_field(pg_url: str, tmp_path: Path) -> None:
    data = ui_trajectories() + awkward_trajectories()
    with SQLiteTrajectoryStore(tmp_path / "same.db") as lite, open_store(pg_url) as pg:
        lite.add_many(data)
        pg.add_many(data)
        filters = [
            None,
            TrajectoryFilter(verdict="failure"),
            TrajectoryFilter(verdict="recovered_via_reflection"),
            TrajectoryFilter(name="alpha"),
            TrajectoryFilter(min_quality=0.3, since=T0 + timedelta(hours=1)),
            TrajectoryFilter(until=T0 - timedelta(days=3650)),  # matches nothing
        ]
        checked = 0
        for f in filters:
            for buckets, top in ((24, 10), (1, 3), (7, 100), (1000, 0), (0, 1)):
                got, expected = pg.overview(f, buckets=buckets, top=top), lite.overview(f, buckets=buckets, top=top)
                assert _exact(got) == _exact(expected), (f, buckets, top)
                assert [b.avg_quality for b in got.timeline] == pytest.approx(
                    [b.avg_quality for b in expected.timeline], rel=1e-12, abs=0
                )
                checked += 1
        full = pg.overview(top=100)
        assert _exact(full).to_dict() == _exact(lite.overview(top=100)).to_dict()
        assert "a\x00b" in {g.name for g in full.slowest_actions}  # NUL survives, as in SQLite
        assert {k for k, _ in full.root_causes} >= {"tool_failure", "unknown", "insufficient_context"}
        assert max(g.max_latency_ms for g in full.slowest_actions) == 1 << 40
        print(f"[overview] PostgreSQL == SQLite over {len(data)} trajectories, {checked} filter/bucket/top combinations")


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


def test_step_names_come_back_whole(store: TrajectoryStore) -> None:
    """A NUL, quotes, backslashes and non-ASCII in a name (SQLite's json_extract cut "a\\x00b" to "a",
    PostgreSQL's JSON functions refuse a \\u0000): grouped and shown as they are, on every backend."""
    names = ["a\x00b", "a", 'q"u\\o', "\\u0000", "☃"]
    store.add_many(
        traj(7000 + i, [_with_model(step(0, n, StepOutcome.failure("x\x00"), tool=n), n, (i, 1))], FAIL_UNKNOWN)
        for i, n in enumerate(names)
    )
    ov = store.overview(top=100)
    assert sorted(g.name for g in ov.slowest_actions) == sorted(names)
    assert {g.name: g.failures for g in ov.failing_tools} == dict.fromkeys(names, 1)
    assert {m.model: m.input_tokens for m in ov.models} == {n: i for i, n in enumerate(names)}
    assert ov.root_causes == [("unknown", len(names))]
