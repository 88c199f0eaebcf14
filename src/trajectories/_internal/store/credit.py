"""Credit: what each recalled memory's runs came to. Backend-neutral planning of the updates.

Every stored trajectory that recalled memories *contributes* to each of them: one use, one
success if it succeeded (``Trajectory.is_success``: success or any recovery), and its quality.
The store keeps each trajectory's contribution (``credit_given``) next to the totals per
memory (``memory_credit``), and changes both in the transaction that writes the trajectory:
writing it again replaces its old contribution with the new one, so a re-import, a replay or
a retried delivery adds nothing, and a later verdict (feedback) moves the totals by the
difference. The invariant, tested on both backends: each memory's totals are the sum of the
contributions that name it. A special key, :data:`BASE_KEY`, totals every contributing run
once: its success rate is the base rate that effect ranking smooths toward.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ..model.lessons import KeyLesson
from ..model.recall import MEMORY_KINDS, recalled_of
from ..model.trajectory import Trajectory
from .codec import from_db_id, to_db_id

__all__ = [
    "BASE_KEY",
    "Contribution",
    "CreditPlan",
    "MemoryCredit",
    "MemoryKey",
    "check_memory_kind",
    "contribution_of",
    "decode_given",
    "delta_rows",
    "lesson_ids_in",
    "lesson_merges",
    "resolve_aliases",
    "plan_credit",
    "plan_lesson_merge",
]

logger = logging.getLogger(__name__)

#: (kind, id): a stored trajectory (``"trajectory"``) or a key lesson (``"lesson"``, ``lesson_id``).
MemoryKey = tuple[str, int]
#: The totals over every run that recalled anything (one use per run).
BASE_KEY: Final[MemoryKey] = ("all", 0)


def check_memory_kind(argument: str, value: object) -> str | None:
    if value is None:
        return None
    if value not in MEMORY_KINDS:
        raise ValueError(f"{argument} must be one of {', '.join(MEMORY_KINDS)} or None, got {value!r}")
    return str(value)


@dataclass(frozen=True, slots=True)
class MemoryCredit:
    """How a memory fared when recalled: the runs that used it, how many succeeded, their summed quality."""

    uses: int = 0
    successes: int = 0
    quality_sum: float = 0.0

    @property
    def success_rate(self) -> float | None:
        """Successes per use, or None if the memory was never used."""
        return self.successes / self.uses if self.uses > 0 else None

    @property
    def mean_quality(self) -> float | None:
        """Mean quality of the runs that used it, or None if it was never used."""
        return self.quality_sum / self.uses if self.uses > 0 else None

    def to_dict(self) -> dict[str, object]:
        return {
            "uses": self.uses,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "mean_quality": self.mean_quality,
        }


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one stored trajectory adds to each memory it recalled."""

    success: bool
    quality: float
    memories: tuple[MemoryKey, ...]

    def encode(self) -> str:
        return json.dumps([[k, i] for k, i in self.memories], separators=(",", ":"))

    @classmethod
    def decode(cls, success: object, quality: object, text: str) -> Contribution:
        raw = json.loads(text)
        return cls(bool(success), float(quality), tuple((str(k), int(i)) for k, i in raw))  # type: ignore[arg-type]


def contribution_of(t: Trajectory) -> Contribution | None:
    """The contribution of *t*, or None if it recalled nothing."""
    memories = recalled_of(t.metadata.attributes)
    if not memories:
        return None
    keys = tuple(sorted({m.key for m in memories}))
    return Contribution(bool(t.is_success), float(t.quality), keys)


@dataclass(frozen=True, slots=True)
class CreditPlan:
    """The updates one write makes: increments per memory, contributions to write and to remove."""

    #: (kind, id, d_uses, d_successes, d_quality), sorted by key (a lock order for concurrent writers).
    deltas: list[tuple[str, int, int, int, float]]
    #: (trajectory id, contribution) to upsert.
    upserts: list[tuple[int, Contribution]]
    #: trajectory ids whose contribution goes.
    removals: list[int]


def _add(acc: dict[MemoryKey, list[float]], key: MemoryKey, sign: int, c: Contribution) -> None:
    entry = acc.setdefault(key, [0, 0, 0.0])
    entry[0] += sign
    entry[1] += sign * int(c.success)
    entry[2] += sign * c.quality


def plan_credit(new: Mapping[int, Contribution | None], old: Mapping[int, Contribution]) -> CreditPlan:
    """The updates that replace the *old* contributions of the trajectories in *new* by their new
    ones (None: it recalls nothing now)."""
    acc: dict[MemoryKey, list[float]] = {}
    upserts: list[tuple[int, Contribution]] = []
    removals: list[int] = []
    for tid, contribution in new.items():
        before = old.get(tid)
        if before == contribution:
            continue
        if before is not None:
            for key in before.memories:
                _add(acc, key, -1, before)
            _add(acc, BASE_KEY, -1, before)
        if contribution is not None:
            for key in contribution.memories:
                _add(acc, key, +1, contribution)
            _add(acc, BASE_KEY, +1, contribution)
            upserts.append((tid, contribution))
        elif before is not None:
            removals.append(tid)
    deltas = [(k, i, int(v[0]), int(v[1]), float(v[2])) for (k, i), v in sorted(acc.items()) if v[0] or v[1] or abs(v[2]) > 1e-12]
    return CreditPlan(deltas, sorted(upserts, key=lambda item: item[0]), sorted(removals))


def plan_lesson_merge(
    merges: Sequence[tuple[int, tuple[int, ...]]], given: Iterable[tuple[int, Contribution]]
) -> tuple[list[tuple[int, Contribution]], list[tuple[str, int, int, int, float]]]:
    """When distillation merges lessons: the contributions that named a merged-away lesson, now
    naming the lesson that absorbed it, and the corrections for runs that named both (they count
    once). The merged-away lessons' totals move separately (backends add them to the absorber)."""
    target = {("lesson", f): ("lesson", to) for to, froms in merges for f in froms}
    rewritten: list[tuple[int, Contribution]] = []
    acc: dict[MemoryKey, list[float]] = {}
    for tid, c in given:
        if not any(k in target for k in c.memories):
            continue
        mapped = [target.get(k, k) for k in c.memories]
        unique = tuple(sorted(set(mapped)))
        for key in unique:
            extra = mapped.count(key) - 1
            if extra:
                for _ in range(extra):
                    _add(acc, key, -1, c)
        rewritten.append((tid, Contribution(c.success, c.quality, unique)))
    deltas = [(k, i, int(v[0]), int(v[1]), float(v[2])) for (k, i), v in sorted(acc.items())]
    return rewritten, deltas


def decode_given(rows: Iterable[tuple[int, object, object, str]]) -> dict[int, Contribution]:
    """Stored contribution rows ``(trajectory id, success, quality, memories)`` by trajectory id;
    one that cannot be read is logged and left out (writing the run again replaces it)."""
    out: dict[int, Contribution] = {}
    for tid, success, quality, memories in rows:
        try:
            out[tid] = Contribution.decode(success, quality, memories)
        except (ValueError, TypeError) as exc:
            logger.warning("the recorded credit of traj-%d cannot be read (%s); it is replaced", from_db_id(tid), exc)
    return out


def delta_rows(deltas: Iterable[tuple[str, int, int, int, float]]) -> list[tuple[str, int, int, int, float]]:
    """Planned increments as database rows (ids in the stores' signed 64-bit form)."""
    return [(k, to_db_id(i), du, ds, dq) for k, i, du, ds, dq in deltas]


def lesson_ids_in(contributions: Iterable[Contribution | None]) -> list[int]:
    """The lesson ids these contributions name (to look their aliases up)."""
    return sorted({i for c in contributions if c is not None for k, i in c.memories if k == "lesson"})


def resolve_aliases(
    contributions: Mapping[int, Contribution | None], aliases: Mapping[int, int]
) -> dict[int, Contribution | None]:
    """Contributions naming a lesson that distillation merged into another name the absorber
    instead (each memory once), so a run stored again after the merge credits where its credit went."""
    if not aliases:
        return dict(contributions)
    out: dict[int, Contribution | None] = {}
    for tid, c in contributions.items():
        if c is None or not any(k == "lesson" and i in aliases for k, i in c.memories):
            out[tid] = c
            continue
        keys = {(k, aliases.get(i, i) if k == "lesson" else i) for k, i in c.memories}
        out[tid] = Contribution(c.success, c.quality, tuple(sorted(keys)))
    return out


def lesson_merges(lessons: Iterable[KeyLesson]) -> list[tuple[int, tuple[int, ...]]]:
    """(lesson id, ids merged into it) for each lesson that absorbed others, for ``save_distillation``."""
    out: list[tuple[int, tuple[int, ...]]] = []
    for lesson in lessons:
        merged = tuple(i for i in lesson.merged_from if i != lesson.id)
        if merged:
            out.append((lesson.id, merged))
    return out
