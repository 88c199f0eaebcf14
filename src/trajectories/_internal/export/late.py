"""Late evaluation results: a verdict that reaches the exporter after its trajectory went out.

An evaluator (a user's thumbs-down, an LLM judge) often runs after the agent answered, in the
same trace, and records a ``gen_ai.evaluation.result`` event on a span of its own. When such a
span arrives after its trajectory was emitted, or when no trajectory of this exporter takes it
(``serve`` restarted and knows nothing of the trace), each readable evaluation becomes a
:class:`LateVerdict` that the delivery hands to the sinks that take feedback (the store:
``TrajectoryStore.feedback``), retried and dead-lettered like any delivery (docs/exporter.md,
"Late evaluation results"). Evaluations that cannot be read as a verdict are counted by reason.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ... import attributes as A
from ..model.constants import ns_to_datetime
from ..model.feedback import verdict_from_evaluation
from ..model.serde import from_dict, to_dict
from ..model.verdict import Verdict
from ..records import SpanLike

__all__ = [
    "REASON_NO_FEEDBACK_SINK",
    "REASON_NO_LABEL_OR_SCORE",
    "REASON_SCORE_NOT_A_NUMBER",
    "REASON_SCORE_OUT_OF_RANGE",
    "REASON_UNKNOWN_LABEL",
    "LateVerdict",
    "feedback_dead_letter_path",
    "has_evaluation",
    "read_evaluations",
]

#: The event has neither a score label nor a score value.
REASON_NO_LABEL_OR_SCORE = "no_label_or_score"
#: Its label is not one of the known labels, and it has no usable score.
REASON_UNKNOWN_LABEL = "unknown_label"
#: Its score is a number outside [0, 1] (or not finite), and no known label decides.
REASON_SCORE_OUT_OF_RANGE = "score_out_of_range"
#: Its score is not a number, and no known label decides.
REASON_SCORE_NOT_A_NUMBER = "score_not_a_number"
#: Readable, but no sink of this exporter takes feedback (no store).
REASON_NO_FEEDBACK_SINK = "no_feedback_sink"


@dataclass(frozen=True, slots=True)
class LateVerdict:
    """A later verdict for the trajectory with *uuid* (the trace id), or with *trajectory_id* when
    the span carried one; *source* is ``evaluation:<name>``; *at* when the evaluation span ended."""

    uuid: uuid_mod.UUID
    trajectory_id: int | None
    verdict: Verdict
    source: str
    at: datetime

    @property
    def id(self) -> str:
        """What the delivery's log lines name it by."""
        target = f"trajectory {self.trajectory_id}" if self.trajectory_id is not None else f"trajectory uuid {self.uuid}"
        return f"{self.verdict.kind} from {self.source} for {target}"

    def to_dict(self) -> dict[str, Any]:
        """One dead-letter line's value (``{"feedback": ...}``; :meth:`from_dict` reads it back)."""
        return {
            "feedback": {
                "uuid": str(self.uuid),
                "trajectory_id": self.trajectory_id,
                "verdict": to_dict(self.verdict),
                "source": self.source,
                "at": self.at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
            }
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LateVerdict:
        """The late verdict of a dead-letter line (``ValueError``/``TypeError``/``KeyError`` if it is not one)."""
        item = data["feedback"]
        tid = item.get("trajectory_id")
        verdict = from_dict(Verdict, item["verdict"])  # type: ignore[type-abstract]
        at = datetime.fromisoformat(str(item["at"]).replace("Z", "+00:00"))
        return cls(uuid_mod.UUID(str(item["uuid"])), tid if isinstance(tid, int) else None, verdict, str(item["source"]), at)


def feedback_dead_letter_path(dead_letter_path: str) -> str:
    """Where late verdicts that could not be delivered go: beside the trajectories' dead-letter
    file, ``<name>.feedback.jsonl`` (``trajectories-deadletter.feedback.jsonl`` by default)."""
    base = dead_letter_path[: -len(".jsonl")] if dead_letter_path.endswith(".jsonl") else dead_letter_path
    return base + ".feedback.jsonl"


def _events(span: SpanLike) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    try:
        raw = getattr(span, "events", ())
        out = []
        for e in raw:
            name, attributes = e if isinstance(e, tuple) else (e.name, e.attributes or {})
            out.append((name, attributes))
        return tuple(out)
    except Exception:  # a span object that misbehaves (untrusted input): no events
        return ()


def has_evaluation(span: SpanLike) -> bool:
    """Whether *span* carries an evaluation result that is not the SDK's own quality event."""
    return any(
        name == A.EVENT_EVALUATION_RESULT and attributes.get(A.GEN_AI_EVALUATION_NAME) != A.QUALITY_EVALUATION_NAME
        for name, attributes in _events(span)
    )


def _reason(label: object, score: object) -> str:
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            return REASON_SCORE_NOT_A_NUMBER
        return REASON_SCORE_OUT_OF_RANGE
    return REASON_UNKNOWN_LABEL if label is not None else REASON_NO_LABEL_OR_SCORE


def read_evaluations(span: SpanLike, trajectory_id: int | None) -> tuple[list[LateVerdict], dict[str, int]]:
    """The late verdicts of *span*'s evaluation events, and those it could not read, by reason.

    The SDK's own ``trajectory.quality`` event (on every root span: it restates the verdict the
    trajectory has) is skipped. Never raises.
    """
    verdicts: list[LateVerdict] = []
    ignored: dict[str, int] = {}
    events = [attrs for name, attrs in _events(span) if name == A.EVENT_EVALUATION_RESULT]
    if not events:
        return verdicts, ignored
    try:
        trace_id = span.trace_id if isinstance(span.trace_id, int) else 0
        target = uuid_mod.UUID(int=trace_id & ((1 << 128) - 1))
        end = span.end_ns if isinstance(span.end_ns, int) and span.end_ns > 0 else None
        at = ns_to_datetime(end) if end is not None else datetime.now(timezone.utc)
    except Exception:
        return verdicts, {REASON_NO_LABEL_OR_SCORE: len(events)}
    for attrs in events:
        name = attrs.get(A.GEN_AI_EVALUATION_NAME)
        if name == A.QUALITY_EVALUATION_NAME:
            continue
        label = attrs.get(A.GEN_AI_EVALUATION_SCORE_LABEL)
        score = attrs.get(A.GEN_AI_EVALUATION_SCORE_VALUE)
        explanation = attrs.get(A.GEN_AI_EVALUATION_EXPLANATION)
        name_text = name if isinstance(name, str) and name else None
        try:
            verdict = verdict_from_evaluation(
                name=name_text,
                label=label if isinstance(label, str) else None,
                score=score if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
                explanation=explanation if isinstance(explanation, str) and explanation else None,
            )
        except (TypeError, ValueError):
            verdict = None
        if verdict is None:  # no known label, and no score in [0, 1]
            reason = _reason(label, score)
            ignored[reason] = ignored.get(reason, 0) + 1
            continue
        source = f"evaluation:{name_text}" if name_text is not None else "evaluation"
        verdicts.append(LateVerdict(target, trajectory_id, verdict, source, at))
    return verdicts, ignored
