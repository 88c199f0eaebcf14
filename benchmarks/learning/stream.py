"""A run's tasks and its fixed choices, all drawn from one seed.

- the stream: task *i* is of a family available at that point (families with ``first_at``
  join late), worded by one of its stream templates;
- the explorer's fixed order: a permutation of the tools and of each tool's arguments (fixed
  for the whole run, so the memory-off agent never gets better);
- the misleading memories: for each family one wrong plan (its final action one step too
  early, or with a wrong argument), the same every time, as a poisoned playbook would be.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .phrasing import HELD_OUT, TEMPLATES, phrase
from .world import ACTIONS, FAMILIES, TOOLS, Call, Family

__all__ = ["RunWorld", "Task", "held_out_queries", "make_world"]


@dataclass(frozen=True, slots=True)
class Task:
    index: int
    family: Family
    text: str


@dataclass(frozen=True, slots=True)
class RunWorld:
    seed: int
    tasks: tuple[Task, ...]
    tool_order: tuple[str, ...]
    arg_order: dict[str, tuple[str, ...]]
    wrong_plans: dict[str, tuple[Call, ...]]


def _wrong_plan(family: Family, rng: random.Random) -> tuple[Call, ...]:
    """The recipe with its final action moved one step early, or given a wrong argument (both break a task)."""
    plan = list(family.recipe)
    tool, arg = plan[-1]
    if rng.random() < 0.5:
        plan[-2], plan[-1] = plan[-1], plan[-2]
    else:
        plan[-1] = (tool, rng.choice([a for a in TOOLS[tool] if a != arg and a != family.trap_arg]))
    return tuple(plan)


def make_world(seed: int, n_tasks: int) -> RunWorld:
    rng = random.Random(seed)
    reads = sorted(t for t in TOOLS if t not in ACTIONS)
    actions = sorted(ACTIONS)
    rng.shuffle(reads)
    rng.shuffle(actions)
    tool_order = reads + actions  # the explorer looks before it acts
    arg_order = {}
    for tool, args in TOOLS.items():
        shuffled = list(args)
        rng.shuffle(shuffled)
        arg_order[tool] = tuple(shuffled)
    wrong = {f.name: _wrong_plan(f, rng) for f in FAMILIES}
    tasks = []
    for i in range(n_tasks):
        available = [f for f in FAMILIES if f.first_at * n_tasks <= i]
        family = rng.choice(available)
        tasks.append(Task(i, family, phrase(rng.choice(TEMPLATES[family.name]), rng)))
    return RunWorld(seed, tuple(tasks), tuple(tool_order), arg_order, wrong)


def held_out_queries(seed: int, per_template: int) -> list[tuple[str, str]]:
    """(family, text) pairs worded by the held-out templates only."""
    rng = random.Random(seed ^ 0x5EED)
    return [
        (name, phrase(template, rng))
        for name, templates in HELD_OUT.items()
        for template in templates
        for _ in range(per_template)
    ]
