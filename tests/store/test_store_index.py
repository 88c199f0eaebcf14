"""The in-memory index against a brute-force cosine search, under random puts and removes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trajectories._internal.store.index import EmbeddingIndex

_KINDS = ("success", "failure", "partial", "recovered_via_reflection")

ops = st.lists(
    st.tuples(
        st.integers(0, 30),  # id
        st.booleans(),  # put (True) or remove
        st.lists(st.integers(-3, 3), min_size=3, max_size=3),  # embedding (may be zero)
        st.floats(0, 1),  # quality
        st.sampled_from(_KINDS),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    ops=ops,
    q=st.lists(st.integers(-3, 3), min_size=3, max_size=3).filter(any),
    k=st.integers(1, 8),
    minq=st.none() | st.floats(0, 1),
)
def test_search_matches_brute_force(
    ops: list[tuple[int, bool, list[int], float, str]], q: list[int], k: int, minq: float | None
) -> None:
    index = EmbeddingIndex()
    model: dict[int, tuple[np.ndarray, float, str]] = {}
    for id, put, emb, quality, kind in ops:
        vec = np.array(emb, dtype=np.float32)
        if put:
            indexed = index.put(id, vec, quality, kind)
            assert indexed == bool(vec.any())
            model.pop(id, None)
            if indexed:
                model[id] = (vec, np.float32(quality), kind)
        else:
            index.remove(id)
            model.pop(id, None)
    assert len(index) == len(model)
    qv = np.array(q, dtype=np.float32)
    expected = []
    for id, (vec, quality, _kind) in model.items():
        if minq is not None and quality < np.float32(minq):
            continue
        sim = float(vec @ qv / (np.linalg.norm(vec) * np.linalg.norm(qv)))
        expected.append((sim, id))
    expected.sort(key=lambda x: (-x[0], x[1]))
    got = index.search(qv, k, min_quality=minq)
    assert len(got) == min(k, len(expected))
    for hit, (sim, _id) in zip(got, expected, strict=False):
        assert abs(hit.similarity - sim) < 1e-5
    # same scores may tie; the ids must be a valid top-k
    cutoff = expected[len(got) - 1][0] if got else 1.0
    assert all(sim >= cutoff - 1e-5 for sim, id in expected if id in {h.id for h in got})


def test_verdict_filter_and_exclude() -> None:
    index = EmbeddingIndex()
    index.put(1, np.array([1, 0], dtype=np.float32), 1.0, "success")
    index.put(2, np.array([1, 0.1], dtype=np.float32), 0.0, "failure")
    index.put(3, np.array([0, 1], dtype=np.float32), 0.5, "partial")
    q = np.array([1, 0], dtype=np.float32)
    assert [h.id for h in index.search(q, 5, verdict_kind="failure")] == [2]
    assert [h.id for h in index.search(q, 5, exclude=frozenset({1}))] == [2, 3]
    assert index.search(np.array([1, 0, 0], dtype=np.float32), 5) == []  # no rows of that dimension
    assert index.other_dimension_count(3) == 3
