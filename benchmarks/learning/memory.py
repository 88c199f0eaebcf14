"""Recall and the policy's one use of it: :func:`recall` asks the SDK, :func:`choose_plan` decides.

The ranking is a parameter of the run, always passed explicitly: ``lessons_for(...,
rank="similarity")`` orders by similarity alone (the benchmark's earlier baseline);
``rank="effect"`` (the SDK's default) weights similarity by each memory's measured effect,
from the credit the store keeps of the runs that recalled it.

:func:`choose_plan` reads only what recall returned: the lessons the agent wrote into past
trajectories ("Plan that worked: ..." / "Plan that failed: ...") and distilled key lessons
of the same form. Each memory votes with its ranking score (under ``rank="similarity"`` the
score *is* the similarity). A plan's score is the summed votes of the memories that say it
worked minus those that say it failed; the best plan with a positive score is followed. A
stored verdict overrides a lesson's claim: a trajectory that a later verdict turned into a
failure votes against the plan its lesson says worked. It never sees a task's family.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast

from trajectories.learning import Recall, lessons_for
from trajectories.store import TrajectoryStore

from .world import TOOLS, Call

__all__ = [
    "FAILED",
    "RANKINGS",
    "WORKED",
    "Decision",
    "choose_plan",
    "check_rank",
    "parse_plan",
    "recall",
]

RANKINGS = ("similarity", "effect")
WORKED = "Plan that worked: "
FAILED = "Plan that failed: "
_CALL = re.compile(r"(\w+)\((\w+)\)")


Rank = Literal["similarity", "effect"]


def check_rank(rank: str) -> Rank:
    """*rank* if it is one of :data:`RANKINGS`, else ValueError."""
    if rank not in RANKINGS:
        raise ValueError(f"rank must be one of {RANKINGS}, got {rank!r}")
    return cast(Rank, rank)


def recall(store: TrajectoryStore, text: str, k: int, rank: str) -> Recall:
    """``lessons_for(text, k, store=store, rank=rank)``: the ranking is always explicit."""
    return lessons_for(text, k, store=store, rank=check_rank(rank))


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


def _votes(lessons: Iterable[str], weight: float, worked: Tally, failed: Tally, *, overturned: bool = False) -> None:
    """Tally *lessons* with *weight*; *overturned*: the run's verdict is now a failure, so what
    its lesson says worked counts as failed."""
    for lesson in lessons:
        for prefix, tally in ((WORKED, failed if overturned else worked), (FAILED, failed)):
            if lesson.startswith(prefix):
                plan = parse_plan(lesson[len(prefix) :])
                if plan is not None:
                    tally[plan] = tally.get(plan, 0.0) + weight


def choose_plan(found: Recall) -> Decision:
    """The plan to follow, and the calls to avoid, given what recall returned.

    Each recalled memory (past trajectory or key lesson) votes with its ranking score:
    "worked" for its plan, "failed" against every plan that begins with the failed sequence
    (whose last call is the one that broke the task). A trajectory recorded as a success whose
    verdict a later feedback overturned votes "failed" for its plan. A plan's score is its votes
    for minus the votes against; the best positive one is followed (an empty plan means:
    explore). A failed sequence whose votes against outweigh the plans that go through it
    becomes an *avoid* entry for exploration as well.
    """
    worked: Tally = {}
    failed: Tally = {}
    for experience in found.experiences:
        t = experience.trajectory
        _votes(t.lessons, max(0.0, experience.score), worked, failed, overturned=not t.is_success)
    for past in found.past_lessons:
        _votes((past.lesson.content,), max(0.0, past.score), worked, failed)
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
