"""examples/learning_loop.py: the agent recalls, acts, gets feedback, and recalls differently next time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.test_examples_instrument import load_example
from tests.helpers.export import fresh_global_provider

learning_loop = load_example("learning_loop")


def test_one_rejection_turns_the_agent_to_the_plan_that_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fresh_global_provider():
        chosen = learning_loop.main(tmp_path)
    assert chosen[0] == learning_loop.BAD  # similarity alone: the store-credit run is worded most like the ticket
    assert chosen[1:] == [learning_loop.GOOD] * (len(chosen) - 1)  # after the customer's rejection
    out = capsys.readouterr().out
    assert "store_credit (similarity 0.97) recalled 1x, 0 ok" in out
