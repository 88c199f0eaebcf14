"""Turn runs into figures: per arm, success and steps with 95% intervals over seeds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .runner import RunResult
from .stats import mean_ci

__all__ = ["summarise_arm", "summarise_eval"]

#: A family's first tasks (it is new to the memory) against its later ones.
EARLY = 5


def _steps_per_solved(r: RunResult) -> float:
    solved = [s for s, ok in zip(r.steps, r.solved, strict=True) if ok]
    return float(np.mean(solved)) if solved else float("nan")


def _early_late(r: RunResult) -> tuple[float, float]:
    seen: Counter[str] = Counter()
    early: list[bool] = []
    late: list[bool] = []
    for fam, ok in zip(r.family, r.solved, strict=True):
        seen[fam] += 1
        (early if seen[fam] <= EARLY else late).append(ok)
    return float(np.mean(early)) if early else float("nan"), float(np.mean(late)) if late else float("nan")


def summarise_arm(runs: Sequence[RunResult]) -> dict[str, Any]:
    n = len(runs[0].solved)
    quarter = max(1, n // 4)
    total = [float(np.mean(r.solved)) for r in runs]
    last = [float(np.mean(r.solved[-quarter:])) for r in runs]
    steps = [_steps_per_solved(r) for r in runs]
    early_late = [_early_late(r) for r in runs]
    recall = [float(np.mean(r.recall_ms)) for r in runs]
    out: dict[str, Any] = {
        "seeds": len(runs),
        "tasks": n,
        "success": mean_ci(total),
        "success_last_quarter": mean_ci(last),
        "steps_per_solved": mean_ci(steps),
        "success_family_first_tasks": mean_ci([e for e, _ in early_late]),
        "success_family_later_tasks": mean_ci([lt for _, lt in early_late]),
        "followed_memory": float(np.mean([np.mean(r.followed_memory) for r in runs])),
        "recall_ms": mean_ci(recall),
        "looked_solved_but_failed": float(np.mean([r.looked_solved_but_failed for r in runs])),
        "late_verdicts": float(np.mean([r.late_verdicts for r in runs])),
        "late_applied": float(np.mean([r.late_applied for r in runs])),
        "misleading_share": float(np.mean([r.misleading_recorded / (r.misleading_recorded + n) for r in runs])),
        "seconds": float(np.sum([r.seconds for r in runs])),
        "per_seed_success": total,
    }
    if runs[0].growth:
        out["growth"] = [
            (task, float(np.mean([r.growth[i][1] for r in runs])), float(np.mean([r.growth[i][2] for r in runs])))
            for i, (task, _, _) in enumerate(runs[0].growth)
        ]
        out["recall_ms_by_quarter"] = [
            float(np.mean([np.mean(r.recall_ms[q * quarter : (q + 1) * quarter]) for r in runs])) for q in range(4)
        ]
    return out


def summarise_eval(rows: Sequence[Any]) -> dict[str, Any]:
    """Distillation rows of one variant (over seeds)."""
    return {
        "trajectories": float(np.mean([r.trajectories for r in rows])),
        "key_lessons": float(np.mean([r.key_lessons for r in rows])),
        "db_kib": float(np.mean([r.db_bytes for r in rows])) / 1024.0,
        "distill_ms": float(np.mean([r.distill_ms for r in rows])),
        "success": mean_ci([float(np.mean(r.eval.solved)) for r in rows]),
        "steps_per_solved": mean_ci([_steps_per_solved(r.eval) for r in rows]),
        "recall_ms": mean_ci([float(np.mean(r.eval.recall_ms)) for r in rows]),
    }
