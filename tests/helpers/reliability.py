"""Helpers for the reliability tests: a span-counting processor and the accounting of a run.

The exporter cannot see spans that a BatchSpanProcessor dropped; these tests count every span
the instrumentation *ended* (``CountingProcessor``, added to the provider beside the batch
processor) so that "produced", "seen by the exporter" and "stored" can be compared exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from trajectories import attributes as A
from trajectories.model import Trajectory

STEPS = 10
SPANS_PER_TRAJECTORY = STEPS + 1  # the root and its steps


class CountingProcessor(SpanProcessor):
    """Counts every span that ends, by kind (trajectory roots and steps)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ended = 0
        self.roots = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        attrs = span.attributes or {}
        with self._lock:
            self.ended += 1
            if attrs.get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT:
                self.roots += 1


def root_arrived(t: Trajectory) -> bool:
    """A stored trajectory was assembled with its root span (else only from its steps)."""
    return A.TRAJECTORY_NAME_ATTRIBUTE in t.metadata.attributes


def is_flagged(t: Trajectory) -> bool:
    return t.metadata.attributes.get(A.TRAJECTORY_INCOMPLETE_ATTRIBUTE) == "true"


@dataclass(frozen=True)
class Accounting:
    """What a run delivered, counted span by span."""

    complete: int  # root and every step arrived, not flagged
    missing_steps: int  # root arrived, some steps did not: flagged with missing_steps
    rootless: int  # only steps arrived: flagged incomplete
    spans_delivered: int  # roots + steps inside delivered trajectories
    steps_missing: int  # sum of the missing_steps flags


def account(trajectories: Iterable[Trajectory]) -> Accounting:
    complete = missing = rootless = spans = steps_missing = 0
    for t in trajectories:
        has_root = root_arrived(t)
        spans += len(t.steps) + int(has_root)
        if not is_flagged(t):
            assert has_root, f"trajectory {t.id} has no root but is not flagged"
            assert len(t.steps) == STEPS, f"trajectory {t.id} is short but not flagged"
            complete += 1
        elif has_root:
            n = int(t.metadata.attributes[A.TRAJECTORY_MISSING_STEPS_ATTRIBUTE])
            assert n == STEPS - len(t.steps), f"trajectory {t.id}: missing_steps={n} but {len(t.steps)} steps arrived"
            missing += 1
            steps_missing += n
        else:
            assert A.TRAJECTORY_MISSING_STEPS_ATTRIBUTE not in t.metadata.attributes
            rootless += 1
    return Accounting(complete, missing, rootless, spans, steps_missing)


def check_attribution(t: Trajectory) -> None:
    """Every step of a soak trajectory carries the number of its own trajectory and its index."""
    k = t.metadata.attributes["k"] if root_arrived(t) else None
    for s in t.steps:
        assert s.metadata is not None
        assert s.action == f"act{s.index}"
        assert s.metadata.attributes["i"] == str(s.index)
        if k is not None:
            assert s.metadata.attributes["k"] == k, f"step {s.index} of trajectory k={k} says k={s.metadata.attributes['k']}"
    if root_arrived(t) and not is_flagged(t):
        assert [s.index for s in t.steps] == list(range(STEPS))
