"""The learning loop's bookkeeping, on both backends: recalled memories are credited by the
outcome exactly once, feedback moves the credit by the difference, distillation keeps it."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.store import T0, step, traj
from trajectories._internal.model.recall import RECALLED_ATTRIBUTE, VERDICT_HISTORY_ATTRIBUTE, encode_recalled, recalled_of
from trajectories.learning import KeyLesson, PatternCategory, RecalledMemory, lesson_id
from trajectories.model import RootCause, Trajectory, Verdict
from trajectories.store import BASE_KEY, MemoryCredit, TrajectoryNotFoundError, TrajectoryStore

FAIL = Verdict.failure(RootCause.unknown("wrong tool"))
_EXAMPLES = itertools.count(1)
LESSON = "Prefer the refund tool"


def recalling(id: int, memories: list[RecalledMemory], verdict: Verdict | None = None, *, quality_steps: int = 1) -> Trajectory:
    t = traj(id, [step(i, f"a{i}") for i in range(quality_steps)], verdict)
    attrs = {**t.metadata.attributes, RECALLED_ATTRIBUTE: encode_recalled(memories)}
    return dataclasses.replace(t, metadata=dataclasses.replace(t.metadata, attributes=attrs))


def mem(id: int, similarity: float = 0.9) -> RecalledMemory:
    return RecalledMemory("trajectory", id, similarity)


def lesson_mem(text: str = LESSON) -> RecalledMemory:
    return RecalledMemory("lesson", lesson_id(text), 0.8, text)


def approx_credit(uses: int, successes: int, quality: float) -> Any:
    """A MemoryCredit whose summed quality compares approximately."""
    approx: Any = pytest.approx(quality)
    return MemoryCredit(uses, successes, approx)


def credit(store: TrajectoryStore, key: tuple[str, int]) -> MemoryCredit:
    return store.memory_credit([key]).get(key, MemoryCredit())


def test_a_stored_run_credits_what_it_recalled_once(store: TrajectoryStore) -> None:
    store.add_many([traj(1), traj(2)])
    run = recalling(10, [mem(1), mem(2, 0.4), lesson_mem()])
    store.add(run)
    for key in (("trajectory", 1), ("trajectory", 2), ("lesson", lesson_id(LESSON))):
        assert credit(store, key) == approx_credit(1, 1, run.quality)
    assert store.base_credit() == approx_credit(1, 1, run.quality)
    # a re-import, a replay, a retried delivery: nothing more
    store.add(run)
    store.add_many([run, run])
    assert credit(store, ("trajectory", 1)).uses == 1
    assert store.base_credit().uses == 1
    # a run that recalled nothing credits nothing
    store.add(traj(11))
    assert store.base_credit().uses == 1
    assert credit(store, ("trajectory", 11)) == MemoryCredit()


def test_a_failed_run_adds_a_use_but_no_success(store: TrajectoryStore) -> None:
    store.add(recalling(20, [mem(1)], FAIL))
    store.add(recalling(21, [mem(1)]))
    c = credit(store, ("trajectory", 1))
    assert (c.uses, c.successes) == (2, 1)
    assert c.success_rate == 0.5


def test_rewriting_a_run_with_another_verdict_moves_its_credit(store: TrajectoryStore) -> None:
    store.add(recalling(30, [mem(1)]))
    store.add(recalling(30, [mem(1)], FAIL))  # the newest delivery wins, and so does its credit
    c = credit(store, ("trajectory", 1))
    assert (c.uses, c.successes) == (1, 0)
    assert c.quality_sum == pytest.approx(store.get(30).quality)
    store.add(recalling(30, [mem(2)], FAIL))  # now it recalled something else
    assert credit(store, ("trajectory", 1)).uses == 0
    assert credit(store, ("trajectory", 2)).uses == 1
    store.add(traj(30))  # and now nothing
    assert credit(store, ("trajectory", 2)).uses == 0
    assert store.base_credit().uses == 0


def test_feedback_updates_verdict_quality_history_and_moves_credit(store: TrajectoryStore) -> None:
    run = recalling(40, [mem(1), lesson_mem()], quality_steps=2)
    store.add(run)
    at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    updated = store.feedback(40, FAIL, source="user:alice", at=at)
    assert updated.verdict == FAIL
    assert updated.quality == pytest.approx(run.quality * 0.3)  # ruvllm: mean step quality x 0.3
    assert store.get(40) == updated
    history = json.loads(updated.metadata.attributes[VERDICT_HISTORY_ATTRIBUTE])
    assert history == [
        {"verdict": "Success", "quality": run.quality, "replaced_at": "2026-03-01T00:00:00Z", "source": "user:alice"}
    ]
    for key in (("trajectory", 1), ("lesson", lesson_id(LESSON))):
        c = credit(store, key)
        assert (c.uses, c.successes) == (1, 0)
        assert c.quality_sum == pytest.approx(updated.quality)
    # the same verdict again: the history grows, the credit does not move
    again = store.feedback(40, FAIL, at=at)
    assert len(json.loads(again.metadata.attributes[VERDICT_HISTORY_ATTRIBUTE])) == 2
    assert credit(store, ("trajectory", 1)) == approx_credit(1, 0, updated.quality)
    # back to success, via a partial
    store.feedback(40, Verdict.partial(0.5))
    final = store.feedback(40, Verdict.success())
    assert final.quality == pytest.approx(run.quality)
    assert credit(store, ("trajectory", 1)) == approx_credit(1, 1, run.quality)
    assert store.base_credit() == approx_credit(1, 1, run.quality)


def test_feedback_on_a_run_without_recall_changes_only_the_run(store: TrajectoryStore) -> None:
    store.add(traj(50, [step(0, "x")]))
    assert store.feedback(50, FAIL).verdict == FAIL
    assert store.memory_credits() == []


def test_feedback_refuses_bad_input_at_the_call(store: TrajectoryStore) -> None:
    with pytest.raises(TrajectoryNotFoundError, match="traj-99"):
        store.feedback(99, FAIL)
    store.add(traj(1))
    with pytest.raises(TypeError, match="verdict"):
        store.feedback(1, "failure")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source"):
        store.feedback(1, FAIL, source=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="id"):
        store.feedback("1", FAIL)  # type: ignore[arg-type]
    assert store.get(1).verdict == Verdict.success()  # nothing changed


def test_memory_credits_lists_most_used_first_and_by_kind(store: TrajectoryStore) -> None:
    store.add_many([recalling(60 + i, [mem(1), *([mem(2)] if i < 2 else []), lesson_mem()]) for i in range(3)])
    listed = store.memory_credits()
    assert [k for k, _ in listed][:2] in (
        [("lesson", lesson_id(LESSON)), ("trajectory", 1)],
        [("trajectory", 1), ("lesson", lesson_id(LESSON))],
    )
    assert listed[-1] == (("trajectory", 2), approx_credit(2, 2, 2 * store.get(60).quality))
    assert [k for k, _ in store.memory_credits("lesson")] == [("lesson", lesson_id(LESSON))]
    assert len(store.memory_credits(limit=1)) == 1
    assert BASE_KEY not in dict(store.memory_credits(limit=None))
    with pytest.raises(ValueError, match="kind"):
        store.memory_credits("pattern")


def test_u64_trajectory_ids_are_credited(store: TrajectoryStore) -> None:
    big = (1 << 64) - 1
    store.add(traj(big))
    store.add(recalling((1 << 63) + 5, [mem(big)]))
    assert credit(store, ("trajectory", big)).uses == 1
    assert store.memory_credits("trajectory")[0][0] == ("trajectory", big)


def _lesson(content: str, merged_from: tuple[int, ...] = ()) -> KeyLesson:
    return KeyLesson(
        content=content, embedding=np.array([1.0, 0.0, 0.0], dtype=np.float32), source_trajectory_ids=(1,), observation_count=1,
        category=PatternCategory.General, importance=0.5, success_rate=1.0, avg_quality=1.0, example_actions=(),
        tags=(), created_at=T0, last_observed=T0, merged_from=merged_from,
    )  # fmt: skip


def test_distillation_merging_lessons_keeps_their_credit(store: TrajectoryStore) -> None:
    a, b = "Check the order id first", "Check the order id first, then refund"
    store.add(recalling(70, [lesson_mem(a)]))
    store.add(recalling(71, [lesson_mem(a), lesson_mem(b)], FAIL))
    store.add(recalling(72, [lesson_mem(b)]))
    store.save_distillation([], [_lesson(b, merged_from=(lesson_id(a),))])
    assert credit(store, ("lesson", lesson_id(a))) == MemoryCredit()
    merged = credit(store, ("lesson", lesson_id(b)))
    assert (merged.uses, merged.successes) == (3, 2)  # run 71 named both: it counts once
    assert [lesson.merged_from for lesson in store.key_lessons()] == [(lesson_id(a),)]
    # the runs that recalled the merged-away lesson now credit its absorber: feedback moves it there
    store.feedback(70, FAIL)
    merged = credit(store, ("lesson", lesson_id(b)))
    assert (merged.uses, merged.successes) == (3, 1)
    assert credit(store, ("lesson", lesson_id(a))) == MemoryCredit()
    # a second distillation with the same merge moves nothing again
    store.save_distillation([], [_lesson(b, merged_from=(lesson_id(a),))])
    assert credit(store, ("lesson", lesson_id(b))) == merged


def test_credit_survives_pruning_the_recalled_trajectory(store: TrajectoryStore) -> None:
    store.add(traj(1))
    run = recalling(80, [mem(1)])
    store.add(run)
    store.delete([1, 80])
    assert credit(store, ("trajectory", 1)).uses == 1  # the run happened
    store.add(run)  # re-imported after the prune: still once
    assert credit(store, ("trajectory", 1)).uses == 1


@given(
    ops=st.lists(
        st.tuples(st.integers(0, 5), st.sets(st.integers(0, 3), max_size=3), st.sampled_from(["s", "f", "p"])), max_size=25
    )
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_totals_are_always_the_sum_of_the_stored_contributions(
    opener: Callable[[], TrajectoryStore], ops: list[tuple[int, set[int], str]]
) -> None:
    store = opener()
    verdicts = {"s": Verdict.success(), "f": FAIL, "p": Verdict.partial(0.5)}
    offset = 1000 * next(_EXAMPLES)  # every example its own ids: the database is shared between examples
    last: dict[int, Trajectory] = {}
    for n, (tid, memories, v) in enumerate(ops):
        t = recalling(offset + tid, [mem(offset + 100 + m) for m in sorted(memories)], verdicts[v])
        if n % 3 == 2 and offset + tid in last:
            t = store.feedback(offset + tid, verdicts[v])
        else:
            store.add(t)
        last[offset + tid] = t
    expected: dict[tuple[str, int], list[float]] = {}
    for t in last.values():
        for m in recalled_of(t.metadata.attributes):
            e = expected.setdefault(m.key, [0, 0, 0.0])
            e[0] += 1
            e[1] += int(t.is_success)
            e[2] += t.quality
    got = store.memory_credit(list(expected))
    for key, (uses, successes, quality) in expected.items():
        assert (got[key].uses, got[key].successes) == (uses, successes)
        assert got[key].quality_sum == pytest.approx(quality, abs=1e-9)


@pytest.mark.anyio
async def test_many_runs_recalling_one_memory_at_once_are_all_credited(opener: Callable[[], TrajectoryStore]) -> None:
    """Eight writers (own store objects, as separate processes would have), 40 runs each, all recalling
    memory 1, half failing; and every run also delivered twice: exact totals."""
    stores = [opener() for _ in range(8)]
    stores[0].add(traj(1))

    def write(w: int) -> None:
        for i in range(40):
            run = recalling(1000 + w * 100 + i, [mem(1), lesson_mem()], FAIL if i % 2 else None)
            stores[w].add(run)
            stores[(w + 1) % 8].add(run)  # a retried delivery racing the first

    async with anyio.create_task_group() as tg:
        for w in range(8):
            tg.start_soon(anyio.to_thread.run_sync, write, w)
    for key in (("trajectory", 1), ("lesson", lesson_id(LESSON))):
        c = credit(stores[0], key)
        assert (c.uses, c.successes) == (320, 160)
    assert stores[0].base_credit().uses == 320


def test_one_run_delivered_by_many_threads_at_once_counts_once(opener: Callable[[], TrajectoryStore]) -> None:
    stores = [opener() for _ in range(6)]
    run = recalling(5, [mem(1)])
    barrier = threading.Barrier(6)

    def deliver(s: TrajectoryStore) -> None:
        barrier.wait()
        s.add(run)

    threads = [threading.Thread(target=deliver, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert credit(stores[0], ("trajectory", 1)).uses == 1


def test_at_equal_similarity_a_memory_that_led_to_successes_ranks_first(store: TrajectoryStore) -> None:
    from trajectories.learning import lessons_for

    store.add_many([traj(1), traj(2), traj(3)])  # the same embedding: equal similarity to any query
    before = lessons_for([1.0, 0.0, 0.0], k=3, store=store)
    assert [e.uses for e in before.experiences] == [0, 0, 0]
    assert before.base_rate == 0.5
    for i in range(3):
        store.add(recalling(100 + i, [mem(1)], FAIL, quality_steps=0))  # ids 100+ have another embedding below
        store.add(recalling(200 + i, [mem(3)], quality_steps=0))
    for tid in (*range(100, 103), *range(200, 203)):
        t = store.get(tid)
        store.add(dataclasses.replace(t, query_embedding=np.array([0.0, 1.0, 0.0], dtype=np.float32)))
    ranked = lessons_for([1.0, 0.0, 0.0], k=3, store=store)
    assert [int(e.trajectory.id) for e in ranked.experiences] == [3, 2, 1]
    good, untried, bad = ranked.experiences
    assert (good.uses, good.successes, bad.uses, bad.successes, untried.uses) == (3, 3, 3, 0, 0)
    assert good.effect > 0 > bad.effect
    assert untried.effect == 0
    assert good.mean_quality == pytest.approx(1.0)
    assert untried.mean_quality is None
    assert ranked.base_rate == pytest.approx(4 / 8)
    by_similarity = lessons_for([1.0, 0.0, 0.0], k=3, store=store, rank="similarity")
    assert sorted(int(e.trajectory.id) for e in by_similarity.experiences) == [1, 2, 3]
    assert all(e.score == e.similarity for e in by_similarity.experiences)
    with pytest.raises(ValueError, match="rank"):
        lessons_for([1.0, 0.0, 0.0], store=store, rank="popularity")  # type: ignore[arg-type]


def test_key_lessons_are_ranked_by_effect_too(store: TrajectoryStore) -> None:
    from trajectories.learning import lessons_for

    good, bad = "Refund after checking the order", "Refund before checking the order"
    store.save_distillation([], [_lesson(bad), _lesson(good)])
    for i in range(2):
        store.add(recalling(300 + i, [lesson_mem(good)], quality_steps=0))
        store.add(recalling(310 + i, [lesson_mem(bad)], FAIL, quality_steps=0))
    recall = lessons_for([1.0, 0.0, 0.0], k=2, store=store)
    assert [p.lesson.content for p in recall.past_lessons] == [good, bad]
    assert [kl.content for kl in recall.key_lessons] == [good, bad]
    assert (recall.past_lessons[0].uses, recall.past_lessons[0].successes) == (2, 2)
    assert [m.kind for m in recall.memories].count("lesson") == 2
