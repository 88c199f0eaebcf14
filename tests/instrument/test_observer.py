"""The map of live trajectories: weak, and swept of handles that were never ended."""

from __future__ import annotations

import gc

from trajectories._internal.instrument import observer
from trajectories._internal.instrument.trajectory_handle import TrajectoryHandle


def test_handles_never_ended_do_not_pile_up_and_live_ones_survive_the_sweeps() -> None:
    kept = [TrajectoryHandle(f"kept-{i}") for i in range(10)]
    base = 1 << 100  # trace ids no other test uses
    for i, handle in enumerate(kept):
        observer.track(base + i, handle)
    try:
        for i in range(5000):  # each handle is collected as soon as the next replaces it: never ended
            observer.track(base + 100 + i, TrajectoryHandle("abandoned"))
        gc.collect()
        ours = {tid: ref for tid, ref in observer._live.items() if tid >= base}
        assert len(ours) <= observer._SWEEP_AT + 1  # swept, not 5,000 dead entries
        for i, handle in enumerate(kept):
            ref = ours.get(base + i)
            assert ref is not None
            assert ref() is handle
    finally:
        for i in range(10):
            observer.untrack(base + i)
        observer._sweep()
    assert all(tid < base for tid in observer._live)
