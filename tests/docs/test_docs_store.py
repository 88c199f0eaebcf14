"""The examples in docs/store.md run (the sentence-transformers one is only compiled: no model here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

DOCS = ROOT / "docs"


def _blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), re.S)


def test_store_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRAJECTORIES_DB", raising=False)
    blocks = _blocks("store.md")
    assert len(blocks) == 3
    first, embedder, sink = blocks
    exec(compile(first, "docs/store.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Password questions are answered from the help centre" in out
    assert (tmp_path / "trajectories.db").exists()
    compile(embedder, "docs/store.md", "exec")  # needs sentence-transformers and a model download
    namespace: dict[str, object] = {}
    exec(compile(sink, "docs/store.md", "exec"), namespace)
    namespace["provider"].shutdown()  # type: ignore[attr-defined]
    namespace["store"].close()  # type: ignore[attr-defined]
