"""One run: a seed's stream of tasks through the real SDK, into a temporary SQLite store.

``configure()`` sets up the real exporter and store (a fresh file per run; a
``SimpleSpanProcessor``, so each trajectory is stored as it ends and the next task can
recall it). Late verdicts: a task the agent recorded as resolved through a trap is found out
``late_after`` tasks later; in an arm with ``feedback=True`` the environment applies it with
the real ``trajectories.learning.feedback(id, 0.0, source="environment")`` (the stored verdict
becomes a failure and the credit of what that run recalled moves by the difference); otherwise
it is counted as not applied.

Span and trace ids come from a generator seeded by the run (OpenTelemetry's default is random),
so that trajectory ids, and every tie broken by them, are the same in a rerun.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator

from trajectories.config import configure
from trajectories.learning import feedback as learning_feedback
from trajectories.store import TrajectoryStore

from .agent import AgentConfig, TaskResult, record_misleading, run_task
from .phrasing import TEMPLATES, phrase
from .stream import RunWorld, Task, make_world

__all__ = ["Arm", "Feedback", "RunResult", "SeededIds", "environment_feedback", "run_arm", "run_stream"]

#: A later verdict for a stored trajectory: (store, trajectory id, succeeded).
Feedback = Callable[[TrajectoryStore, int, bool], None]


class SeededIds(IdGenerator):
    """OpenTelemetry span and trace ids from a seeded generator (never the invalid id 0)."""

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)  # a str seed is hashed by SHA-512, whatever PYTHONHASHSEED is

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


def environment_feedback(store: TrajectoryStore, trajectory_id: int, succeeded: bool) -> None:
    """The environment's late verdict, through the SDK's feedback API (source "environment")."""
    learning_feedback(trajectory_id, 1.0 if succeeded else 0.0, store=store, source="environment")


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    memory: bool
    #: Probability, per task, of one misleading memory being recorded before it.
    mislead: float = 0.0
    #: ``lessons_for(rank=...)`` for this arm (overrides the AgentConfig's).
    rank: str = "effect"
    #: Apply the environment's late verdicts with ``trajectories.learning.feedback``.
    feedback: bool = False


@dataclass(slots=True)
class RunResult:
    seed: int
    arm: str
    solved: list[bool] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    followed_memory: list[bool] = field(default_factory=list)
    recall_ms: list[float] = field(default_factory=list)
    family: list[str] = field(default_factory=list)
    #: (task index, stored trajectories, database bytes) at checkpoints.
    growth: list[tuple[int, int, int]] = field(default_factory=list)
    misleading_recorded: int = 0
    late_verdicts: int = 0
    late_applied: int = 0
    looked_solved_but_failed: int = 0
    seconds: float = 0.0


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


async def run_stream(
    world: RunWorld,
    tasks: tuple[Task, ...],
    arm: Arm,
    config: AgentConfig,
    db: Path,
    *,
    late_after: int = 25,
    feedback: Feedback | None = None,
    checkpoint: int = 250,
) -> RunResult:
    """Run *tasks* in order against the store at *db* (created or continued), with the arm's
    ranking; late verdicts go to *feedback*, or to :func:`environment_feedback` if the arm
    applies them."""
    config = replace(config, rank=arm.rank)
    if feedback is None and arm.feedback:
        feedback = environment_feedback
    provider = TracerProvider(id_generator=SeededIds(f"{world.seed}:{arm.name}:{tasks[0].index if tasks else 0}"))
    conf = configure(service_name="bench-learning", tracer_provider=provider, store=str(db), batch=False)
    store = conf.store
    assert store is not None
    result = RunResult(world.seed, arm.name)
    rng = random.Random(world.seed * 7919 + len(arm.name))
    pending: list[tuple[int, int]] = []  # (reveal at task index, trajectory id)
    start = time.perf_counter()
    try:
        for task in tasks:
            while pending and pending[0][0] <= task.index:
                _, tid = pending.pop(0)
                result.late_verdicts += 1
                if feedback is not None:
                    feedback(store, tid, False)
                    result.late_applied += 1
            if arm.mislead and rng.random() < arm.mislead:
                name = task.family.name
                text = phrase(rng.choice(TEMPLATES[name]), rng)
                await record_misleading(text, world.wrong_plans[name], name, provider)
                result.misleading_recorded += 1
            r: TaskResult = await run_task(task, world, config, store=store if arm.memory else None, provider=provider)
            result.solved.append(r.solved)
            result.steps.append(r.steps)
            result.followed_memory.append(r.followed_memory)
            result.recall_ms.append(r.recall_seconds * 1000.0)
            result.family.append(task.family.name)
            if r.looked_solved and not r.solved:
                result.looked_solved_but_failed += 1
                if r.trajectory_id is not None:
                    pending.append((task.index + late_after, r.trajectory_id))
            if (task.index + 1) % checkpoint == 0:
                result.growth.append((task.index + 1, store.count(), _db_bytes(db)))
    finally:
        conf.shutdown()
    result.seconds = time.perf_counter() - start
    return result


def run_arm(seed: int, n_tasks: int, arm: Arm, config: AgentConfig, workdir: str | None = None) -> RunResult:
    """A whole run in a temporary directory (kept only if *workdir* is given)."""
    world = make_world(seed, n_tasks)
    if workdir is not None:
        os.makedirs(workdir, exist_ok=True)
        db = Path(workdir) / f"{arm.name}-{seed}.db"
        return anyio.run(run_stream, world, world.tasks, arm, config, db)
    with tempfile.TemporaryDirectory(prefix="bench-learning-") as tmp:
        return anyio.run(run_stream, world, world.tasks, arm, config, Path(tmp) / "memory.db")
