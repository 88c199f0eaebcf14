"""Record tests/fixtures/frameworks/ from the real frameworks (run in .venv-frameworks).

    .venv-frameworks/bin/python tests/frameworks/record_fixtures.py

Each scenario of tests/frameworks/scenarios.py runs under a real SDK TracerProvider with an
in-memory exporter; its finished spans are written as OTLP JSON lines, one
ExportTraceServiceRequest per line in batches of a few spans (as the Collector's file exporter
writes them, ids in hex), to ``<framework>_<scenario>.otlp.jsonl``; the framework's own report
of the run (usage, tool calls, model, failed) to ``<framework>_<scenario>.expected.json``.
The base test suite (tests/export/test_frameworks_builder.py) reads them without the frameworks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]  # the repository root: tests is a package

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from tests.frameworks import scenarios  # noqa: E402
from tests.helpers.otlp import otlp_json  # noqa: E402

FIXTURES = HERE.parent / "fixtures" / "frameworks"
BATCH = 4  # spans per line


def record(exporter: InMemorySpanExporter, framework: str, scenario: str) -> tuple[list[ReadableSpan], dict[str, object]]:
    exporter.clear()
    expected = scenarios.RUNNERS[framework](scenario)
    return list(exporter.get_finished_spans()), expected


def write(directory: Path, name: str, spans: list[ReadableSpan], expected: dict[str, object]) -> None:
    with open(directory / f"{name}.otlp.jsonl", "w", encoding="utf-8") as fh:
        for i in range(0, len(spans), BATCH):
            fh.write(json.dumps(otlp_json(spans[i : i + BATCH]), sort_keys=True) + "\n")
    (directory / f"{name}.expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(directory: Path = FIXTURES) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    scenarios.install(provider)
    directory.mkdir(parents=True, exist_ok=True)
    for framework, scenario in scenarios.ALL:
        spans, expected = record(exporter, framework, scenario)
        write(directory, f"{framework}_{scenario}", spans, expected)
        print(f"{framework}_{scenario}: {len(spans)} spans, {expected}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES)
