"""The examples in docs/concepts.md and docs/json.md run and say what the code does."""

from __future__ import annotations

import json
import re

from tests.helpers.paths import ROOT
from tests.helpers.serde import simple_trajectory
from trajectories.model import Trajectory

DOCS = ROOT / "docs"


def _blocks(name: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), re.S)


def test_concepts_examples_run() -> None:
    blocks = _blocks("concepts.md", "python")
    assert len(blocks) == 2
    for code in blocks:
        exec(compile(code, "docs/concepts.md", "exec"), {})


def test_json_round_trip_example_runs() -> None:
    code = _blocks("json.md", "python")[0]
    exec(compile(code, "docs/json.md", "exec"), {"t": simple_trajectory()})


def test_json_example_document_is_valid_and_scored() -> None:
    (text,) = _blocks("json.md", "json")
    t = Trajectory.from_json(text)
    assert t.quality == t.compute_quality()
    assert list(json.loads(t.to_json())) == list(json.loads(text))
    assert json.loads(t.to_json()) == json.loads(text)
