"""Writer processes for the concurrency tests (a module of its own so that spawned children import it)."""

from __future__ import annotations

from typing import Any

from tests.helpers.store import step, traj
from trajectories.store import open_store

SHARED = 60
OWN = 40


def writer(location: str, worker: int, barrier: Any, errors: Any) -> None:
    """Open the store at the same moment as the others (a fresh database: all create the schema),
    then write the shared ids (in batches and one by one) and ids of its own."""
    try:
        barrier.wait(timeout=60)
        with open_store(location) as store:
            for start in range(0, SHARED, 10):
                batch = [
                    traj(i, [step(0, f"w{worker}")], name=f"w{worker}", embedding=(1.0, worker, i))
                    for i in range(start, start + 10)
                ]
                store.add_many(batch if worker % 2 else batch[::-1])  # opposite orders: no deadlock either way
            for i in range(OWN):
                store.add(traj(1000 * (worker + 1) + i, name=f"w{worker}", embedding=(0.0, 1.0, i)))
    except BaseException as exc:  # reported to the parent: a child's traceback alone would not fail the test
        errors.put(f"worker {worker}: {type(exc).__name__}: {exc}")
        raise
