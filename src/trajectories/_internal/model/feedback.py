"""A verdict that arrives after the run: a user's thumbs-down, an evaluator's score.

:func:`with_feedback` gives the trajectory its new verdict, recomputes its quality by ruvllm's
formula and keeps the verdict it replaces in ``metadata.attributes["verdict.history"]`` (a JSON
list, oldest first). :func:`verdict_from_evaluation` reads a GenAI ``gen_ai.evaluation.result``
(its score label or value) as a verdict; ``trajectories feedback --score`` uses the same rule.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timezone
from typing import Final

from ..validate import check_str, shown
from .recall import VERDICT_HISTORY_ATTRIBUTE
from .serde import to_dict
from .trajectory import Trajectory, compute_quality
from .verdict import RootCause, Verdict

__all__ = [
    "FAILURE_LABELS",
    "SUCCESS_LABELS",
    "verdict_from_evaluation",
    "verdict_from_score",
    "verdict_history",
    "with_feedback",
]

#: Evaluation labels read as success (compared lower-case, with ``-`` and spaces as ``_``).
SUCCESS_LABELS: Final = frozenset(
    {"pass", "passed", "success", "succeeded", "correct", "good", "positive", "thumbs_up", "yes", "true", "helpful", "resolved"}
)
#: Evaluation labels read as failure.
FAILURE_LABELS: Final = frozenset(
    {
        "fail",
        "failed",
        "failure",
        "incorrect",
        "wrong",
        "bad",
        "negative",
        "thumbs_down",
        "no",
        "false",
        "unhelpful",
        "unresolved",
    }
)


def verdict_from_score(score: float, *, cause: str = "negative feedback") -> Verdict:
    """A score in [0, 1] as a verdict: 1 is success, 0 is failure, between is partial with that ratio."""
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise TypeError(f"score must be a number in [0, 1], got {type(score).__name__}: {shown(score)}")
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise ValueError(f"score must be a number in [0, 1], got {shown(score)}")
    if score >= 1.0:
        return Verdict.success()
    if score <= 0.0:
        return Verdict.failure(RootCause.unknown(cause))
    return Verdict.partial(float(score))


def verdict_from_evaluation(
    *, name: str | None = None, label: str | None = None, score: float | None = None, explanation: str | None = None
) -> Verdict | None:
    """The verdict an evaluation result means, or None if it cannot be read as one.

    A known label (:data:`SUCCESS_LABELS`, :data:`FAILURE_LABELS`) decides; otherwise a score
    value in [0, 1] does (:func:`verdict_from_score`). A failure's cause is ``Unknown`` with
    the explanation (else "negative evaluation <name>").
    """
    cause = explanation or (f"negative evaluation {name}" if name else "negative evaluation")
    if isinstance(label, str):
        key = label.strip().lower().replace("-", "_").replace(" ", "_")
        if key in SUCCESS_LABELS:
            return Verdict.success()
        if key in FAILURE_LABELS:
            return Verdict.failure(RootCause.unknown(cause))
    if isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score) and 0.0 <= score <= 1.0:
        return verdict_from_score(float(score), cause=cause)
    return None


def verdict_history(t: Trajectory) -> list[dict[str, object]]:
    """The verdicts feedback replaced, oldest first (``[]`` if none, or if the value is unreadable)."""
    raw = t.metadata.attributes.get(VERDICT_HISTORY_ATTRIBUTE)
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        return []
    return [item for item in parsed if isinstance(item, dict)] if isinstance(parsed, list) else []


def with_feedback(t: Trajectory, verdict: Verdict, *, source: str = "api", at: datetime | None = None) -> Trajectory:
    """*t* with *verdict*: quality recomputed from its steps (ruvllm's ``compute_quality``) and the
    replaced verdict, its quality, when and from whom the change came appended to the history."""
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verdict must be a Verdict, got {type(verdict).__name__}: {shown(verdict)}")
    check_str("source", source)
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    history = verdict_history(t)
    history.append(
        {
            "verdict": to_dict(t.verdict),
            "quality": t.quality,
            "replaced_at": when.isoformat().replace("+00:00", "Z"),
            "source": source,
        }
    )
    attributes = dict(t.metadata.attributes)
    attributes[VERDICT_HISTORY_ATTRIBUTE] = json.dumps(history, ensure_ascii=False, separators=(",", ":"))
    metadata = dataclasses.replace(t.metadata, attributes=attributes)
    return dataclasses.replace(t, verdict=verdict, quality=compute_quality(t.steps, verdict), metadata=metadata)
