"""What a trajectory's steps add up to: token sums, models and tools in first-use order, success ratio.

One helper for the three places that total a trajectory: the instrumentation's handle, the
:class:`TrajectoryRecorder` and the span assembly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .constants import U64_MAX
from .outcome import SuccessOutcome
from .trajectory import ScoredStep
from .verdict import Verdict

__all__ = ["Totals", "ratio_verdict", "success_count", "success_ratio", "totals", "unique"]


def unique(values: Iterable[str | None]) -> tuple[str, ...]:
    """The distinct values in first-seen order, without None."""
    return tuple(dict.fromkeys(v for v in values if v is not None))


def success_count(steps: Sequence[ScoredStep]) -> int:
    return sum([isinstance(s.outcome, SuccessOutcome) for s in steps])


def success_ratio(steps: Sequence[ScoredStep]) -> float:
    """Successful steps / steps (0.0 with no steps): the ratio of a Partial verdict."""
    return success_count(steps) / len(steps) if steps else 0.0


def ratio_verdict(steps: Sequence[ScoredStep], *, success_if_all: bool) -> Verdict:
    """Success when every step succeeded (and *success_if_all*), else Partial by :func:`success_ratio`."""
    if success_if_all and success_count(steps) == len(steps):
        return Verdict.success()
    return Verdict.partial(success_ratio(steps))


class Totals(NamedTuple):
    input_tokens: int
    output_tokens: int
    models: tuple[str, ...]
    tools: tuple[str, ...]


def totals(
    steps: Sequence[ScoredStep],
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    models: Iterable[str | None] = (),
    tools: Iterable[str | None] = (),
    step_models: Sequence[str] | None = None,
    step_tools: Sequence[str] | None = None,
) -> Totals:
    """The steps' tokens plus *input_tokens*/*output_tokens* (recorded outside any step; sums
    saturate at a u64's maximum), and their models and tools followed by *models*/*tools*,
    each once, in that order. *step_models*/*step_tools*, when given, are the steps' models and
    tools in order of first use (a step's metadata holds one model, the spans inside it may have
    used more)."""
    metas = [m for s in steps if (m := s.metadata) is not None]
    if not metas and step_models is None and step_tools is None:  # steps with nothing to add (the usual @step)
        return Totals(
            min(U64_MAX, input_tokens),
            min(U64_MAX, output_tokens),
            unique(models) if models else (),
            unique(tools) if tools else (),
        )
    used_models = step_models if step_models is not None else [m.model for m in metas]
    used_tools = step_tools if step_tools is not None else [m.tool_used for m in metas]
    return Totals(
        input_tokens=min(U64_MAX, input_tokens + sum(m.input_tokens or 0 for m in metas)),
        output_tokens=min(U64_MAX, output_tokens + sum(m.output_tokens or 0 for m in metas)),
        models=unique([*used_models, *models]),
        tools=unique([*used_tools, *tools]),
    )
