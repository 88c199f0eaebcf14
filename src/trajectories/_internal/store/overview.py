"""Aggregates for an overview of a store (``TrajectoryStore.overview``), backend-neutral values.

Every figure is computed by the backend's own query language (SQL, in SQLite and in PostgreSQL),
never by reading all rows into Python, so that an overview of a large store stays cheap. The
orderings below are shared by the backends, so that ties fall the same way in each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "GroupStat",
    "ModelTokens",
    "StoreOverview",
    "TimeBucket",
    "cause_kind",
    "json_name",
    "failing",
    "slowest",
    "top_models",
]


@dataclass(frozen=True, slots=True)
class TimeBucket:
    """Trajectories whose ``started_at`` falls in ``[start, end)``."""

    start: datetime
    end: datetime
    count: int
    #: How many have the verdict Success.
    successes: int
    avg_quality: float

    @property
    def success_rate(self) -> float:
        return self.successes / self.count if self.count else 0.0


@dataclass(frozen=True, slots=True)
class GroupStat:
    """Steps grouped by their action (or tool): how many, how many failed, how long they took."""

    name: str
    steps: int
    failures: int
    avg_latency_ms: float
    max_latency_ms: int


@dataclass(frozen=True, slots=True)
class ModelTokens:
    """Tokens of the steps that name this model (``StepMetadata.model``)."""

    model: str
    steps: int
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class StoreOverview:
    """What ``TrajectoryStore.overview(filter, buckets=N, top=K)`` returns.

    ``timeline`` splits ``[first_started, last_started]`` into at most N equal-width buckets
    (empty ones left out, oldest first). ``root_causes`` counts the root-cause kinds of Failure
    verdicts and the original failures of Recovered ones. The step lists hold at most K entries:
    ``slowest_*`` by average latency (then name), ``failing_*`` by failure count (only groups
    with at least one failure; then name). ``models`` is ordered by total tokens.
    """

    total: int
    first_started: datetime | None
    last_started: datetime | None
    by_verdict: dict[str, int]
    timeline: list[TimeBucket] = field(default_factory=list)
    root_causes: list[tuple[str, int]] = field(default_factory=list)
    slowest_actions: list[GroupStat] = field(default_factory=list)
    failing_actions: list[GroupStat] = field(default_factory=list)
    slowest_tools: list[GroupStat] = field(default_factory=list)
    failing_tools: list[GroupStat] = field(default_factory=list)
    models: list[ModelTokens] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat().replace("+00:00", "Z")

        def groups(items: list[GroupStat]) -> list[dict[str, Any]]:
            return [
                {
                    "name": g.name,
                    "steps": g.steps,
                    "failures": g.failures,
                    "avg_latency_ms": g.avg_latency_ms,
                    "max_latency_ms": g.max_latency_ms,
                }
                for g in items
            ]

        return {
            "total": self.total,
            "first_started": iso(self.first_started),
            "last_started": iso(self.last_started),
            "by_verdict": dict(self.by_verdict),
            "timeline": [
                {
                    "start": iso(b.start),
                    "end": iso(b.end),
                    "count": b.count,
                    "successes": b.successes,
                    "avg_quality": b.avg_quality,
                }
                for b in self.timeline
            ],
            "root_causes": [{"kind": k, "count": n} for k, n in self.root_causes],
            "slowest_actions": groups(self.slowest_actions),
            "failing_actions": groups(self.failing_actions),
            "slowest_tools": groups(self.slowest_tools),
            "failing_tools": groups(self.failing_tools),
            "models": [
                {"model": m.model, "steps": m.steps, "input_tokens": m.input_tokens, "output_tokens": m.output_tokens}
                for m in self.models
            ],
        }


# The orderings every backend applies to its grouped rows (so that ties fall the same way).
def cause_kind(variant: str | None) -> str:
    """A root cause's serde variant (``ToolFailure``) as its kind (``tool_failure``); None: unknown."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", variant).lower() if variant else "unknown"


def json_name(text: str) -> str:
    """A step's action, tool or model from its JSON text (the backends return names as JSON, not
    as their SQL text: SQLite's ``json_extract`` cuts a string at an escaped NUL)."""
    value = json.loads(text)
    return value if isinstance(value, str) else str(value)


def slowest(groups: Iterable[GroupStat], top: int) -> list[GroupStat]:
    return sorted(groups, key=lambda g: (-g.avg_latency_ms, g.name))[:top]


def failing(groups: Iterable[GroupStat], top: int) -> list[GroupStat]:
    return sorted((g for g in groups if g.failures), key=lambda g: (-g.failures, g.name))[:top]


def top_models(models: Iterable[ModelTokens], top: int) -> list[ModelTokens]:
    return sorted(models, key=lambda m: (-(m.input_tokens + m.output_tokens), m.model))[:top]
