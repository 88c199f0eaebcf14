"""What the viewer's pages show, computed from the model: plain values, no markup.

Every string here may come from untrusted input (actions, errors, lessons, request text); the
templates escape all of them (autoescape), and nothing here builds HTML or SVG text.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ... import attributes
from ...model import (
    FailureOutcome,
    FailureVerdict,
    NeedsRetryOutcome,
    PartialOutcome,
    PartialVerdict,
    RecoveredVerdict,
    SkippedOutcome,
    SuccessVerdict,
    Trajectory,
    TrajectoryStep,
    compute_quality,
)
from ..store.credit import MemoryCredit

__all__ = [
    "QUERY_ATTRIBUTE",
    "RECALLED_ATTRIBUTE",
    "QualityParts",
    "RecalledItem",
    "StepRow",
    "quality_parts",
    "recalled_items",
    "with_credit",
    "step_rows",
    "trajectory_name",
]

#: ``metadata.attributes[QUERY_ATTRIBUTE]``: the request text, when it was captured.
QUERY_ATTRIBUTE = "query"
#: ``metadata.attributes[RECALLED_ATTRIBUTE]``: what the run recalled, a JSON list whose items are
#: trajectory ids, or objects with any of ``id``/``trajectory_id``, ``similarity``, ``quality``,
#: ``verdict``, ``lesson``/``content``/``text``, ``helped`` (bool). Other attributes whose key
#: starts with ``recall`` are shown as they are.
RECALLED_ATTRIBUTE = "recalled"

_MAX_DEPTH = 8


def trajectory_name(t: Trajectory) -> str | None:
    return t.metadata.attributes.get(attributes.TRAJECTORY_NAME_ATTRIBUTE) or t.metadata.request_type


@dataclass(frozen=True, slots=True)
class StepRow:
    """One line of the waterfall: the step, its depth in the tree, and its bar in per mille."""

    step: TrajectoryStep
    depth: int
    offset_ms: int
    bar_x: float
    bar_width: float
    outcome_kind: str
    outcome_text: str
    error: str | None
    parent: int | None
    attributes: list[tuple[str, str]] = field(default_factory=list)


def outcome_text(step: TrajectoryStep) -> tuple[str, str | None]:
    """A short text of the outcome, and the exception text of a failed step."""
    o = step.outcome
    if isinstance(o, FailureOutcome):
        return "failure", o.error
    if isinstance(o, PartialOutcome):
        return f"partial — achieved: {o.achieved}; missing: {o.missing}", None
    if isinstance(o, SkippedOutcome):
        return f"skipped: {o.reason}", None
    if isinstance(o, NeedsRetryOutcome):
        extra = f" (try: {', '.join(o.suggestions)})" if o.suggestions else ""
        return f"needs retry: {o.reason}{extra}", None
    return o.kind, None


def _parent(step: TrajectoryStep) -> int | None:
    if step.metadata is None:
        return None
    raw = step.metadata.attributes.get(attributes.STEP_PARENT_ATTRIBUTE)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def step_rows(t: Trajectory) -> list[StepRow]:
    """The steps in tree order (children under their ``parent_step``), with waterfall geometry."""
    steps = sorted(t.steps, key=lambda s: s.index)
    indices = {s.index for s in steps}
    children: dict[int | None, list[TrajectoryStep]] = {}
    for s in steps:
        p = _parent(s)
        children.setdefault(p if p in indices and p != s.index else None, []).append(s)
    offsets = {s.index: max(0, int((s.timestamp - t.started_at).total_seconds() * 1000)) for s in steps}
    span = max([t.total_latency_ms, 1, *(offsets[s.index] + s.latency_ms for s in steps)])
    ordered: list[tuple[TrajectoryStep, int]] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int) -> None:
        for s in children.get(parent, []):
            if s.index in seen:
                continue
            seen.add(s.index)
            ordered.append((s, depth))
            walk(s.index, depth + 1)

    walk(None, 0)
    ordered.extend((s, 0) for s in steps if s.index not in seen)  # a parent cycle: shown flat
    rows = []
    for s, depth in ordered:
        text, error = outcome_text(s)
        x = 1000.0 * offsets[s.index] / span
        width = max(2.0, 1000.0 * s.latency_ms / span)
        attrs = sorted(s.metadata.attributes.items()) if s.metadata is not None else []
        rows.append(
            StepRow(
                step=s,
                depth=min(depth, _MAX_DEPTH),
                offset_ms=offsets[s.index],
                bar_x=round(min(x, 998.0), 1),
                bar_width=round(min(width, 1000.0 - min(x, 998.0)), 1),
                outcome_kind=s.outcome.kind,
                outcome_text=text,
                error=error,
                parent=_parent(s),
                attributes=[(k, v) for k, v in attrs if k != attributes.STEP_PARENT_ATTRIBUTE],
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class QualityParts:
    """The trajectory's quality as docs/concepts.md computes it: mean step quality × verdict factor."""

    stored: float
    computed: float
    mean_step_quality: float | None
    factor: float | None
    factor_rule: str
    no_steps_rule: str | None

    @property
    def matches(self) -> bool:
        return abs(self.stored - self.computed) < 1e-6


def quality_parts(t: Trajectory) -> QualityParts:
    v = t.verdict
    if isinstance(v, SuccessVerdict):
        factor, rule = 1.0, "Success → 1.0"
    elif isinstance(v, PartialVerdict):
        factor, rule = 0.5 + 0.5 * v.completion_ratio, f"Partial → 0.5 + 0.5 × completion {v.completion_ratio:.2f}"
    elif isinstance(v, RecoveredVerdict):
        factor, rule = v.final_quality, "Recovered → final quality"
    else:
        factor, rule = 0.3, "Failure → 0.3"
    computed = compute_quality(t.steps, v)
    if not t.steps:
        no_steps = {
            "success": "no steps: Success → 1.0",
            "failure": "no steps: Failure → 0.0",
            "partial": "no steps: Partial → completion ratio",
        }.get(v.kind, "no steps: Recovered → final quality")
        return QualityParts(t.quality, computed, None, None, rule, no_steps)
    mean = sum(s.quality for s in t.steps) / len(t.steps)
    return QualityParts(t.quality, computed, mean, factor, rule, None)


def root_cause_text(t: Trajectory) -> tuple[str, str] | None:
    """(kind, text) of the root cause of a Failure, or the original failure of a Recovered verdict."""
    v = t.verdict
    if isinstance(v, FailureVerdict):
        return v.cause.kind, str(v.cause)
    if isinstance(v, RecoveredVerdict):
        return v.original_failure.kind, str(v.original_failure)
    return None


@dataclass(frozen=True, slots=True)
class RecalledItem:
    """One thing a run recalled: a stored trajectory (by id) or a key lesson (its id and text),
    and the memory's record when recalled (filled in by :func:`with_credit`)."""

    trajectory_id: int | None = None
    similarity: float | None = None
    quality: float | None = None
    verdict: str | None = None
    text: str | None = None
    helped: bool | None = None
    lesson_id: int | None = None
    credit: MemoryCredit | None = None

    @property
    def key(self) -> tuple[str, int] | None:
        if self.trajectory_id is not None:
            return ("trajectory", self.trajectory_id)
        if self.lesson_id is not None:
            return ("lesson", self.lesson_id)
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _item(raw: Any) -> RecalledItem | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return RecalledItem(trajectory_id=raw)
    if isinstance(raw, str):
        number = raw.removeprefix("traj-")
        return RecalledItem(trajectory_id=int(number)) if number.isdigit() else RecalledItem(text=raw)
    if not isinstance(raw, dict):
        return None
    ref = raw.get("id", raw.get("trajectory_id"))
    tid: int | None = None
    if isinstance(ref, int) and not isinstance(ref, bool):
        tid = ref
    elif isinstance(ref, str) and ref.removeprefix("traj-").isdigit():
        tid = int(ref.removeprefix("traj-"))
    lid: int | None = None
    if raw.get("kind") == "lesson":  # a key lesson's id is not a trajectory's
        tid, lid = None, tid
    text = next((raw[k] for k in ("lesson", "content", "text") if isinstance(raw.get(k), str)), None)
    helped = raw.get("helped")
    verdict = raw.get("verdict")
    return RecalledItem(
        trajectory_id=tid,
        similarity=_number(raw.get("similarity")),
        quality=_number(raw.get("quality")),
        verdict=verdict if isinstance(verdict, str) else None,
        text=text,
        helped=helped if isinstance(helped, bool) else None,
        lesson_id=lid,
    )


def with_credit(items: list[RecalledItem], credit: Mapping[tuple[str, int], MemoryCredit]) -> list[RecalledItem]:
    """*items* with each memory's record when recalled (uses, successes, mean quality)."""
    return [dataclasses.replace(i, credit=credit.get(i.key, MemoryCredit())) if i.key is not None else i for i in items]


def recalled_items(t: Trajectory) -> tuple[list[RecalledItem], list[tuple[str, str]]]:
    """What the run recalled (parsed ``recalled``), and the other ``recall*`` attributes as they are."""
    attrs = t.metadata.attributes
    items: list[RecalledItem] = []
    raw = attrs.get(RECALLED_ATTRIBUTE)
    extra = [(k, v) for k, v in sorted(attrs.items()) if k.startswith("recall") and k != RECALLED_ATTRIBUTE]
    if raw is not None:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        values = parsed if isinstance(parsed, list) else None
        if values is None:
            extra.insert(0, (RECALLED_ATTRIBUTE, raw))
        else:
            items = [item for item in map(_item, values) if item is not None]
    return items, extra


def parse_day_or_time(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or time from a form; a date alone is its first (or, for *end_of_day*, last) instant, UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if end_of_day and len(text.strip()) == 10:
        value = value + timedelta(days=1) - timedelta(microseconds=1)
    return value
