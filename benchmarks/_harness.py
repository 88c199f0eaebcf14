"""Timing helpers shared by the benchmarks: interleaved repetitions, medians and spreads.

The machines these run on are small and shared, so every comparison is made inside one
process, its variants interleaved in a shuffled order each round, and reported as the
median over rounds with the interquartile range. Ratios are computed per round (both
sides measured moments apart) and their median is reported, which cancels most of the
drift that a noisy neighbour causes.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Spread", "interleave", "quantiles", "rss_bytes", "spread"]


@dataclass(frozen=True)
class Spread:
    """Median and interquartile range of a sample."""

    median: float
    q1: float
    q3: float
    n: int

    def scaled(self, factor: float) -> Spread:
        return Spread(self.median * factor, self.q1 * factor, self.q3 * factor, self.n)

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "q1": self.q1, "q3": self.q3, "n": self.n}


def quantiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


def spread(values: Sequence[float]) -> Spread:
    q1, med, q3 = quantiles(values)
    return Spread(med, q1, q3, len(values))


def interleave(
    runners: Mapping[str, Callable[[int], float]],
    *,
    rounds: int,
    target_s: float = 0.02,
    seed: int = 7,
) -> dict[str, list[float]]:
    """Per-call seconds of each runner, one sample per round.

    ``runner(n)`` performs *n* calls and returns the elapsed seconds. Each runner is first
    calibrated so that one repetition takes about *target_s*; then every round runs each
    runner once, in a shuffled order, with a garbage collection before each repetition.
    """
    sizes: dict[str, int] = {}
    for name, run in runners.items():
        run(50)  # warm up caches and lazy imports
        n = 50
        while True:
            elapsed = run(n)
            if elapsed >= target_s / 4 or n >= 1 << 22:
                break
            n *= 4
        sizes[name] = max(1, int(n * target_s / max(elapsed, 1e-9)))
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            gc.collect()
            n = sizes[name]
            samples[name].append(runners[name](n) / n)
    return samples


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def clock() -> float:
    return time.perf_counter()
