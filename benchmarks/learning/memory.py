"""Recall and the policy's one use of it: :func:`recall` asks the SDK, :func:`choose_plan` decides.

The ranking is a parameter of the run. ``"similarity"`` is today's ``lessons_for()``;
``"effect"`` is the effect-weighted ranking of issue 15, passed as ``lessons_for(...,
rank="effect")`` and available only once ``lessons_for`` takes a ``rank`` argument (checked,
never faked: :func:`ranking_available`).

:func:`choose_plan` reads only what recall returned: the lessons the agent wrote into past
trajectories ("Plan that worked: ..." / "Plan that failed: ...") and distilled key lessons
of the same form. A plan's score is the summed similarity of the memories that say it worked
minus that of those that say it failed; the best plan with a positive score is followed.
It never sees a task's family.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trajectories.learning import Recall, lessons_for
from trajectories.store import TrajectoryStore

from .world import TOOLS, Call

__all__ = [
    "FAILED",
    "RANKINGS",
    "WORKED",
    "Decision",
    "choose_plan",
    "parse_plan",
    "ranking_available",
    "recall",
]

RANKINGS = ("similarity", "effect")
WORKED = "Plan that worked: "
FAILED = "Plan that failed: "
_CALL = re.compile(r"(\w+)\((\w+)\)")


def ranking_available(rank: str) -> bool:
    """Whether this SDK can rank recall by *rank* (``"effect"`` needs issue 15's ``lessons_for(rank=)``)."""
    if rank not in RANKINGS:
        raise ValueError(f"rank must be one of {RANKINGS}, got {rank!r}")
    return rank == "similarity" or "rank" in inspect.signature(lessons_for).parameters


def recall(store: TrajectoryStore, text: str, k: int, rank: str) -> Recall:
    """``lessons_for(text, k, store=store)``, ranked by *rank*."""
    if "rank" not in inspect.signature(lessons_for).parameters:
        if rank != "similarity":
            raise RuntimeError(f"rank={rank!r} needs lessons_for(rank=...) (issue 15)")
        return lessons_for(text, k, store=store)
    options: dict[str, Any] = {"rank": rank}
    return lessons_for(text, k, store=store, **options)


def parse_plan(text: str) -> tuple[Call, ...] | None:
    """``lookup_customer(email) -> issue_refund(original_payment)`` back into calls; None if it is not a plan."""
    calls = tuple((m.group(1), m.group(2)) for m in _CALL.finditer(text))
    if not calls or any(tool not in TOOLS or arg not in TOOLS[tool] for tool, arg in calls):
        return None
    return calls


@dataclass(frozen=True, slots=True)
class Decision:
    """What the agent will try first, and what it will not do."""

    plan: tuple[Call, ...]
    score: float
    #: Calls that ended similar tasks badly, each with the accepted calls before it:
    #: (prefix, call) is skipped whenever the agent has made exactly *prefix*.
    avoid: frozenset[tuple[tuple[Call, ...], Call]]


Tally = dict[tuple[Call, ...], float]


def _votes(lessons: Iterable[str], weight: float, worked: Tally, failed: Tally) -> None:
    for lesson in lessons:
        for prefix, tally in ((WORKED, worked), (FAILED, failed)):
            if lesson.startswith(prefix):
                plan = parse_plan(lesson[len(prefix) :])
                if plan is not None:
                    tally[plan] = tally.get(plan, 0.0) + weight


def _cosine(a: Any, b: Any) -> float:
    x, y = np.asarray(a, dtype=np.float32).ravel(), np.asarray(b, dtype=np.float32).ravel()
    if x.size != y.size or x.size == 0:
        return 0.0
    denom = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / denom if denom > 0.0 else 0.0


def choose_plan(found: Recall, query_embedding: Any) -> Decision:
    """The plan to follow, and the calls to avoid, given what recall returned.

    Each recalled memory votes with its similarity: "worked" for its plan, "failed" against
    every plan that begins with the failed sequence (whose last call is the one that broke the
    task). A plan's score is its votes for minus the votes against; the best positive one is
    followed (an empty plan means: explore). A failed sequence whose votes against outweigh the
    plans that go through it becomes an *avoid* entry for exploration as well.
    """
    worked: Tally = {}
    failed: Tally = {}
    for experience in found.experiences:
        _votes(experience.trajectory.lessons, experience.similarity, worked, failed)
    for key in found.key_lessons:
        _votes((key.content,), max(0.0, _cosine(query_embedding, key.embedding)), worked, failed)
    avoid = frozenset(
        (seq[:-1], seq[-1])
        for seq, against in failed.items()
        if against > sum(w for plan, w in worked.items() if plan[: len(seq)] == seq)
    )
    best: tuple[Call, ...] = ()
    best_score = 0.0
    for plan in sorted(worked, key=str):
        score = worked[plan] - sum(w for seq, w in failed.items() if plan[: len(seq)] == seq)
        if score > best_score:
            best, best_score = plan, score
    return Decision(best, best_score, avoid)
