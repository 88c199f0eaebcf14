"""Measured effect: how a memory's runs went, smoothed toward the base rate, and the ranking score.

For a memory used *n* times with *s* successes, in a store whose runs that recalled anything
succeeded at base rate *p₀* (itself smoothed: ``(S + 1) / (N + 2)`` over all those runs):

- **smoothed success rate** ``p = (s + m·p₀) / (n + m)``, with prior strength ``m = 6``: a
  memory never used sits at the base rate, one used once moves only a seventh of the way;
- **effect** ``e = p − p₀``: above zero, runs that recalled it went better than runs in general;
- **lift** ``p / p₀``: how many times as likely a run that recalled it was to succeed;
- **score** ``similarity × p / p₀ + x · m / (n + m)``: relevance weighted by lift, plus a small
  exploration bonus (``x = 0.02``) that fades as the memory is used, so new memories get tried.
  A memory whose runs keep failing sinks toward 0 however similar it is.

Why ``m = 6``: a run's outcome is evidence about everything it recalled together (``k = 5`` by
default) and about much else, so one use says little about one memory; a prior worth about
``k + 1`` uses keeps a memory from being buried by the failures of runs it did not cause.
``make bench-learning`` chose it from 2, 6 and 12: against similarity ranking, 6 removes most
of what 2 lost on a clean memory for a small part of what 2 gained where a third of the memory
is misleading (docs/learning.md, "Choosing the prior strength").

Worked example (docs/store.md has it with numbers): base rate 0.6; memory A, similarity 0.80,
used 4 times with 4 successes: p = (4 + 3.6) / 10 = 0.76, e = +0.16, lift 1.267, score =
0.80 × 1.267 + 0.02 × 6/10 = 1.025. Memory B, similarity 0.85, used 4 times with no success:
p = 3.6 / 10 = 0.36, e = −0.24, lift 0.6, score = 0.85 × 0.6 + 0.012 = 0.522. A ranks first
although B is more similar. At equal similarity and equal use, more successes always rank
higher (the score grows with *s*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ..store.credit import MemoryCredit

__all__ = ["EXPLORATION_BONUS", "PRIOR_STRENGTH", "RANKS", "Effect", "Rank", "base_rate", "measure"]

#: How many uses' worth of weight the base rate has in the smoothed success rate.
PRIOR_STRENGTH: Final = 6.0
#: The score bonus of a memory never used (it shrinks as ``m / (n + m)``).
EXPLORATION_BONUS: Final = 0.02

Rank = Literal["effect", "similarity"]
#: The ranking modes of ``lessons_for(rank=...)``.
RANKS: Final[tuple[Rank, ...]] = ("effect", "similarity")


def base_rate(totals: MemoryCredit) -> float:
    """The smoothed success rate of every run that recalled anything: ``(S + 1) / (N + 2)``."""
    return (totals.successes + 1.0) / (totals.uses + 2.0)


@dataclass(frozen=True, slots=True)
class Effect:
    """A memory's record when recalled and what it does to its rank."""

    uses: int
    successes: int
    #: Mean quality of the runs that recalled it (None if never used).
    mean_quality: float | None
    #: Raw success rate when recalled (None if never used).
    success_rate: float | None
    #: Success rate smoothed toward the base rate.
    smoothed_rate: float
    base_rate: float
    #: ``smoothed_rate − base_rate``.
    effect: float
    #: ``smoothed_rate / base_rate``.
    lift: float
    #: The ranking score (``rank="similarity"``: the similarity itself).
    score: float


def measure(similarity: float, credit: MemoryCredit | None, p0: float, rank: Rank = "effect") -> Effect:
    """The effect and ranking score of a memory at *similarity* with this *credit*."""
    c = credit or MemoryCredit()
    n, s = max(c.uses, 0), max(min(c.successes, c.uses), 0)
    smoothed = (s + PRIOR_STRENGTH * p0) / (n + PRIOR_STRENGTH)
    lift = smoothed / p0 if p0 > 0 else 1.0
    bonus = EXPLORATION_BONUS * PRIOR_STRENGTH / (n + PRIOR_STRENGTH)
    score = similarity * lift + bonus if rank == "effect" else similarity
    return Effect(n, s, c.mean_quality, c.success_rate, smoothed, p0, smoothed - p0, lift, score)
