"""One behaviour, two backends: every test here runs against SQLite and against PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import numpy as np
import pytest

from tests.helpers.serde import golden_files
from tests.helpers.store import T0, step, traj
from trajectories.learning import DistillConfig, analyze, distill, lessons_for
from trajectories.model import RootCause, StepOutcome, Trajectory, Verdict
from trajectories.store import StoreSink, TrajectoryFilter, TrajectoryNotFoundError, TrajectoryStore

U64_IDS = [0, 1, (1 << 63) - 1, 1 << 63, (1 << 63) + 12345, (1 << 64) - 1]
FAIL = Verdict.failure(RootCause.unknown("x"))


def test_add_get_by_id_and_uuid(store: TrajectoryStore) -> None:
    t = traj(7, [step(0, "search"), step(1, "answer", StepOutcome.partial("a", "b"), 0.5)], name="answer", session="s1")
    store.add(t)
    assert store.get(7) == t
    assert store.get_by_uuid(t.uuid) == t
    assert store.get_by_uuid(str(t.uuid)) == t
    with pytest.raises(TrajectoryNotFoundError, match="no trajectory with id 8"):
        store.get(8)
    with pytest.raises(TrajectoryNotFoundError):
        store.get_by_uuid(uuid.uuid4())
    with pytest.raises(ValueError, match="uuid"):
        store.get_by_uuid("not-a-uuid")
    with pytest.raises(TypeError, match="id"):
        store.get("7")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Trajectory"):
        store.add_many([t, "nope"])  # type: ignore[list-item]
    assert store.count() == 1  # the bad batch wrote nothing


def test_adding_again_replaces_and_never_duplicates(store: TrajectoryStore) -> None:
    store.add(traj(1, [step(0, "a")]))
    store.add_many([traj(1, [step(0, "b"), step(1, "c")], verdict=FAIL), traj(2)])
    store.add_many([traj(2, name="first"), traj(2, name="second")])  # one id twice in a batch: the last wins
    assert store.count() == 2
    assert [s.action for s in store.get(1).steps] == ["b", "c"]
    assert store.get(1).verdict.kind == "failure"
    assert store.get(2).metadata.attributes["trajectory.name"] == "second"
    assert store.stats().top_actions == [("b", 1), ("c", 1)]  # the replaced steps' actions are gone
    assert store.add_many([]) == 0


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_every_golden_file_round_trips_exactly(store: TrajectoryStore, path: object) -> None:
    text = path.read_text(encoding="utf-8").rstrip("\n")  # type: ignore[attr-defined]
    t = Trajectory.from_json(text)
    store.add(t)
    got = store.get(int(t.id))
    assert got == t
    assert got.to_json(indent=2) == text.replace("00:00:00.500123456Z", "00:00:00.500123Z")
    assert store.get_by_uuid(t.uuid).to_json() == t.to_json()
    assert [x.to_json() for x in store.iter_all()] == [t.to_json()]


def test_awkward_text_round_trips(store: TrajectoryStore) -> None:
    """NUL, newlines, tabs, quotes and non-ASCII in every text field: the JSON comes back exactly."""
    odd = "a\x00b\tc\nd\"e'f\\g é 漢 🙂"
    t = traj(9, [step(0, odd, tool=odd)], name=odd, session=odd, user=odd, request_type=odd, lessons=[odd])
    store.add(t)
    assert store.get(9) == t
    assert store.get(9).to_json() == t.to_json()
    assert [x.to_json() for x in store.list()] == [t.to_json()]
    assert store.stats().top_actions[0][1] == 1


def test_ids_across_the_whole_u64_range(store: TrajectoryStore) -> None:
    store.add_many([traj(i, embedding=(1.0, (n + 1) / 10, 0.0)) for n, i in enumerate(U64_IDS)])
    for i in U64_IDS:
        assert int(store.get(i).id) == i
    assert sorted(int(t.id) for t in store.list(limit=None)) == U64_IDS
    hits = store.similar([1.0, 0.0, 0.0], k=len(U64_IDS))  # SQLite raised OverflowError here for ids >= 2^63
    assert [h.id for h in hits] == U64_IDS  # nearest first: the smallest second component
    assert [h.id for h in store.similar([1.0, 0.0, 0.0], k=2, exclude=[0, 1])] == U64_IDS[2:4]
    assert store.delete([1 << 63, (1 << 64) - 1]) == 2
    assert sorted(int(t.id) for t in store.iter_all()) == [0, 1, (1 << 63) - 1, (1 << 63) + 12345]
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        store.get(1 << 64)


def _listing_data() -> list[Trajectory]:
    return [
        traj(1, name="alpha", session="s1", user="u1", started=T0 + timedelta(hours=1), tokens=(10, 1)),
        traj(2, name="alpha", session="s2", user="u1", started=T0 + timedelta(hours=2), verdict=FAIL, tokens=(20, 2)),
        traj(3, name="beta", session="s1", user="u2", started=T0 + timedelta(hours=3), tokens=(30, 3)),
        traj(4, request_type="rt", session="s2", started=T0 + timedelta(hours=4), verdict=Verdict.partial(0.5)),
        traj(5, name="alpha", session="s1", started=T0 + timedelta(hours=4)),  # same time as 4: id breaks the tie
    ]


def test_filtered_and_paged_listing_and_count(store: TrajectoryStore) -> None:
    data = _listing_data()
    store.add_many(data)

    def ids(f: TrajectoryFilter | None = None, **kw: int | None) -> list[int]:
        return [int(t.id) for t in store.list(f, **kw)]  # type: ignore[arg-type]

    assert ids() == [5, 4, 3, 2, 1]
    assert ids(limit=2) == [5, 4]
    assert ids(limit=2, offset=2) == [3, 2]
    assert ids(limit=None, offset=4) == [1]
    assert ids(TrajectoryFilter(name="alpha")) == [5, 2, 1]
    assert ids(TrajectoryFilter(name="rt")) == [4]  # the request type stands in for a missing name
    assert ids(TrajectoryFilter(session_id="s1", user_id="u1")) == [1]
    assert ids(TrajectoryFilter(verdict="failure")) == [2]
    assert ids(TrajectoryFilter(verdict="partial")) == [4]
    q = {t.id: t.quality for t in data}
    lo = min(q.values())
    assert ids(TrajectoryFilter(min_quality=lo + 1e-9)) == [int(i) for i in sorted(q, reverse=True) if q[i] > lo]
    assert ids(TrajectoryFilter(max_quality=lo)) == [int(i) for i in sorted(q, reverse=True) if q[i] <= lo]
    assert ids(TrajectoryFilter(since=T0 + timedelta(hours=3))) == [5, 4, 3]
    assert ids(TrajectoryFilter(until=T0 + timedelta(hours=2))) == [2, 1]
    assert ids(TrajectoryFilter(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=3), name="alpha")) == [2]
    assert store.count() == 5
    assert store.count(TrajectoryFilter(name="alpha")) == 3
    assert store.count(TrajectoryFilter(session_id="nobody")) == 0
    with pytest.raises(ValueError, match="limit"):
        store.list(limit=-1)
    with pytest.raises(TypeError, match="filter"):
        store.list("alpha")  # type: ignore[arg-type]


def test_iter_all_oldest_first_in_batches(store: TrajectoryStore) -> None:
    store.add_many(traj(i, started=T0 + timedelta(seconds=(i * 7) % 23)) for i in range(1, 24))
    expected = sorted(range(1, 24), key=lambda i: ((i * 7) % 23, i))
    for batch in (1, 5, 500):
        assert [int(t.id) for t in store.iter_all(batch_size=batch)] == expected
    with pytest.raises(ValueError, match="batch_size"):
        store.iter_all(batch_size=-1)


def test_stats(store: TrajectoryStore) -> None:
    empty = store.stats()
    assert (empty.total, empty.avg_quality, empty.top_actions) == (0, 0.0, [])
    data = _listing_data()
    data[0] = traj(1, [step(0, "search"), step(1, "answer")], tokens=(10, 1))
    data[1] = traj(2, [step(0, "search")], verdict=FAIL, tokens=(20, 2))
    store.add_many(data)
    s = store.stats(top_actions=1)
    assert s.total == 5
    assert s.by_verdict == {"success": 3, "failure": 1, "partial": 1, "recovered_via_reflection": 0}
    assert s.avg_quality == pytest.approx(sum(t.quality for t in data) / 5)
    assert (s.total_input_tokens, s.total_output_tokens) == (60, 6)
    assert s.top_actions == [("search", 2)]
    assert store.stats().top_actions == [("search", 2), ("answer", 1)]


def test_delete(store: TrajectoryStore) -> None:
    store.add_many([traj(1, [step(0, "a")]), traj(2), traj(3)])
    assert store.delete([2, 99]) == 1
    assert store.delete([]) == 0
    assert store.count() == 2
    with pytest.raises(TrajectoryNotFoundError):
        store.get(2)
    assert [h.id for h in store.similar([1.0, 0.0, 0.0], k=5)] == [1, 3]
    assert store.delete([1]) == 1
    assert store.stats().top_actions == []  # its steps' actions went with it


def test_similar_orders_by_cosine_and_filters(store: TrajectoryStore) -> None:
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(60, 8)).astype(np.float32)
    data = [traj(i + 1, embedding=vecs[i], verdict=FAIL if i % 3 == 0 else Verdict.success()) for i in range(60)]
    store.add_many(data)
    q = rng.normal(size=8).astype(np.float32)
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    sims = unit @ (q / np.linalg.norm(q))
    exact = [int(i) + 1 for i in np.argsort(-sims)]
    hits = store.similar(q, k=10)
    assert [h.id for h in hits] == exact[:10]
    assert [h.similarity for h in hits] == pytest.approx([float(sims[i - 1]) for i in exact[:10]], abs=1e-5)
    failures = [i for i in exact if (i - 1) % 3 == 0]
    assert [h.id for h in store.similar(q, k=5, verdict="failure")] == failures[:5]
    assert all(h.trajectory.verdict.kind == "failure" for h in store.similar(q, k=5, verdict="failure"))
    good = [i for i in exact if data[i - 1].quality >= 0.9]
    assert [h.id for h in store.similar(q, k=5, min_quality=0.9)] == good[:5]
    assert [h.id for h in store.similar(q, k=3, exclude=exact[:2])] == exact[2:5]
    assert store.similar(q, k=0) == []
    assert store.similar(q, k=5, verdict="recovered") == []
    with pytest.raises(ValueError, match="zeros"):
        store.similar([0.0] * 8)
    with pytest.raises(ValueError, match="verdict"):
        store.similar(q, verdict="great")


def test_filtered_similar_still_returns_k_hits(store: TrajectoryStore) -> None:
    """1 500 successes right next to the query and 8 failures far away: a filter on the failures
    must still find all 8 (an index scan that stops at ef_search candidates would find none)."""
    rng = np.random.default_rng(2)
    near = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32) + rng.normal(scale=0.01, size=(1500, 4)).astype(np.float32)
    far = np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32) + rng.normal(scale=0.3, size=(8, 4)).astype(np.float32)
    store.add_many([traj(i + 1, embedding=near[i]) for i in range(1500)])
    store.add_many([traj(10_000 + i, embedding=far[i], verdict=FAIL) for i in range(8)])
    hits = store.similar([1.0, 0.0, 0.0, 0.0], k=8, verdict="failure")
    assert sorted(h.id for h in hits) == list(range(10_000, 10_008))
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)


def test_other_dimensions_and_empty_embeddings_are_skipped(store: TrajectoryStore, caplog: pytest.LogCaptureFixture) -> None:
    store.add_many([traj(1, embedding=(1.0, 0.0, 0.0)), traj(2, embedding=(1.0, 0.0, 0.0, 0.0)), traj(3, embedding=())])
    store.add(traj(4, embedding=(0.0, 0.0, 0.0)))  # all zeros: no direction, never a hit
    with caplog.at_level(logging.WARNING, logger="trajectories"):
        assert [h.id for h in store.similar([1.0, 0.0, 0.0], k=5)] == [1]
    assert "another dimension" in caplog.text
    assert [h.id for h in store.similar([0.5, 0.0, 0.0, 0.0], k=5)] == [2]
    assert store.similar([1.0] * 5, k=5) == []
    assert store.count() == 4


def test_distillation_results_are_stored_and_nothing_is_lost(store: TrajectoryStore) -> None:
    data = [traj(i, [step(0, "search"), step(1, "answer")], lessons=[f"lesson {i % 3}"]) for i in range(1, 13)]
    data += [traj(100 + i, [step(0, "guess")], verdict=FAIL, lessons=["do not guess"]) for i in range(3)]
    store.add_many(data)
    config = DistillConfig(min_trajectories=5, min_age_seconds=0)
    kept = distill(store, config, now=T0 + timedelta(days=30))
    assert store.count() == 15  # nothing pruned without prune=True
    assert [c.to_dict() for c in store.compressed()] == sorted(
        (c.to_dict() for c in kept.compressed), key=lambda d: d["original_id"]
    )
    assert [lesson.to_dict() for lesson in store.key_lessons()] == [
        lesson.to_dict() for lesson in sorted(kept.key_lessons, key=lambda x: (-x.score, x.content))
    ]
    s = store.stats()
    assert (s.compressed, s.key_lessons) == (len(kept.compressed), len(kept.key_lessons)) != (0, 0)
    pruned = distill(store, config, prune=True, now=T0 + timedelta(days=31))
    assert set(pruned.pruned_ids) == {c.original_id for c in pruned.compressed}
    assert store.count() == 15 - len(pruned.pruned_ids)
    assert {int(t.id) for t in store.iter_all()}.isdisjoint({int(i) for i in pruned.pruned_ids})


def test_verdict_analysis_and_lessons_for(store: TrajectoryStore) -> None:
    store.add_many(
        [
            traj(1, [step(0, "search"), step(1, "answer")], embedding=(1.0, 0.0), lessons=["check the docs first"]),
            traj(2, [step(0, "guess", StepOutcome.failure("wrong"))], embedding=(0.9, 0.1), verdict=FAIL, lessons=["avoid"]),
            traj(3, embedding=(0.0, 1.0), lessons=["unrelated"]),
        ]
    )
    recall = lessons_for([1.0, 0.0], k=2, store=store)
    assert [e.trajectory.id for e in recall.experiences] == [store.get(1).id, store.get(2).id]
    original = traj(2, [step(0, "guess", StepOutcome.failure("wrong"))], embedding=(0.9, 0.1), verdict=FAIL, lessons=["avoid"])
    assert analyze(store.get(2)) == analyze(original)  # the stored trajectory analyses like the one added


def test_store_sink_writes_into_the_store(store: TrajectoryStore) -> None:
    sink = StoreSink(store)
    sink.send(traj(1))
    sink.send_many([traj(2), traj(1, name="again")])
    assert store.count() == 2
    assert store.get(1).metadata.attributes["trajectory.name"] == "again"


def test_similar_with_a_listing_filter(store: TrajectoryStore) -> None:
    """name, session, user and time filters restrict similar() too; k hits while k pass."""
    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(300, 6)).astype(np.float32)
    data = [
        traj(
            i + 1,
            embedding=vecs[i],
            name="rare" if i % 50 == 0 else "common",
            session=f"s{i % 3}",
            started=T0 + timedelta(minutes=i),
        )
        for i in range(300)
    ]
    store.add_many(data)
    q = rng.normal(size=6).astype(np.float32)
    sims = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
    order = [int(i) for i in np.argsort(-sims)]

    def expect(pred: object, k: int) -> list[int]:
        return [i + 1 for i in order if pred(data[i])][:k]  # type: ignore[operator]

    rare = store.similar(q, k=6, filter=TrajectoryFilter(name="rare"))
    assert [h.id for h in rare] == expect(lambda t: t.metadata.attributes["trajectory.name"] == "rare", 6)
    assert len(rare) == 6
    window = TrajectoryFilter(session_id="s1", since=T0 + timedelta(minutes=100), until=T0 + timedelta(minutes=200))
    got = store.similar(q, k=4, filter=window, exclude=[expect(lambda t: True, 1)[0]])
    want = [
        i
        for i in expect(lambda t: t.metadata.session_id == "s1" and 100 <= int(t.id) - 1 <= 200, 5)
        if i != expect(lambda t: True, 1)[0]
    ][:4]
    assert [h.id for h in got] == want
    assert store.similar(q, k=3, filter=TrajectoryFilter(user_id="nobody")) == []
    with pytest.raises(TypeError, match="filter"):
        store.similar(q, filter="rare")  # type: ignore[arg-type]


def test_span_counts_add_up_and_show_in_stats(store: TrajectoryStore) -> None:
    assert store.stats().unrelated_spans == {}
    store.add_span_counts({"no_agent_or_model_span": 3, "outside_agent": 0})
    store.add_span_counts({"no_agent_or_model_span": 2, "parent_cycle": 1})
    store.add_span_counts({})
    assert store.stats().unrelated_spans == {"no_agent_or_model_span": 5, "parent_cycle": 1}
    assert store.stats().to_dict()["unrelated_spans"] == {"no_agent_or_model_span": 5, "parent_cycle": 1}
    with pytest.raises(ValueError, match="counts"):
        store.add_span_counts({"x": -1})
    with pytest.raises(TypeError, match="counts"):
        store.add_span_counts([("x", 1)])  # type: ignore[arg-type]
    assert store.stats().unrelated_spans == {"no_agent_or_model_span": 5, "parent_cycle": 1}  # bad input wrote nothing
