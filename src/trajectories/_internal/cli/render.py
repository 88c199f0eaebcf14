"""Text rendering for the command line: tables, the step tree, outcomes, progress on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

from ... import attributes
from ..model.outcome import (
    FailureOutcome,
    NeedsRetryOutcome,
    PartialOutcome,
    SkippedOutcome,
    StepOutcome,
)
from ..model.recall import QUERY_ATTRIBUTE
from ..model.trajectory import Trajectory, TrajectoryStep
from ..model.verdict import RecoveredVerdict, Verdict
from ..store.codec import trajectory_name
from ..text import plural as text_plural

__all__ = [
    "Progress",
    "outcome_text",
    "plural",
    "one_line",
    "query_of",
    "render_table",
    "render_tree",
    "summary_rows",
    "summary_row",
    "trajectory_summary",
    "verdict_text",
]

SUMMARY_HEADERS = ("ID", "NAME", "VERDICT", "QUALITY", "STEPS", "LATENCY", "STARTED")


def plural(n: int, word: str, words: str | None = None) -> str:
    """The count and its noun: ``1 trajectory``, ``2 trajectories`` (*words* defaults to *word* + "s")."""
    return f"{n} {text_plural(n, word, words or word + 's')}"


def verdict_text(verdict: Verdict) -> str:
    """The verdict as the CLI prints it: ruvllm's description, except that a recovery says which
    quality it names (the verdict's final quality, not the trajectory's) and counts attempts right."""
    if isinstance(verdict, RecoveredVerdict):
        attempts = plural(verdict.reflection_attempts, "attempt")
        return f"Recovered after {attempts}, final quality {verdict.final_quality:.0%}"
    return verdict.description


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain, aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]
    lines = []
    for r in cells:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    stripped = text.removesuffix(" ms")
    try:
        float(stripped)
    except ValueError:
        return False
    return True


def _time(t: Trajectory) -> str:
    return t.started_at.strftime("%Y-%m-%d %H:%M:%S")


def one_line(text: str, width: int | None = None) -> str:
    """Untrusted text (a request, a lesson) safe to print on one line: control characters, line
    and paragraph separators escaped (``\\n``, ``\\x1b``, ``\\u2028``: no terminal escapes, no
    forged lines); cut to at most *width* characters with ``…`` when given (never inside an escape)."""
    pieces = [c if c.isprintable() or c == " " else _escaped(c) for c in text]
    if width is None:
        return "".join(pieces)
    out: list[str] = []
    used = 0
    for i, piece in enumerate(pieces):
        rest = sum(len(p) for p in pieces[i:]) if used + len(piece) > width - 1 else 0
        if rest and used + rest > width:
            out.append("…")
            break
        out.append(piece)
        used += len(piece)
    return "".join(out)


def _escaped(c: str) -> str:
    return repr(c)[1:-1] if c not in "'\"" else c


def query_of(t: Trajectory) -> str | None:
    """The request text a trajectory was asked (stored only with content capture on)."""
    return t.metadata.attributes.get(QUERY_ATTRIBUTE)


#: How much of a request text a table row shows.
QUERY_WIDTH = 48


def summary_rows(ts: Sequence[Trajectory], headers: Sequence[str], lead: Sequence[Sequence[Any]] | None = None) -> str:
    """The summary table of *ts* (``lead`` cells first in each row); a QUERY column when any has one."""
    rows = [[*(lead[i] if lead is not None else ()), *summary_row(t)] for i, t in enumerate(ts)]
    queries = [query_of(t) for t in ts]
    if any(q is not None for q in queries):
        headers = (*headers, "QUERY")
        rows = [[*row, one_line(q, QUERY_WIDTH) if q is not None else "-"] for row, q in zip(rows, queries, strict=True)]
    return render_table(headers, rows)


def summary_row(t: Trajectory) -> list[Any]:
    return [
        str(t.id),
        trajectory_name(t) or "-",
        t.verdict.kind,
        f"{t.quality:.3f}",
        len(t.steps),
        f"{t.total_latency_ms} ms",
        _time(t),
    ]


def trajectory_summary(t: Trajectory) -> dict[str, Any]:
    """The short JSON form used by ``list --json`` and ``search --json``."""
    return {
        "id": int(t.id),
        "uuid": str(t.uuid),
        "name": trajectory_name(t),
        "verdict": t.verdict.kind,
        "quality": t.quality,
        "steps": len(t.steps),
        "total_latency_ms": t.total_latency_ms,
        "started_at": t.started_at.isoformat().replace("+00:00", "Z"),
        "session_id": t.metadata.session_id,
        "user_id": t.metadata.user_id,
        "query": query_of(t),
    }


def outcome_text(outcome: StepOutcome) -> str:
    if isinstance(outcome, PartialOutcome):
        return f"partial (achieved: {outcome.achieved}; missing: {outcome.missing})"
    if isinstance(outcome, FailureOutcome):
        return f"failure: {outcome.error}"
    if isinstance(outcome, SkippedOutcome):
        return f"skipped: {outcome.reason}"
    if isinstance(outcome, NeedsRetryOutcome):
        extra = f" (try: {', '.join(outcome.suggestions)})" if outcome.suggestions else ""
        return f"needs retry: {outcome.reason}{extra}"
    return outcome.kind


_MARK = {"success": "+", "partial": "~", "failure": "x", "skipped": "-", "needs_retry": "?"}


def _parent(step: TrajectoryStep) -> int | None:
    if step.metadata is None:
        return None
    raw = step.metadata.attributes.get(attributes.STEP_PARENT_ATTRIBUTE)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _step_line(s: TrajectoryStep) -> str:
    extra = []
    if s.metadata is not None:
        if s.metadata.tool_used:
            extra.append(f"tool={s.metadata.tool_used}")
        if s.metadata.model:
            extra.append(f"model={s.metadata.model}")
        if s.metadata.input_tokens or s.metadata.output_tokens:
            extra.append(f"tokens={s.metadata.input_tokens or 0}/{s.metadata.output_tokens or 0}")
    tail = ("  " + " ".join(extra)) if extra else ""
    return (
        f"[{_MARK.get(s.outcome.kind, '?')}] #{s.index} {s.action}  {s.latency_ms} ms  "
        f"{outcome_text(s.outcome)}  confidence {s.confidence:.2f}{tail}"
    )


def render_tree(t: Trajectory) -> str:
    """The trajectory header, then its steps as a tree (children under their ``parent_step``)."""
    name = trajectory_name(t) or "-"
    lines = [
        f"{t.id}  {name}  uuid {t.uuid}",
        f"verdict: {verdict_text(t.verdict)}  trajectory quality {t.quality:.3f}  {t.total_latency_ms} ms  "
        f"started {t.started_at.isoformat().replace('+00:00', 'Z')}",
    ]
    md = t.metadata
    facts = [
        f"{label} {value}"
        for label, value in (("session", md.session_id), ("user", md.user_id), ("request", md.request_type))
        if value
    ]
    if md.total_input_tokens or md.total_output_tokens:
        facts.append(f"tokens {md.total_input_tokens}/{md.total_output_tokens}")
    if md.models_used:
        facts.append("models " + ", ".join(md.models_used))
    if md.tools_invoked:
        facts.append("tools " + ", ".join(md.tools_invoked))
    if facts:
        lines.append("  ".join(facts))
    query = query_of(t)
    if query is not None:
        lines.append(f"query: {one_line(query)}")
    indices = {s.index for s in t.steps}
    children: dict[int | None, list[TrajectoryStep]] = {}
    for s in sorted(t.steps, key=lambda x: x.index):
        parent = _parent(s)
        children.setdefault(parent if parent in indices and parent != s.index else None, []).append(s)
    lines.append(f"steps ({len(t.steps)}):" if t.steps else "steps: none")

    def walk(parent: int | None, prefix: str, seen: frozenset[int]) -> None:
        kids = children.get(parent, [])
        for i, s in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(prefix + ("`-- " if last else "|-- ") + _step_line(s))
            if s.index not in seen:
                walk(s.index, prefix + ("    " if last else "|   "), seen | {s.index})

    walk(None, "", frozenset())
    if t.lessons:
        lines.append("lessons:")
        lines.extend(f"  - {lesson}" for lesson in t.lessons)
    return "\n".join(lines)


class Progress:
    """``done/total`` on one self-overwriting line of stderr, only when stderr is a terminal."""

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._shown = False

    def __call__(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        text = f"{self.label}: {done}" + (f"/{total}" if total else "")
        self.stream.write("\r" + text)
        self.stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
