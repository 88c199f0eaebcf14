"""Rendering helpers of the CLI: tables, the step tree, progress only on a terminal."""

from __future__ import annotations

import io

from tests.helpers.store import step, traj
from trajectories._internal.cli.render import Progress, outcome_text, render_table, render_tree
from trajectories.model import StepOutcome


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    tty = _Tty()
    p = Progress("imported", tty)
    p(500)
    p(1000, 2000)
    p.finish()
    assert tty.getvalue() == "\rimported: 500\rimported: 1000/2000\n"
    pipe = io.StringIO()
    q = Progress("imported", pipe)
    q(500)
    q.finish()
    assert pipe.getvalue() == ""


def test_table_aligns_numbers_right() -> None:
    out = render_table(("A", "N"), [["x", 5], ["longer", 12]])
    assert out.splitlines() == ["A        N", "x        5", "longer  12"]


def test_outcome_texts() -> None:
    assert outcome_text(StepOutcome.success()) == "success"
    assert outcome_text(StepOutcome.failure("boom")) == "failure: boom"
    assert outcome_text(StepOutcome.skipped("cancelled")) == "skipped: cancelled"
    assert outcome_text(StepOutcome.needs_retry("slow", ["wait"])) == "needs retry: slow (try: wait)"


def test_tree_nests_children_and_survives_bad_parents() -> None:
    t = traj(
        1,
        [
            step(0, "outer"),
            step(1, "inner", parent=0),
            step(2, "innermost", parent=1),
            step(3, "orphan", parent=42),  # unknown parent: drawn at the top level
            step(4, "self", parent=4),  # its own parent: top level, no endless loop
        ],
    )
    lines = render_tree(t).splitlines()
    steps = lines[lines.index("steps (5):") + 1 :]
    assert [line.split("#")[0] for line in steps] == ["|-- [+] ", "|   `-- [+] ", "|       `-- [+] ", "|-- [+] ", "`-- [+] "]
    assert render_tree(traj(2)).splitlines()[-1] == "steps: none"
