"""The effect formula: smoothing toward the base rate, exploration, monotonicity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trajectories._internal.learning.effect import EXPLORATION_BONUS, base_rate, measure
from trajectories.store import MemoryCredit


def test_the_worked_example_in_the_docstring() -> None:
    a = measure(0.80, MemoryCredit(4, 4, 3.6), 0.6)
    b = measure(0.85, MemoryCredit(4, 0, 1.0), 0.6)
    assert a.smoothed_rate == pytest.approx(7.6 / 10)
    assert a.score == pytest.approx(1.025, abs=5e-4)
    assert b.score == pytest.approx(0.522, abs=5e-4)
    assert a.lift == pytest.approx(7.6 / 6)
    assert b.lift == pytest.approx(0.6)
    assert measure(0.82, None, 0.6).score == pytest.approx(0.84)  # C, new: between them
    assert a.mean_quality == pytest.approx(0.9)
    assert b.success_rate == 0.0


def test_a_memory_never_used_sits_at_the_base_rate_with_the_full_bonus() -> None:
    m = measure(0.7, None, 0.3)
    assert (m.uses, m.effect, m.success_rate, m.mean_quality) == (0, 0.0, None, None)
    assert m.score == pytest.approx(0.7 + EXPLORATION_BONUS)


def test_one_use_is_neither_trusted_nor_buried() -> None:
    win, loss = measure(0.5, MemoryCredit(1, 1, 1.0), 0.5), measure(0.5, MemoryCredit(1, 0, 0.0), 0.5)
    assert win.smoothed_rate == pytest.approx(4 / 7)  # a seventh of the way up
    assert loss.smoothed_rate == pytest.approx(3 / 7)


def test_base_rate_is_laplace_smoothed() -> None:
    assert base_rate(MemoryCredit()) == 0.5
    assert base_rate(MemoryCredit(8, 6, 0.0)) == pytest.approx(0.7)


@given(
    sim=st.floats(0.0, 1.0),
    uses=st.integers(1, 1000),
    data=st.data(),
    p0=st.floats(0.01, 0.99),
)
def test_more_successes_never_rank_lower(sim: float, uses: int, data: st.DataObject, p0: float) -> None:
    s1 = data.draw(st.integers(0, uses))
    s2 = data.draw(st.integers(0, uses))
    lo, hi = sorted((s1, s2))
    assert measure(sim, MemoryCredit(uses, lo, 0.0), p0).score <= measure(sim, MemoryCredit(uses, hi, 0.0), p0).score


def test_a_memory_whose_runs_keep_failing_sinks_however_similar() -> None:
    assert measure(0.95, MemoryCredit(50, 0, 0.0), 0.6).score < measure(0.3, None, 0.6).score


def test_similarity_mode_scores_by_similarity_alone() -> None:
    assert measure(0.42, MemoryCredit(10, 0, 0.0), 0.9, "similarity").score == 0.42
