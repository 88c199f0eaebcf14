"""Findings specific to one trajectory: which steps went wrong, how, and what (not) to do.

ruvllm's verdict analysis (``analyze``) is kept exactly as the crate computes it; its rules are
generic ("Consider adding verification steps"). These findings are this SDK's own addition and
are reported beside it, never mixed into its fields: they name the steps, tools and errors the
trajectory shows, and tell a permission error apart from a timeout (one is not worth a retry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..model.outcome import FailureOutcome, NeedsRetryOutcome, PartialOutcome, SkippedOutcome
from ..model.trajectory import Trajectory, TrajectoryStep
from ..model.verdict import FailureVerdict, PartialVerdict, RecoveredVerdict, ToolFailure
from ..validate import shown

__all__ = ["ERROR_KINDS", "Finding", "classify_error", "findings"]

#: Error kinds, the patterns that recognise them (first match wins), and the advice for each.
ERROR_KINDS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "permission",
        re.compile(r"permission|forbidden|unauthori[sz]ed|access denied|not allowed|\b40[13]\b|EACCES|EPERM", re.I),
        "retrying will not help: check the credentials or permissions, or do not attempt this action",
    ),
    (
        "timeout",
        re.compile(r"timeout|timed out|deadline exceeded|\b504\b|ETIMEDOUT", re.I),
        "a retry with backoff or a longer deadline may help",
    ),
    (
        "rate_limit",
        re.compile(r"rate.?limit|too many requests|\b429\b|quota", re.I),
        "back off before retrying, or lower the request rate",
    ),
    (
        "not_found",
        re.compile(r"not found|no such|does not exist|FileNotFoundError|KeyError|LookupError|\b404\b|ENOENT", re.I),
        "check the identifier or input it was given; a retry with the same input will fail again",
    ),
    (
        "invalid_input",
        re.compile(r"invalid|ValueError|TypeError|validation|malformed|\b400\b|\b422\b", re.I),
        "fix the arguments it was called with; a retry with the same input will fail again",
    ),
    (
        "connection",
        re.compile(r"connection|unreachable|refused|reset by peer|\b50[023]\b|unavailable|ECONN", re.I),
        "the service was unavailable: a retry later may help",
    ),
)


def classify_error(error: str) -> tuple[str, str] | None:
    """(kind, advice) for an error text, or None when no known kind matches."""
    if not isinstance(error, str):
        raise TypeError(f"error must be a str, got {type(error).__name__}: {shown(error)}")
    for kind, pattern, advice in ERROR_KINDS:
        if pattern.search(error):
            return kind, advice
    return None


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: its kind, the step it is about (if any) and the text."""

    kind: str
    text: str
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "text": self.text}


def _name(s: TrajectoryStep) -> str:
    tool = s.metadata.tool_used if s.metadata is not None else None
    return f"step #{s.index} {s.action!r}" + (f" (tool {tool!r})" if tool else "")


def _step_findings(t: Trajectory) -> list[Finding]:
    out: list[Finding] = []
    steps = sorted(t.steps, key=lambda s: s.index)
    for s in steps:
        o = s.outcome
        if isinstance(o, FailureOutcome):
            known = classify_error(o.error)
            later = next((x for x in steps if x.index > s.index and x.action == s.action and x.outcome.is_success), None)
            text = f"{_name(s)} failed after {s.latency_ms} ms: {o.error}"
            if known is not None:
                kind, advice = known
                verb = {"timeout": "timed out", "permission": "was refused permission"}.get(kind)
                if verb is not None:
                    text = f"{_name(s)} {verb} after {s.latency_ms} ms: {o.error}"
                text += f"; {advice}"
            else:
                kind = "failure"
            if later is not None:
                text += f" (step #{later.index} succeeded at the same action)"
            out.append(Finding(kind, text, s.index))
        elif isinstance(o, PartialOutcome):
            out.append(Finding("partial", f"{_name(s)} was partial: achieved {o.achieved!r}, missing {o.missing!r}", s.index))
        elif isinstance(o, SkippedOutcome):
            out.append(Finding("skipped", f"{_name(s)} was skipped: {o.reason}", s.index))
        elif isinstance(o, NeedsRetryOutcome):
            tried = f"; suggested: {', '.join(o.suggestions)}" if o.suggestions else ""
            out.append(Finding("needs_retry", f"{_name(s)} asked for a retry: {o.reason}{tried}", s.index))
    return out


def findings(trajectory: Trajectory) -> tuple[Finding, ...]:
    """What this trajectory's steps show: each step that did not succeed, by name, with what it
    missed or the error it raised (and whether a retry can help), then the verdict in those terms."""
    if not isinstance(trajectory, Trajectory):
        raise TypeError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}: {shown(trajectory)}")
    t = trajectory
    out = _step_findings(t)
    not_ok = [s for s in sorted(t.steps, key=lambda s: s.index) if not s.outcome.is_success]
    v = t.verdict
    if isinstance(v, PartialVerdict):
        if not_ok:
            names = "; ".join(
                f"#{s.index} {s.action!r}" + (f" missing {s.outcome.missing!r}" if isinstance(s.outcome, PartialOutcome) else "")
                for s in not_ok
            )
            out.append(Finding("verdict", f"partial ({v.completion_ratio:.0%} complete): not successful: {names}"))
        else:
            out.append(
                Finding(
                    "verdict",
                    f"partial ({v.completion_ratio:.0%} complete) although every step succeeded: the "
                    "missing part was never attempted",
                )
            )
    elif isinstance(v, FailureVerdict):
        cause = v.cause
        if isinstance(cause, ToolFailure):
            users = [s for s in t.steps if s.metadata is not None and s.metadata.tool_used == cause.tool]
            where = ", ".join(f"#{s.index} {s.action!r}" for s in users) or "no recorded step"
            out.append(Finding("verdict", f"failed on tool {cause.tool!r} ({cause.error}), used by {where}"))
        else:
            out.append(Finding("verdict", f"failed: {cause}"))
        known = classify_error(str(cause))
        if known is not None and known[0] == "permission":
            out.append(Finding("permission", f"the root cause is a permission error: {known[1]}"))
    elif isinstance(v, RecoveredVerdict):
        failed = [s for s in t.steps if s.outcome.is_failure]
        first = f"#{failed[0].index} {failed[0].action!r}" if failed else "a step"
        attempts = v.reflection_attempts
        out.append(
            Finding(
                "verdict",
                f"recovered from {v.original_failure} (first failing: {first}) after {attempts} "
                f"attempt{'s' if attempts != 1 else ''}",
            )
        )
    if t.steps and t.total_latency_ms > 0:
        slowest = max(t.steps, key=lambda s: s.latency_ms)
        share = slowest.latency_ms / t.total_latency_ms
        if len(t.steps) > 1 and share >= 0.5:
            out.append(
                Finding("latency", f"{_name(slowest)} took {slowest.latency_ms} ms, {share:.0%} of the trajectory", slowest.index)
            )
    low = [s for s in t.steps if s.confidence < 0.5]
    if low:
        out.append(
            Finding(
                "confidence", "low confidence (< 0.5): " + ", ".join(f"#{s.index} {s.action!r} {s.confidence:.2f}" for s in low)
            )
        )
    return tuple(out)
