"""The exporter examples run as scripts and print what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
from trajectories._internal.model.serde.jsonl import read_jsonl


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False)


def test_export_jsonl_example(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    proc = run(str(ROOT / "examples" / "export_jsonl.py"), str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = list(read_jsonl(out))
    assert len(got) == 3
    assert [t.verdict.kind for t in got] == ["success", "partial", "failure"]
    assert got[1].metadata.tools_invoked == ("calculator",)
    assert proc.stdout.count("quality=") == 3
    assert not (tmp_path / "runs.deadletter.jsonl").exists()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_stream_consumer_example(tmp_path: Path, backend: str) -> None:
    proc = run(str(ROOT / "examples" / "stream_consumer.py"), backend, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "consumed 4 trajectories"
    assert proc.stdout.count("quality=") == 4
    assert "Exception ignored" not in proc.stderr
