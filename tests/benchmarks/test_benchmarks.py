"""The benchmark script runs (``--quick``: tiny sizes, no figures worth reading), so it cannot rot.

Only the dev venv's packages: the peers are absent here and must be reported as such. No
timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import ROOT


def test_bench_quick_runs_every_section(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\nbefore\n<!-- bench:start -->\nOLD-BLOCK-TO-REPLACE\n<!-- bench:end -->\nafter\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--json", str(out), "--docs", str(docs)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    base = results["decorators"]["none"]
    assert base["status"] == "ok"
    assert base["ours_spans_exported"] > 0
    assert set(base["sync"]) == {"bare", "hand", "step"}
    assert "trajectory10" in base
    assert set(base["in_trajectory"]) == {"sync", "async"}
    for name, peer in results["decorators"].items():
        if name != "none":
            assert peer["status"] in ("ok", "not installed"), peer
    assert results["exporter"]["trajectories"] == results["exporter"]["spans"] // 10
    assert set(results["store"]["sizes"]) == {"200", "1000"}
    assert results["memory"]["pending_traces"] == 0
    assert results["import"]["ours_ms"]["n"] == results["import"]["typical_ms"]["n"] == 3
    assert results["import"]["top_self_us"]  # -X importtime was read
    serve = results["serve"]
    assert serve["status"] == "ok", serve  # the dev venv has the server extra
    assert serve["spans"] == serve["trajectories"] * 11
    for heading in (
        "### 1. Per-call cost",
        "### 2. Exporter",
        "### 3. Store",
        "### 4. Memory",
        "### 5. Import",
        "### 6. `trajectories serve`",
        "### Goals",
    ):
        assert heading in proc.stdout
    text = docs.read_text()
    assert "OLD-BLOCK-TO-REPLACE" not in text
    assert text.startswith("# Performance\n\nbefore\n<!-- bench:start -->\n")
    assert text.endswith("<!-- bench:end -->\nafter\n")
    assert "trajectories `@step`" in text
