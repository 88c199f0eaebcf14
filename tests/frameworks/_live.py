"""Run one scenario live and check the trajectory our grouping and builder make of its spans."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.frameworks import scenarios
from tests.helpers.frameworks import check_scenario
from trajectories.export import record_from_span
from trajectories.model import Trajectory


def run_and_check(exporter: InMemorySpanExporter, framework: str, scenario: str) -> Trajectory:
    expected = scenarios.RUNNERS[framework](scenario)
    finished = exporter.get_finished_spans()
    assert finished, "the framework emitted no span"
    return check_scenario(f"{framework}_{scenario}", [record_from_span(s) for s in finished], expected)
