"""Memory growth and distillation: the same memory used as recorded, distilled, and distilled with pruning.

A memory-on run records *n* tasks; copies of its store are then (a) left as they are,
(b) distilled with ``trajectories.learning.distill`` (key lessons added, nothing removed),
(c) distilled with ``prune=True`` (the compressed originals deleted; their lessons live on
as key lessons). The same further tasks then run on each copy, with recall.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio

from trajectories.learning import DistillConfig, distill
from trajectories.store import SQLiteTrajectoryStore

from .agent import AgentConfig
from .runner import Arm, RunResult, run_stream
from .stream import make_world

__all__ = ["VARIANTS", "DistillRow", "run_distillation"]

VARIANTS = ("as recorded", "distilled", "distilled + pruned")


@dataclass(frozen=True, slots=True)
class DistillRow:
    seed: int
    variant: str
    trajectories: int
    key_lessons: int
    db_bytes: int
    distill_ms: float
    eval: RunResult


def _bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def run_distillation(seed: int, n_tasks: int, n_eval: int, config: AgentConfig) -> list[DistillRow]:
    world = make_world(seed, n_tasks + n_eval)
    arm = Arm("memory on, similarity", True, rank="similarity")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-learning-distill-") as tmp:
        base = Path(tmp) / "recorded.db"
        anyio.run(run_stream, world, world.tasks[:n_tasks], arm, config, base)
        for i, variant in enumerate(VARIANTS):
            db = Path(tmp) / f"variant{i}.db"
            shutil.copyfile(base, db)
            distill_ms = 0.0
            if variant != "as recorded":
                with SQLiteTrajectoryStore(db) as store:
                    result = distill(store, DistillConfig(min_age_seconds=0.0), prune=variant.endswith("pruned"))
                    distill_ms = float(result.processing_time_ms)
            with SQLiteTrajectoryStore(db) as store:
                count, lessons = store.count(), len(store.key_lessons())
            size = _bytes(db)
            evaluated = anyio.run(run_stream, world, world.tasks[n_tasks:], arm, config, db)
            rows.append(DistillRow(seed, variant, count, lessons, size, distill_ms, evaluated))
    return rows
