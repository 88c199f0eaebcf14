"""The committed fixtures are what the pinned frameworks emit today: re-recorded, the span trees match.

Ids, times and content differ from run to run; names, kinds, convention attributes, parents,
status and the framework's own report must not. If this fails after a version bump, run
``.venv-frameworks/bin/python tests/frameworks/record_fixtures.py`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.frameworks import record_fixtures, scenarios
from trajectories._internal.otlp.files import iter_otlp_file

SHAPE_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.agent.name",
    "gen_ai.tool.name",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "openinference.span.kind",
    "agent.name",
    "tool.name",
    "llm.model_name",
    "llm.token_count.prompt",
    "llm.token_count.completion",
)


def shape(path: Path) -> list[tuple[Any, ...]]:
    spans = [s for line in iter_otlp_file(path) for s in line.spans]
    names = {s.span_id: s.name for s in spans}
    return sorted(
        (
            s.name,
            names.get(s.parent_span_id, "") if s.parent_span_id else "",
            s.status_code,
            tuple(repr(s.attributes.get(k)) for k in SHAPE_KEYS),
        )
        for s in spans
    )


@pytest.mark.parametrize(("framework", "scenario"), scenarios.ALL)
def test_rerecorded_fixture_has_the_committed_shape(
    framework: str, scenario: str, provider_and_exporter: tuple[TracerProvider, InMemorySpanExporter], tmp_path: Path
) -> None:
    _, exporter = provider_and_exporter
    spans, expected = record_fixtures.record(exporter, framework, scenario)
    name = f"{framework}_{scenario}"
    record_fixtures.write(tmp_path, name, spans, expected)
    committed = record_fixtures.FIXTURES
    assert shape(tmp_path / f"{name}.otlp.jsonl") == shape(committed / f"{name}.otlp.jsonl")
    assert json.loads((tmp_path / f"{name}.expected.json").read_text()) == json.loads(
        (committed / f"{name}.expected.json").read_text()
    )
