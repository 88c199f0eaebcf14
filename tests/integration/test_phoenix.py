"""Trajectory spans exported over OTLP/HTTP to a real Arize Phoenix arrive whole.

The concurrent-agents example runs in its own process under ``configure()`` with the
standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at Phoenix, and stores the trajectories it
assembled in-process. The test then reads every span back through Phoenix's REST API and
checks (1) that Phoenix classifies roots as AGENT and tool steps as TOOL spans, (2) the
attribute contract on each span, and (3) that assembling Phoenix's copy of the spans gives
back the very trajectories the application stored — so no attribute the assembly needs was
lost on the way.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.helpers.paths import ROOT
from trajectories import SQLiteTrajectoryStore, Trajectory
from trajectories import attributes as A
from trajectories.export import SpanRecord, assemble_trajectories

from .conftest import Phoenix

_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def _ns(iso: str) -> int:
    dt = datetime.fromisoformat(iso)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _record(span: dict[str, Any]) -> SpanRecord:
    parent = span.get("parent_id")
    return SpanRecord(
        int(span["context"]["trace_id"], 16),
        int(span["context"]["span_id"], 16),
        int(parent, 16) if parent else None,
        span["name"],
        _ns(span["start_time"]),
        _ns(span["end_time"]),
        {k: _plain(v) for k, v in span["attributes"].items()},
        tuple((e["name"], {k: _plain(v) for k, v in (e.get("attributes") or {}).items()}) for e in span.get("events", [])),
        _STATUS.get(span["status_code"], 0),
    )


def _same_except_microsecond_rounding(got: Trajectory, stored: Trajectory) -> None:
    """Phoenix keeps microseconds: latencies computed from its times may differ by 1 ms."""
    assert got.id == stored.id
    assert got.uuid == stored.uuid
    assert got.verdict == stored.verdict
    assert got.quality == stored.quality
    assert got.metadata == stored.metadata
    assert got.lessons == stored.lessons
    assert abs(got.total_latency_ms - stored.total_latency_ms) <= 1
    assert len(got.steps) == len(stored.steps)
    for a, b in zip(got.steps, stored.steps, strict=True):
        assert (a.index, a.action, a.rationale, a.outcome, a.confidence, a.metadata) == (
            b.index,
            b.action,
            b.rationale,
            b.outcome,
            b.confidence,
            b.metadata,
        )
        assert abs(a.latency_ms - b.latency_ms) <= 1
    assert got.query_embedding.shape == stored.query_embedding.shape


def test_concurrent_agents_example_into_phoenix(phoenix: Phoenix, tmp_path: Path) -> None:
    project = f"trajectories-it-{uuid.uuid4().hex[:8]}"
    db = tmp_path / "app.db"
    env = dict(
        os.environ,
        OTEL_EXPORTER_OTLP_ENDPOINT=phoenix.base_url,
        OTEL_RESOURCE_ATTRIBUTES=f"openinference.project.name={project}",
        TRAJECTORIES_DB=str(db),
        PYTHONPATH=str(ROOT / "src"),
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "concurrent_agents.py"), "24"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    match = re.match(r"24 trajectories, (\d+) spans", out.stdout)
    assert match is not None, out.stdout + out.stderr
    n_spans = int(match.group(1))

    with SQLiteTrajectoryStore(db) as store:
        stored = {t.id: t for t in store.list(limit=None)}
    assert len(stored) == 24

    spans = phoenix.spans(project, expected=n_spans)
    assert len(spans) == n_spans

    roots = [s for s in spans if s["attributes"].get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT]
    assert len(roots) == 24
    for root in roots:
        attrs = root["attributes"]
        t = stored[attrs[A.TRAJECTORY_ID]]
        assert root["span_kind"] == "AGENT"
        assert root["name"] == f"invoke_agent {attrs[A.GEN_AI_AGENT_NAME]}"
        assert attrs[A.TRAJECTORY_VERDICT] == t.verdict.kind
        assert abs(attrs[A.TRAJECTORY_QUALITY] - t.quality) < 1e-6
        assert attrs[A.TRAJECTORY_STEP_COUNT] == len(t.steps)
        assert attrs[A.SESSION_ID] == attrs[A.GEN_AI_CONVERSATION_ID] == t.metadata.session_id
        assert attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == t.metadata.total_input_tokens
        (evaluation,) = [e for e in root["events"] if e["name"] == A.EVENT_EVALUATION_RESULT]
        assert evaluation["attributes"][A.GEN_AI_EVALUATION_SCORE_LABEL] == t.verdict.kind
        assert abs(evaluation["attributes"][A.GEN_AI_EVALUATION_SCORE_VALUE] - t.quality) < 1e-6
        assert root["status_code"] == ("ERROR" if t.verdict.kind == "failure" else "UNSET")

    tools = [s for s in spans if s["attributes"].get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_EXECUTE_TOOL]
    assert len(tools) == 24
    for tool in tools:
        assert tool["span_kind"] == "TOOL"
        assert tool["name"] == "execute_tool web_fetch"
        assert tool["attributes"][A.GEN_AI_TOOL_NAME] == "web_fetch"
        assert tool["attributes"][A.STEP_ACTION] == "fetch"

    steps = [s for s in spans if A.STEP_INDEX in s["attributes"]]
    assert len(steps) == sum(len(t.steps) for t in stored.values())
    for s in steps:
        attrs = s["attributes"]
        assert attrs[A.TRAJECTORY_ID] in stored
        assert attrs[A.STEP_OUTCOME] in ("success", "partial", "failure", "skipped", "needs_retry")
        assert 0.0 <= attrs[A.STEP_CONFIDENCE] <= 1.0
        if attrs[A.STEP_OUTCOME] == "needs_retry":
            assert attrs[A.STEP_OUTCOME_REASON] == "index busy"
            assert list(attrs[A.STEP_OUTCOME_SUGGESTIONS]) == ["retry later"]
        if attrs[A.STEP_ACTION] == "write":
            assert attrs[A.GEN_AI_REQUEST_MODEL] == "demo-model"
            assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 80

    assembled = {t.id: t for t in assemble_trajectories([_record(s) for s in spans], incomplete=False)}
    assert assembled.keys() == stored.keys()
    for tid, t in stored.items():
        _same_except_microsecond_rounding(assembled[tid], t)
