"""The README's example runs and prints what its comment says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import ROOT


def test_readme_example_runs_and_prints_what_it_claims(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## Ten lines\n\n```python\n(.*?)```", text, re.S)
    assert match is not None
    code = match.group(1)
    claimed = re.search(r"print\(t\.result\.verdict, t\.result\.quality\)\s+# (.*)", code)
    assert claimed is not None
    script = tmp_path / "readme_example.py"
    script.write_text(code + '\nanyio.run(answer, "How do I get a refund?")\n', encoding="utf-8")
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env["TRAJECTORIES_DB"] = str(tmp_path / "t.db")
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=True
    )
    assert out.stdout.strip() == claimed.group(1).strip()
