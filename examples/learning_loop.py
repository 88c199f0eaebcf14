"""The learning loop: an agent recalls before acting, acts, gets feedback later, and recalls
differently next time.

A support agent has two ways to refund a damaged order: ``refund_then_notify`` (the right one)
and ``store_credit`` (which the customer later rejects). Its memory starts with one past run of
each; the store-credit run is worded most like the new tickets, so similarity alone keeps
recommending it. Each time a customer rejects the store credit, ``feedback()`` marks that run
failed; the memory it followed loses credit, and ``lessons_for()`` (ranked by measured effect,
the default) turns to the plan that works. Everything is the real SDK: ``configure()`` with the
exporter and a SQLite store, ``async with trajectory()``, ``@step``.

Run: python examples/learning_loop.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import anyio.lowlevel

from trajectories.config import configure
from trajectories.instrument import step, trajectory
from trajectories.learning import feedback, lessons_for
from trajectories.model import RootCause, Verdict
from trajectories.store import SQLiteTrajectoryStore

GOOD, BAD = "refund_then_notify", "store_credit"
SEEDS = [
    ("refund my broken kettle order, it arrived smashed", BAD),
    ("please refund my kettle order, it arrived broken", GOOD),
    *[(f"where is my parcel {n}? tracking shows nothing", "track_parcel") for n in range(4)],
]
#: Refund tickets, each after a shipping ticket that goes well (most runs succeed: the base rate).
TICKETS = [
    t
    for n in range(6)
    for t in (f"where is my parcel {n + 10}? tracking shows nothing", f"refund my broken kettle order {n}, it arrived smashed")
]


@step(tool="payments")
async def act(plan: str) -> str:
    await anyio.lowlevel.checkpoint()
    return plan


async def seed(text: str, plan: str) -> int:
    """A past run to start the memory with (it recalls nothing)."""
    async with trajectory("support", query=text) as t:
        await act(plan)
        t.set_attribute("plan", plan)
        return int(t.id)


async def handle(store: SQLiteTrajectoryStore, ticket: str, default: str) -> tuple[int, str]:
    """One run: recall the best-ranked past run that succeeded, follow its plan (or *default*),
    report success."""
    async with trajectory("support", query=ticket) as t:
        recall = lessons_for(ticket, k=1, store=store, verdict="success")
        plan = recall.experiences[0].trajectory.metadata.attributes.get("plan", default) if recall else default
        await act(plan)
        t.set_attribute("plan", plan)
        t.succeed()  # the agent thinks it went well; the customer may say otherwise later
        return int(t.id), plan


async def run(directory: Path) -> list[str]:
    """The plans the agent chose for each ticket, in order."""
    store = SQLiteTrajectoryStore(directory / "memory.db")
    config = configure(store=store, batch=False, dead_letter_path=directory / "dead-letter.jsonl")
    chosen: list[str] = []
    try:
        seed_ids = [await seed(text, plan) for text, plan in SEEDS]  # the memory to start with
        for ticket in TICKETS:
            tid, plan = await handle(store, ticket, GOOD)
            if not ticket.startswith("refund"):
                continue
            chosen.append(plan)
            if plan == BAD:  # an hour later: the customer wanted their money back, not store credit
                feedback(
                    tid, Verdict.failure(RootCause.unknown("customer rejected store credit")), store=store, source="customer"
                )
            found = {int(e.trajectory.id): e for e in lessons_for(ticket, k=50, store=store).experiences}
            memo = "; ".join(
                f"{e.trajectory.metadata.attributes['plan']} (similarity {e.similarity:.2f}) recalled {e.uses}x, "
                f"{e.successes} ok, score {e.score:.2f}"
                for e in (found[i] for i in seed_ids[:2] if i in found)
            )
            print(f"ticket {len(chosen)}: chose {plan:18}  then: {memo}")
    finally:
        config.shutdown()
        store.close()
    return chosen


def main(directory: Path | None = None) -> list[str]:
    if directory is not None:
        return anyio.run(run, directory)
    with tempfile.TemporaryDirectory() as tmp:
        return anyio.run(run, Path(tmp))


if __name__ == "__main__":
    main()
