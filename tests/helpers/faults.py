"""The application the fault tests run: it returns its own values and raises its own exceptions.

Every fault test checks the same two things: the application is untouched (each call returns
what it returned without the SDK, each exception is the very object the application raised),
and every trajectory it produced is accounted for (delivered, still queued for retry, or in the
dead-letter file).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from trajectories import read_jsonl
from trajectories.instrument import step, trajectory
from trajectories.model import Trajectory

STEPS = 3


class AppError(Exception):
    """The application's own exception: it must reach the application's caller unchanged."""


@dataclass
class AppRun:
    produced: list[int] = field(default_factory=list)  # trajectory ids, from the instrumentation's handles
    results: dict[int, object] = field(default_factory=dict)  # k -> what the call returned
    raised: dict[int, AppError] = field(default_factory=dict)  # k -> the exception object the app raised
    caught: dict[int, BaseException] = field(default_factory=dict)  # k -> what the caller caught

    def check_untouched(self, n: int) -> None:
        """Every call returned its own value or raised its own exception object."""
        assert sorted([*self.results, *self.caught]) == list(range(n))
        for k, value in self.results.items():
            assert value == ("answer", k, [f"r{k}.{i}" for i in range(STEPS)])
        assert self.caught.keys() == self.raised.keys()
        for k, exc in self.caught.items():
            assert exc is self.raised[k]
            assert exc.args == (f"app failure {k}",)
        assert len(self.produced) == len(set(self.produced)) == n


def agent_call(provider: TracerProvider, k: int, run: AppRun) -> tuple[str, int, list[str]]:
    """One request of the application: a trajectory of STEPS steps; every fifth one raises."""
    with trajectory("app", attributes={"k": str(k)}, tracer_provider=provider) as t:
        out = []
        for i in range(STEPS):
            with step(f"work{i}", tracer_provider=provider):
                out.append(f"r{k}.{i}")
        run.produced.append(t.id)
        if k % 5 == 4:
            exc = AppError(f"app failure {k}")
            run.raised[k] = exc
            raise exc
        return ("answer", k, out)


def run_app(provider: TracerProvider, n: int) -> AppRun:
    run = AppRun()
    for k in range(n):
        try:
            run.results[k] = agent_call(provider, k, run)
        except AppError as exc:
            run.caught[k] = exc
    return run


def dead_letter_ids(path: str | os.PathLike[str]) -> list[int]:
    """Ids of the trajectories in a dead-letter file (one line per failed trajectory and sink)."""
    if not Path(path).exists():
        return []
    return [int(t.id) for t in read_jsonl(path)]


def ids(trajectories: Iterable[Trajectory]) -> list[int]:
    return [int(t.id) for t in trajectories]
