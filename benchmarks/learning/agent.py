"""The agent: a scripted policy, and honest about being one. No model decides anything here.

Without memory it explores by a fixed strategy: at each point of the task it tries the tools
in the run's fixed order (reads first, then actions), each with its arguments in the run's
fixed order, moving to the next tool when the backend says the tool does not apply, and to
the next argument when it says the argument is invalid; it stops when the ticket is resolved,
broken, or the step budget is spent. With memory it first calls ``lessons_for()`` (through
:func:`learning.memory.recall`, with the run's ranking), follows the plan :func:`learning.memory.choose_plan` picks,
and explores from wherever that plan stops working, skipping the calls that broke similar
tasks. Either way it records the run with the real SDK (``async with
trajectory()``, ``@step`` tools) and writes what it learned as a lesson.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider

from trajectories import trajectory
from trajectories.store import TrajectoryStore

from .memory import FAILED, WORKED, choose_plan, recall
from .stream import RunWorld, Task
from .tools import TOOL_STEPS, AcceptAll, ToolRejected
from .world import Call, Environment, plan_text

__all__ = ["AgentConfig", "TaskResult", "record_misleading", "run_task"]

NAME = "support-ticket"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    budget: int = 40
    k: int = 5
    #: ``lessons_for(rank=...)``: "effect" (the SDK's default) or "similarity"; always passed explicitly.
    rank: str = "effect"


@dataclass(frozen=True, slots=True)
class TaskResult:
    #: The environment's verdict (a trapped "resolved" is a failure).
    solved: bool
    #: What the agent saw and recorded (a trapped ticket looks resolved).
    looked_solved: bool
    steps: int
    followed_memory: bool
    broken: bool
    recall_seconds: float
    trajectory_id: int | None


class _Run:
    """One task's calls: counts steps, remembers the accepted calls in order."""

    def __init__(self, env: Environment, budget: int) -> None:
        self.env = env
        self.budget = budget
        self.steps = 0
        self.accepted: list[Call] = []
        #: The call that broke the ticket (an irreversible mistake), if one did.
        self.fatal: Call | None = None
        self.avoid: frozenset[tuple[tuple[Call, ...], Call]] = frozenset()

    @property
    def over(self) -> bool:
        return self.env.resolved or self.env.broken or self.steps >= self.budget

    def avoided(self, tool: str, arg: str) -> bool:
        return (tuple(self.accepted), (tool, arg)) in self.avoid

    async def call(self, tool: str, arg: str) -> str | None:
        """Make one call; None if accepted, else the backend's message."""
        self.steps += 1
        try:
            await TOOL_STEPS[tool](self.env, arg)
        except ToolRejected as exc:
            if self.env.broken:
                self.fatal = (tool, arg)
            return str(exc)
        self.accepted.append((tool, arg))
        return None


async def _follow(run: _Run, plan: tuple[Call, ...], world: RunWorld) -> None:
    """Follow *plan* until a call is refused; on an invalid argument, try that tool's other arguments first."""
    for tool, arg in plan:
        if run.over or run.avoided(tool, arg):
            return
        message = await run.call(tool, arg)
        if message is None:
            continue
        if not message.startswith("invalid argument"):
            return
        for other in world.arg_order[tool]:
            if other == arg or run.avoided(tool, other):
                continue
            if run.over:
                return
            if await run.call(tool, other) is None:
                break
        else:
            return


async def _explore(run: _Run, world: RunWorld) -> None:
    tried: set[Call] = set(run.env.calls[-1:]) if run.env.calls else set()
    while not run.over:
        done = {t for t, _ in run.accepted}
        progressed = False
        for tool in world.tool_order:
            if tool in done:
                continue
            for arg in world.arg_order[tool]:
                if (tool, arg) in tried or run.avoided(tool, arg):
                    continue
                if run.over:
                    return
                message = await run.call(tool, arg)
                tried.add((tool, arg))
                if message is None:
                    progressed = True
                    tried = set()
                    break
                if not message.startswith("invalid argument"):
                    break  # this tool does not apply now: next tool
            if progressed:
                break
        if not progressed:
            return


async def run_task(
    task: Task, world: RunWorld, config: AgentConfig, *, store: TrajectoryStore | None, provider: TracerProvider
) -> TaskResult:
    """Solve *task*; with *store*, recall first. The trajectory goes to the configured store."""
    env = Environment(task.family)
    run = _Run(env, config.budget)
    plan: tuple[Call, ...] = ()
    recall_seconds = 0.0
    async with trajectory(NAME, query=task.text, attributes={"bench.family": task.family.name}, tracer_provider=provider) as t:
        if store is not None:
            start = time.perf_counter()
            found = recall(store, task.text, config.k, config.rank)
            recall_seconds = time.perf_counter() - start
            decision = choose_plan(found)
            plan, run.avoid = decision.plan, decision.avoid
        await _follow(run, plan, world)
        await _explore(run, world)
        if env.resolved:
            t.succeed()
            t.add_lesson(WORKED + plan_text(tuple(run.accepted)))
        elif run.fatal is not None:
            t.fail(f"irreversible mistake: {plan_text((run.fatal,))}")
            t.add_lesson(FAILED + plan_text((*run.accepted, run.fatal)))
        else:
            t.fail(f"step budget of {config.budget} spent, ticket still open")
    result = t.result
    return TaskResult(
        solved=env.truly_solved,
        looked_solved=env.resolved,
        steps=run.steps,
        followed_memory=bool(plan),
        broken=env.broken,
        recall_seconds=recall_seconds,
        trajectory_id=None if result is None else int(result.id),
    )


async def record_misleading(text: str, plan: tuple[Call, ...], family: str, provider: TracerProvider) -> None:
    """A poisoned memory: *plan* recorded as a clean success for a task worded *text* (the plan is wrong)."""
    backend = AcceptAll()
    attributes = {"bench.family": family, "bench.misleading": "true"}
    async with trajectory(NAME, query=text, attributes=attributes, tracer_provider=provider) as t:
        for tool, arg in plan:
            await TOOL_STEPS[tool](backend, arg)
        t.succeed()
        t.add_lesson(WORKED + plan_text(plan))
