"""The shared checks' fast paths against what they shortcut: ``f32``'s memo and float32 vectors."""

from __future__ import annotations

import fractions

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trajectories._internal import validate
from trajectories._internal.validate import F32_MEMO, check_embedding, f32


def _plain_f32(value: float) -> float:
    """f32 as it is computed without the memo."""
    with np.errstate(over="ignore"):
        return float(str(np.float32(value)))


@given(st.floats(allow_nan=False, width=64))
def test_f32_from_the_memo_is_what_it_computes(value: float) -> None:
    first = f32(value)
    assert first == _plain_f32(value) or (value in (0.0, 1.0) and first == value)
    assert f32(value) == first  # the second call, from the memo when it took the value


def test_f32_gives_equal_numbers_of_any_type_the_same_result_and_the_memo_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    F32_MEMO.clear()
    assert f32(np.float32(0.9)) == 0.9  # its key is the float32's own value, 0.8999999761581421
    assert f32(0.9) == 0.9
    assert f32(fractions.Fraction(9, 10)) == 0.9  # type: ignore[arg-type]  # any number, as numpy takes it
    assert f32(np.float64(0.3)) == f32(0.3) == 0.3
    assert f32(1e39) == float("inf")  # beyond float32: infinity, as without the memo
    monkeypatch.setattr(validate, "F32_MEMO_LIMIT", 16)
    for i in range(100):
        assert f32(i / 7) == _plain_f32(i / 7)
        assert len(F32_MEMO) <= 16


def test_a_float32_vector_is_checked_and_copied_read_only() -> None:
    given_vector = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    got = check_embedding("e", given_vector)
    assert got.dtype == np.float32
    assert not got.flags.writeable
    assert not np.shares_memory(got, given_vector)
    given_vector[0] = 9.0  # the caller's array stays theirs: changing it changes nothing stored
    assert got[0] == 0.5
    assert given_vector.flags.writeable
    with pytest.raises(ValueError, match=r"e must be finite, got non-finite values at \[1, 3\]"):
        check_embedding("e", np.array([0.0, np.nan, 1.0, np.inf], dtype=np.float32))
    with pytest.raises(ValueError, match="one-dimensional"):
        check_embedding("e", np.ones((2, 2), dtype=np.float32))
    # Other dtypes and lists take the general path to the same result.
    assert np.array_equal(check_embedding("e", [0.5, -1.0, 2.0]), got)
    assert np.array_equal(check_embedding("e", given_vector.astype(np.float64)), [9.0, -1.0, 2.0])
