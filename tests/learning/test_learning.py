"""Verdict analysis, distillation and recall, rule by rule (REASONINGBANK.md §4-6)."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest

from tests.helpers.store import T0, step, traj
from trajectories.learning import (
    CompressedTrajectory,
    DistillConfig,
    DistillError,
    FailurePattern,
    KeyLesson,
    MemoryDistiller,
    PatternCategory,
    VerdictAnalyzer,
    analyze,
    distill,
    lesson_id,
    lessons_for,
)
from trajectories.model import ReasoningErrorType, RootCause, StepOutcome, Verdict
from trajectories.store import SQLiteTrajectoryStore

FAIL = StepOutcome.failure
TOOL = RootCause.tool_failure("shell", "permission denied")


# ----------------------------------------------------------------------------- analysis


def test_rust_example_tool_failure() -> None:
    t = traj(1, [step(0, "analyze", confidence=0.9), step(1, "execute", FAIL("permission denied"), 0.6)], Verdict.failure(TOOL))
    a = analyze(t)
    assert a.root_cause == TOOL
    assert a.contributing_factors == ("1 steps failed",)
    assert [p.id for p in a.failure_patterns] == ["tool_error"]
    assert [s.name for s in a.recovery_strategies] == ["Alternative Approach"]
    assert a.lessons == ("Avoid: execute - permission denied",)
    assert a.pattern_category is PatternCategory.ErrorRecovery
    # 0.5 + 0.1 (1 factor) + 0.1 (1 pattern) + 0.1 (1 lesson) + 0.1 (strategy)
    assert a.confidence == pytest.approx(0.9)
    assert a.improvements == ("Consider implementing retry logic for recoverable errors",)


def test_factors_in_order() -> None:
    steps = [
        step(0, "a", FAIL("x"), 0.4),
        step(1, "b", StepOutcome.needs_retry("rate limited", ["wait"]), 0.3),
        step(2, "c", FAIL("y")),
        step(3, "d", StepOutcome.needs_retry("timeout")),
    ]
    t = traj(1, steps, Verdict.partial(0.2), latency_ms=30_001)
    assert analyze(t).contributing_factors == (
        "2 steps failed",
        "2 steps had low confidence",
        "Step 'b' needed retry: rate limited",
        "Step 'd' needed retry: timeout",
        "Long execution time",
    )
    assert analyze(traj(2, [step(0, "a", confidence=0.5)], latency_ms=30_000)).contributing_factors == ()


def test_failure_patterns_match_substrings_of_failed_actions_once_each() -> None:
    steps = [
        step(0, "web_search", FAIL("none")),
        step(1, "query_db", FAIL("none")),
        step(2, "run_tests", FAIL("red")),
        step(3, "reasoning", StepOutcome.success()),  # not failed: no match
    ]
    a = analyze(traj(1, steps, Verdict.failure(RootCause.unknown("?"))))
    assert [p.id for p in a.failure_patterns] == ["context_gap", "tool_error"]
    assert a.failure_patterns[0].cause_type == "InsufficientContext"
    assert analyze(traj(2, [step(0, "analyze", FAIL("x"))], Verdict.partial(0))).failure_patterns[0].id == "reasoning_flaw"


@pytest.mark.parametrize(
    ("cause", "names"),
    [
        (RootCause.insufficient_context(["a"]), ["Clarification Loop"]),
        (RootCause.invalid_input("d"), ["Clarification Loop"]),
        (RootCause.reasoning_error(ReasoningErrorType.Hallucination, "d"), ["Decomposition", "Self-Verification"]),
        (RootCause.capability_limit("l"), ["Decomposition"]),
        (RootCause.tool_failure("t", "e"), ["Alternative Approach"]),
        (RootCause.external_failure("s", "e"), ["Alternative Approach"]),
        (RootCause.resource_constraint("time", "1s"), []),
        (RootCause.unknown("d"), []),
    ],
)
def test_recovery_strategies_by_root_cause(cause: RootCause, names: list[str]) -> None:
    a = analyze(traj(1, [], Verdict.failure(cause)))
    assert [s.name for s in a.recovery_strategies] == names
    rec = analyze(traj(2, [], Verdict.recovered(cause, 2, 0.9)))
    assert rec.root_cause == cause
    assert [s.name for s in rec.recovery_strategies] == names


def test_strategy_numbers() -> None:
    s = {x.name: x for x in analyze(traj(1, [], Verdict.failure(RootCause.reasoning_error("Other", "d")))).recovery_strategies}
    assert (s["Decomposition"].success_rate, s["Decomposition"].effort_score) == (0.70, 5)
    assert (s["Self-Verification"].success_rate, s["Self-Verification"].effort_score) == (0.80, 2)


def test_no_root_cause_for_success_and_partial() -> None:
    assert analyze(traj(1)).root_cause is None
    assert analyze(traj(1, [], Verdict.partial(0.5))).recovery_strategies == ()


def test_lessons_success_recovered_and_failure() -> None:
    ok = traj(1, [step(i, f"s{i}") for i in range(5)] + [step(5, "bad", FAIL("e"))], lessons=["own"])
    assert analyze(ok).lessons == ("own", "Successful pattern: s0 -> s1 -> s2")
    rec = traj(2, [step(0, "a"), step(1, "b", FAIL("e"))], Verdict.recovered(TOOL, 3, 0.5))
    # any recovery counts as success for the trajectory (Trajectory.is_success)
    assert analyze(rec).lessons == ("Successful pattern: a", "Recovery possible with 3 reflection attempts")
    part = traj(3, [step(0, "a"), step(1, "b", FAIL("boom")), step(2, "c", FAIL("bang"))], Verdict.partial(0.3))
    assert analyze(part).lessons == ("Avoid: b - boom", "Avoid: c - bang")
    assert analyze(traj(4)).lessons == ()  # success with no steps: nothing to learn


@pytest.mark.parametrize(
    ("actions", "verdict", "category"),
    [
        (["write_code"], Verdict.recovered(TOOL, 1, 1), PatternCategory.Reflection),
        (["write_code"], Verdict.failure(TOOL), PatternCategory.ErrorRecovery),
        (["search", "implement"], Verdict.success(), PatternCategory.CodeGeneration),
        (["research", "execute"], Verdict.partial(0.5), PatternCategory.Research),
        (["use_tool"], Verdict.success(), PatternCategory.ToolUse),
        (["execute"], Verdict.success(), PatternCategory.ToolUse),
        (["answer"], Verdict.success(), PatternCategory.General),
    ],
)
def test_category(actions: list[str], verdict: Verdict, category: PatternCategory) -> None:
    assert analyze(traj(1, [step(i, a) for i, a in enumerate(actions)], verdict)).pattern_category is category


def test_confidence_caps() -> None:
    steps = [step(i, f"search{i}", FAIL("e"), 0.1) for i in range(4)] + [step(4, "run", FAIL("x"), 0.1)]
    a = analyze(traj(1, steps, Verdict.failure(RootCause.insufficient_context(["x"])), latency_ms=40_000, lessons=["l"]))
    # factors 3 -> 2, patterns 2, lessons 6 -> 3, strategies: 0.5+0.2+0.2+0.3+0.1 = 1.3 -> 1.0
    assert a.confidence == 1.0
    assert analyze(traj(2)).confidence == 0.5


def test_improvements() -> None:
    steps = [
        step(0, "a", confidence=0.59),
        step(1, "b", confidence=0.1),
        step(2, "c", confidence=0.2),
        step(3, "d", confidence=0.3),
    ]
    a = analyze(traj(1, steps, Verdict.failure(TOOL)))
    assert a.improvements == (
        "Improve confidence in 4 steps: a, b, c",
        "Consider adding verification steps",
        "Consider implementing retry logic for recoverable errors",
    )
    checked = [step(0, "a"), step(1, "check_result"), step(2, "c", StepOutcome.needs_retry("r"))]
    assert analyze(traj(2, checked, Verdict.failure(TOOL))).improvements == ()
    assert analyze(traj(3, [step(0, "a"), step(1, "b")])).improvements == ()  # two steps: no verification advice


def test_analysis_to_dict_is_json() -> None:
    a = analyze(traj(1, [step(0, "execute", FAIL("e"))], Verdict.failure(TOOL)))
    d = json.loads(json.dumps(a.to_dict()))
    assert d["verdict"] == {"Failure": {"ToolFailure": {"tool": "shell", "error": "permission denied"}}}
    assert d["pattern_category"] == "ErrorRecovery"
    assert d["failure_patterns"][0]["id"] == "tool_error"


def test_analyzer_can_learn_patterns() -> None:
    az = VerdictAnalyzer()
    az.learn_pattern(FailurePattern("db", "ExternalFailure", 0, (), (), ("sql",)))
    assert [p.id for p in az.analyze(traj(1, [step(0, "sql_query", FAIL("e"))], Verdict.partial(0))).failure_patterns] == [
        "context_gap",
        "db",
    ]
    with pytest.raises(TypeError, match="trajectory"):
        analyze("x")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- distillation


def _cfg(**kw: object) -> DistillConfig:
    base: dict[str, object] = {"min_trajectories": 3, "min_age_seconds": 0}
    base.update(kw)
    return DistillConfig(**base)  # type: ignore[arg-type]


def test_distill_defaults_are_ruvllm() -> None:
    c = DistillConfig()
    assert (c.min_quality_threshold, c.max_lessons, c.min_trajectories) == (0.4, 100, 100)
    assert (c.deduplicate_lessons, c.dedup_similarity_threshold, c.min_age_seconds) == (True, 0.85, 86_400)


def test_compress_by_quality_and_keep_the_rest() -> None:
    ts = [
        traj(1, [step(i, f"a{i}") for i in range(7)] + [step(7, "bad", FAIL("e"))], lessons=["l1"], request_type="code review"),
        traj(2, [step(0, "a", FAIL("e"))], Verdict.failure(TOOL)),  # quality 0
        traj(3, [step(0, "a")], Verdict.partial(0.0), tools=["calc"]),  # quality 0.5
    ]
    r = MemoryDistiller(_cfg(deduplicate_lessons=False)).distill(ts, now=T0)
    assert [c.original_id for c in r.compressed] == [1, 3]
    assert r.kept_ids == (2,)
    c = r.compressed[0]
    assert c.action_summary == ("a0", "a1", "a2", "a3", "a4")
    assert c.original_step_count == 8
    assert c.preserved_lessons == ("l1",)
    assert c.category is PatternCategory.CodeGeneration
    assert c.original_timestamp == ts[0].started_at
    assert r.compressed[1].category is PatternCategory.ToolUse
    assert r.category_summary == {"code_generation": 1, "error_recovery": 1, "tool_use": 1}
    back = c.to_trajectory()
    assert int(back.id) == 1
    assert back.steps == ()
    assert back.quality == ts[0].quality
    assert back.started_at == ts[0].started_at
    again = CompressedTrajectory.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again.original_id == 1
    assert again.verdict == c.verdict
    assert again.category is c.category


def test_lessons_gathered_merged_and_ranked() -> None:
    rec_cause = RootCause.unknown("u")
    ts = [
        traj(1, [step(0, "a"), step(1, "b")], lessons=["shared"], embedding=(1, 0)),
        traj(2, [step(0, "a"), step(1, "b")], lessons=["shared"], embedding=(0, 1)),
        traj(3, [step(0, "x", FAIL("e"))], Verdict.failure(TOOL), lessons=["shared"]),
        traj(4, [step(0, "r")], Verdict.recovered(rec_cause, 2, 0.7)),
    ]
    r = MemoryDistiller(_cfg(deduplicate_lessons=False)).distill(ts, now=T0)
    by = {k.content: k for k in r.key_lessons}
    assert set(by) == {
        "shared",
        "Successful pattern: a -> b",
        "Avoid: Tool 'shell' failed: permission denied",
        "Recovery possible after 2 attempts via reflection",
        "Successful pattern: r",
    }
    shared = by["shared"]
    assert shared.observation_count == 3
    assert shared.source_trajectory_ids == (1, 2, 3)
    assert shared.success_rate == pytest.approx(2 / 3)
    assert shared.importance == pytest.approx(0.5)
    assert by["Avoid: Tool 'shell' failed: permission denied"].importance == 0.8
    assert by["Recovery possible after 2 attempts via reflection"].importance == 0.9
    scores = [k.importance * math.log1p(k.observation_count) for k in r.key_lessons]
    assert scores == sorted(scores, reverse=True)
    # 0.5·ln4 = 0.69 > 0.9·ln2 = 0.62 > 0.8·ln2 = 0.55 > 0.5·ln3 = 0.549 > 0.5·ln2
    assert [k.content for k in r.key_lessons[:4]] == [
        "shared",
        "Recovery possible after 2 attempts via reflection",
        "Avoid: Tool 'shell' failed: permission denied",
        "Successful pattern: a -> b",
    ]
    again = KeyLesson.from_dict(json.loads(json.dumps(shared.to_dict())))
    assert again.content == "shared"
    assert again.observation_count == 3


def test_deduplication_by_words_and_embedding() -> None:
    ts = [
        traj(1, [], lessons=["Check the cache first"], embedding=(1, 0)),
        traj(2, [], lessons=["check the cache first!"], embedding=(1, 0)),  # 3/5 words, same embedding: 0.76
        traj(3, [], lessons=["check the cache FIRST"], embedding=(1, 0)),  # same words: 1.0 -> duplicate
        traj(4, [], lessons=["check the cache first"], embedding=(0, 1)),  # 0.6 + 0 -> not duplicate
    ]
    r = MemoryDistiller(_cfg()).distill(ts, now=T0)
    contents = [k.content for k in r.key_lessons]
    assert "check the cache FIRST" not in contents
    assert "check the cache first!" in contents
    merged = next(k for k in r.key_lessons if k.content == "Check the cache first")
    assert merged.observation_count == 2
    assert set(merged.source_trajectory_ids) == {1, 3}
    assert merged.merged_from == (lesson_id("check the cache FIRST"),)  # its recall credit moves here (store.save_distillation)
    assert KeyLesson.from_dict(merged.to_dict()).merged_from == merged.merged_from
    assert "merged_from" not in next(k for k in r.key_lessons if k.content == "check the cache first!").to_dict()
    assert len(MemoryDistiller(_cfg(deduplicate_lessons=False)).distill(ts, now=T0).key_lessons) == 4
    assert len(MemoryDistiller(_cfg(max_lessons=1)).distill(ts, now=T0).key_lessons) == 1


def test_too_few_trajectories_is_an_error() -> None:
    with pytest.raises(DistillError, match="need at least 3 trajectories"):
        MemoryDistiller(_cfg()).distill([traj(1)])
    with pytest.raises(TypeError):
        MemoryDistiller("x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_age_seconds"):
        DistillConfig(min_age_seconds=-1)


def test_distill_store_keeps_everything_unless_pruned(tmp_path: Path) -> None:
    now = T0 + timedelta(days=10)
    with SQLiteTrajectoryStore(tmp_path / "t.db") as s:
        old = [traj(i, [step(0, "a")], lessons=[f"l{i % 2}"]) for i in range(1, 5)]
        low = traj(5, [step(0, "a", FAIL("e"))], Verdict.failure(TOOL))
        young = traj(6, started=now - timedelta(hours=1))
        s.add_many([*old, low, young])
        with pytest.raises(DistillError, match="older than"):
            distill(s, DistillConfig(min_trajectories=6), now=now)
        assert s.count() == 6
        assert s.compressed() == []
        assert s.key_lessons() == []

        progress: list[tuple[int, int]] = []
        r = distill(s, DistillConfig(min_trajectories=5), now=now, progress=lambda d, t: progress.append((d, t)))
        assert r.trajectories_processed == 5
        assert progress[-1] == (5, 5)
        assert sorted(c.original_id for c in s.compressed()) == [1, 2, 3, 4]
        assert s.count() == 6  # nothing deleted
        assert {k.content for k in s.key_lessons()} >= {"l0", "l1"}
        assert s.stats().compressed == 4

        r2 = distill(s, DistillConfig(min_trajectories=5), now=now, prune=True)
        assert sorted(r2.pruned_ids) == [1, 2, 3, 4]
        assert sorted(int(t.id) for t in s.list()) == [5, 6]  # low quality and young ones stay
        assert sorted(c.original_id for c in s.compressed()) == [1, 2, 3, 4]
        assert [h.id for h in s.similar([1, 0, 0], k=10)] == [5, 6]
        with pytest.raises(TypeError, match="store"):
            distill("nope")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- recall


def test_lessons_for_returns_similar_trajectories_and_their_lessons(tmp_path: Path) -> None:
    from trajectories._internal.embedding import HashingEmbedder

    emb = HashingEmbedder()
    with SQLiteTrajectoryStore(tmp_path / "t.db") as s:
        s.add_many(
            [
                traj(
                    1,
                    [step(0, "lookup_user"), step(1, "send_reset")],
                    embedding=emb("reset my password"),
                    lessons=["Verify email"],
                ),
                traj(
                    2,
                    [step(0, "send_reset", FAIL("smtp down"))],
                    Verdict.failure(RootCause.external_failure("smtp", "down")),
                    embedding=emb("password reset link never arrived"),
                ),
                traj(3, [step(0, "refund")], embedding=emb("refund a damaged parcel")),
            ]
        )
        recall = lessons_for("how do I reset my password", k=2, store=s)
        assert [int(e.trajectory.id) for e in recall.experiences] == [1, 2]
        assert recall.experiences[0].lessons == ("Verify email", "Successful pattern: lookup_user -> send_reset")
        assert recall.lessons == (
            "Verify email",
            "Successful pattern: lookup_user -> send_reset",
            "Avoid: send_reset - smtp down",
        )
        assert bool(recall)
        only_good = lessons_for("how do I reset my password", k=2, store=s, min_quality=0.5)
        assert [int(e.trajectory.id) for e in only_good.experiences] == [1, 3]


def test_lessons_for_opens_the_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAJECTORIES_DB", str(tmp_path / "d.db"))
    with SQLiteTrajectoryStore() as s:
        s.add(traj(1, [step(0, "a")], embedding=(1, 0)))
    assert [int(e.trajectory.id) for e in lessons_for([1, 0]).experiences] == [1]
    with pytest.raises(TypeError, match="store"):
        lessons_for("x", store="nope")  # type: ignore[arg-type]


def test_lessons_for_finds_key_lessons_after_pruning(tmp_path: Path) -> None:
    with SQLiteTrajectoryStore(tmp_path / "t.db") as s:
        s.add_many([traj(i, [step(0, "a")], lessons=["Ask for the order number"], embedding=(1, 0)) for i in range(1, 4)])
        s.add(traj(4, [step(0, "b")], lessons=["Unrelated"], embedding=(0, 1)))
        distill(s, DistillConfig(min_trajectories=4, min_age_seconds=0), prune=True, now=T0 + timedelta(days=1))
        assert s.count() == 0
        recall = lessons_for([1, 0.1], k=1, store=s)
        assert recall.experiences == ()
        assert [kl.content for kl in recall.key_lessons] == ["Ask for the order number"]
        assert recall
