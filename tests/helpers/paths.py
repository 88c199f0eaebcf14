"""Where things are in the repository, for tests that read docs, examples or run the package from source."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
DOCS = ROOT / "docs"
FIXTURES = ROOT / "tests" / "fixtures"
