"""``trajectories import`` of an OTLP JSON file as the Collector's file exporter writes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.lowlevel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.otlp import otlp_json
from tests.helpers.paths import ROOT
from trajectories import SQLiteTrajectoryStore, Trajectory, step, trajectory

SRC = str(ROOT / "src")


@step(tool="lookup")
async def lookup(key: str) -> str:
    await anyio.lowlevel.checkpoint()
    return key.upper()


@step
def fail_sometimes(i: int) -> None:
    if i == 1:
        raise ValueError("no such order")


async def _record(provider: TracerProvider) -> list[Trajectory]:
    results = []
    for i in range(3):
        try:
            async with trajectory("importer", session_id=f"s{i}", tracer_provider=provider) as t:
                await lookup(f"k{i}")
                fail_sometimes(i)
        except ValueError:
            pass
        assert t.result is not None
        results.append(t.result)
    return results


def test_import_collector_file_assembles_trajectories_and_reports_bad_lines(
    tmp_path: Path, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    seen = anyio.run(_record, tracer_provider)
    spans = list(span_exporter.get_finished_spans())
    # the collector writes one request per batch: split mid-trajectory, children after roots in places
    batches = [spans[:4], spans[4:7], spans[7:]]
    lines = [json.dumps(otlp_json(b)) for b in reversed(batches)]
    lines.insert(1, '{"resourceSpans": [{"scopeSpans": [{"spans": "not-a-list"}]}], "oops": ')
    path = tmp_path / "traces.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "imported.db"
    env = dict(os.environ, TRAJECTORIES_DB=str(db), PYTHONPATH=SRC)

    out = subprocess.run([sys.executable, "-m", "trajectories", "import", str(path)], env=env, capture_output=True, text=True)

    assert out.returncode == 3, out.stderr  # a bad line: exit 3, the rest imported
    assert f"{path}:2: not JSON" in out.stderr
    assert "imported 3 trajectories from OTLP spans" in out.stderr
    with SQLiteTrajectoryStore(db) as store:
        for expected in seen:
            got = store.get(expected.id)
            assert got.steps == expected.steps
            assert got.verdict == expected.verdict
            assert got.quality == expected.quality
            assert got.metadata == expected.metadata


def test_import_format_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text('{"resourceSpans": []}\n', encoding="utf-8")
    env = dict(os.environ, TRAJECTORIES_DB=str(tmp_path / "x.db"), PYTHONPATH=SRC)
    out = subprocess.run(
        [sys.executable, "-m", "trajectories", "import", "--format", "ruvllm", str(path)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 3  # read as ruvllm JSON, the line is not a Trajectory
    assert ":1: missing field" in out.stderr
    out = subprocess.run([sys.executable, "-m", "trajectories", "import", str(path)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "imported 0 trajectories from OTLP spans" in out.stderr


def test_import_counts_the_spans_of_no_trajectory_into_stats(
    tmp_path: Path, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    """An HTTP trace with no agent, model or tool call makes no trajectory: import says how many
    spans that was and why, and ``trajectories stats`` keeps the tally."""
    tracer = tracer_provider.get_tracer("web")
    for _ in range(2):
        with tracer.start_as_current_span("GET /health"), tracer.start_as_current_span("db"):
            pass
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(otlp_json(list(span_exporter.get_finished_spans()))) + "\n", encoding="utf-8")
    env = dict(os.environ, TRAJECTORIES_DB=str(tmp_path / "x.db"), PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, "-m", "trajectories", "import", str(path)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "4 spans in no trajectory (4 no_agent_or_model_span)" in out.stderr
    stats = subprocess.run([sys.executable, "-m", "trajectories", "stats", "--json"], env=env, capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["unrelated_spans"] == {"no_agent_or_model_span": 4}
    text = subprocess.run([sys.executable, "-m", "trajectories", "stats"], env=env, capture_output=True, text=True)
    assert "spans in no trajectory" in text.stdout
    assert "no_agent_or_model_span" in text.stdout
