"""The loop end to end, through the real SDK: configure() with the exporter and a store, an agent
inside ``async with trajectory()`` that recalls with lessons_for(), its outcome credits what it
recalled, a later verdict moves the credit, and the next recall ranks differently."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from tests.helpers.export import fresh_global_provider
from trajectories._internal.model.recall import RECALLED_ATTRIBUTE, decode_recalled
from trajectories.config import configure
from trajectories.instrument import step, trajectory
from trajectories.learning import feedback, lessons_for
from trajectories.model import RootCause, Verdict
from trajectories.store import MemoryCredit, SQLiteTrajectoryStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def fresh() -> Iterator[None]:
    with fresh_global_provider():
        yield


async def _agent(store: SQLiteTrajectoryStore, query: str, *, fail: bool = False) -> int:
    @step(tool="refund")
    async def act(plan: str) -> str:
        await anyio.lowlevel.checkpoint()
        return plan

    async with trajectory("support", query=query) as t:
        recall = lessons_for(query, k=2, store=store)
        lessons_for(query, k=1, store=store)  # recalling twice: each memory is kept once
        await act(recall.experiences[0].trajectory.metadata.attributes.get("plan", "none") if recall else "none")
        if fail:
            t.fail(RootCause.unknown("wrong refund"))
        tid = int(t.id)
    return tid


async def test_recall_is_kept_credited_and_feedback_moves_it(fresh: None, tmp_path: Path, anyio_backend: str) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    config = configure(store=store, batch=False, dead_letter_path=tmp_path / "dead")
    try:
        seeds = [await _agent(store, f"refund order {n} that arrived broken") for n in range(2)]
        assert config.flush()
        assert store.count() == 2
        assert RECALLED_ATTRIBUTE not in store.get(seeds[0]).metadata.attributes  # nothing to recall yet
        run = await _agent(store, "refund an order that arrived broken")
        assert config.flush()
        stored = store.get(run)
        recalled = decode_recalled(stored.metadata.attributes[RECALLED_ATTRIBUTE])
        assert sorted(m.id for m in recalled) == sorted(seeds)
        assert all(m.kind == "trajectory" and 0 < m.similarity <= 1 for m in recalled)
        # the second seed recalled the first; the run recalled both
        first, second = (store.memory_credit([("trajectory", t)])[("trajectory", t)] for t in seeds)
        assert (first.uses, first.successes, second) == (2, 2, MemoryCredit(1, 1, stored.quality))
        feedback(run, Verdict.failure(RootCause.unknown("customer says no refund came")), store=store, source="user")
        first, second = (store.memory_credit([("trajectory", t)])[("trajectory", t)] for t in seeds)
        assert ((first.uses, first.successes), (second.uses, second.successes)) == ((2, 1), (1, 0))
        recall = lessons_for("refund an order that arrived broken", k=3, store=store)
        effects = {int(e.trajectory.id): e.effect for e in recall.experiences}
        assert effects[seeds[1]] < 0  # the memory whose only use failed is marked down
        assert effects[seeds[0]] > effects[seeds[1]]
    finally:
        config.shutdown()
        store.close()


async def test_outside_a_trajectory_recall_credits_nothing(tmp_path: Path, anyio_backend: str) -> None:
    with SQLiteTrajectoryStore(tmp_path / "t.db") as store:
        from tests.helpers.store import traj

        store.add(traj(1))
        await anyio.lowlevel.checkpoint()
        assert lessons_for([1.0, 0.0, 0.0], store=store).experiences
        assert store.memory_credits() == []
