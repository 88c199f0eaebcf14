"""trajectories.testing: the capture context manager and the importable pytest fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from tests.helpers.export import fresh_global_provider
from trajectories import attributes as A
from trajectories.instrument import step, trajectory
from trajectories.model import Verdict
from trajectories.testing import TrajectoryCapture, capture_trajectories, trajectories_capture

__all__ = ["trajectories_capture"]  # the imported fixture is what pytest finds


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    with fresh_global_provider():
        yield


def agent(name: str, *, fail: bool = False) -> None:
    with trajectory(name) as t:
        with step("look"):
            pass
        if fail:
            t.fail("nope")


def test_the_fixture_captures_what_the_test_records(trajectories_capture: TrajectoryCapture) -> None:
    agent("fixture")
    got = trajectories_capture.single()
    assert got.metadata.attributes[A.TRAJECTORY_NAME_ATTRIBUTE] == "fixture"
    assert got.verdict == Verdict.success()
    assert isinstance(trace.get_tracer_provider(), TracerProvider)  # installed for the test


def test_context_manager_only_sees_its_own_block() -> None:
    provider = TracerProvider()
    agent_outside = TracerProvider()
    with capture_trajectories(tracer_provider=provider) as outer:
        with trajectory("one", tracer_provider=provider):
            pass
        with capture_trajectories(tracer_provider=provider) as inner, trajectory("two", tracer_provider=provider):
            pass
        with trajectory("ignored", tracer_provider=agent_outside):
            pass
    with trajectory("after", tracer_provider=provider):
        pass
    assert [t.metadata.attributes[A.TRAJECTORY_NAME_ATTRIBUTE] for t in outer] == ["one", "two"]
    assert len(inner) == 1
    assert inner[0] == outer.by_name("two")[0]
    assert outer.stats.trajectories_emitted == 2


def test_unfinished_trajectories_are_flagged_when_the_block_ends() -> None:
    with capture_trajectories() as captured:
        agent("done")
        handle = trajectory("unfinished")
        handle.__enter__()
        with step("started"):
            pass
    handle.__exit__(None, None, None)
    assert len(captured) == 2
    incomplete = captured[1]
    assert incomplete.metadata.attributes[A.TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
    assert [s.action for s in incomplete.steps] == ["started"]
    with pytest.raises(AssertionError, match="exactly one"):
        captured.single()


def test_global_provider_is_used_by_default() -> None:
    with capture_trajectories() as captured:
        agent("global", fail=True)
    assert captured.single().verdict.is_failure
