"""The instrumentation examples run and produce what they claim."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from types import ModuleType

from tests.helpers.paths import ROOT
from trajectories.model import Verdict


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py by path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


quickstart = load_example("quickstart")
concurrent_agents = load_example("concurrent_agents")


def test_quickstart_main() -> None:
    result = quickstart.main()
    assert [s.action for s in result.steps] == ["search", "days_until_refund", "compose"]
    assert result.steps[0].outcome.kind == "partial"
    assert result.verdict == Verdict.partial(2 / 3)
    assert result.metadata.total_input_tokens == 120
    assert result.metadata.tools_invoked == ("calculator",)
    assert result.lessons == ("Search before answering",)
    assert result.query_embedding.size > 0


def test_concurrent_agents_main() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    results = concurrent_agents.main(40, TracerProvider())
    assert len(results) == 40
    assert len({r.id for r in results}) == 40
    for r in results:
        assert [s.index for s in r.steps] == list(range(len(r.steps)))
        assert r.metadata.attributes["trajectory.name"].startswith("agent-")
    kinds = {r.verdict.kind for r in results}
    assert "failure" in kinds
    assert kinds <= {"success", "partial", "failure"}


def test_examples_run_as_scripts() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert "verdict=Partial" in out.stdout
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "concurrent_agents.py"), "20"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert out.stdout.startswith("20 trajectories")
    # run as a script it configure()s the embedded store ($TRAJECTORIES_DB, set per test in conftest)
    from trajectories import SQLiteTrajectoryStore

    with SQLiteTrajectoryStore(os.environ["TRAJECTORIES_DB"]) as store:
        assert store.stats().total == 20
