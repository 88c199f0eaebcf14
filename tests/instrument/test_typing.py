"""The decorator keeps signatures for type checkers: mypy (run on tests/) checks these assert_type calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

from typing_extensions import assert_type

from trajectories.instrument import StepHandle, StepSpec, TrajectoryHandle, step, trajectory


@step
def bare(x: int, *, y: str = "a") -> tuple[int, str]:
    return x, y


@step(action="search", tool="web", confidence=0.5)
async def configured(q: str) -> list[str]:
    return [q]


@step("named")
def gen(n: int) -> Iterator[int]:
    yield from range(n)


@step
async def agen(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


def test_types_are_preserved() -> None:
    assert_type(bare(1, y="b"), tuple[int, str])
    coro = assert_type(configured("q"), Coroutine[Any, Any, list[str]])
    coro.close()
    assert_type(gen(2), Iterator[int])
    assert_type(agen(2), AsyncIterator[int])
    assert_type(step("x"), StepSpec)
    assert_type(trajectory("t"), TrajectoryHandle)
    with trajectory("t") as t, step("s") as s:
        assert_type(t, TrajectoryHandle)
        assert_type(s, StepHandle)
    assert bare(1) == (1, "a")
    assert list(gen(2)) == [0, 1]
