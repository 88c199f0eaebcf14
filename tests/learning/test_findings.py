"""findings(): specific to what a trajectory's steps show, beside ruvllm's analysis (never in it)."""

from __future__ import annotations

import pytest

from tests.helpers.store import step, traj
from trajectories.learning import analyze, classify_error, findings
from trajectories.model import RootCause, StepOutcome, Verdict


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("PermissionError: [Errno 13] Permission denied: '/etc/shadow'", "permission"),
        ("HTTP 403 Forbidden", "permission"),
        ("TimeoutError: read timed out", "timeout"),
        ("httpx.ReadTimeout", "timeout"),
        ("429 Too Many Requests", "rate_limit"),
        ("FileNotFoundError: no such file", "not_found"),
        ("ValueError: invalid literal for int()", "invalid_input"),
        ("ConnectionRefusedError: [Errno 111] Connection refused", "connection"),
    ],
)
def test_errors_are_classified(error: str, kind: str) -> None:
    found = classify_error(error)
    assert found is not None
    assert found[0] == kind


def test_unknown_errors_and_bad_input() -> None:
    assert classify_error("the model said no") is None
    with pytest.raises(TypeError):
        classify_error(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        findings("traj-1")  # type: ignore[arg-type]


def test_a_success_has_no_step_findings_and_ruvllm_is_unchanged() -> None:
    t = traj(1, [step(0, "a"), step(1, "b")])
    assert [f for f in findings(t) if f.step is not None] == []
    before = analyze(t).to_dict()
    findings(t)
    assert analyze(t).to_dict() == before


def test_skipped_needs_retry_low_confidence_and_a_slow_step() -> None:
    t = traj(
        1,
        [
            step(0, "fetch", StepOutcome.skipped("cached"), latency_ms=5),
            step(1, "call", StepOutcome.needs_retry("503", ["wait"]), 0.3, latency_ms=80),
            step(2, "other", StepOutcome.failure("something odd"), latency_ms=5),
        ],
        Verdict.failure(RootCause.unknown("odd")),
        latency_ms=100,
    )
    texts = {f.kind: f.text for f in findings(t)}
    assert texts["skipped"] == "step #0 'fetch' was skipped: cached"
    assert texts["needs_retry"] == "step #1 'call' asked for a retry: 503; suggested: wait"
    assert texts["failure"] == "step #2 'other' failed after 5 ms: something odd"
    assert texts["latency"] == "step #1 'call' took 80 ms, 80% of the trajectory"
    assert texts["confidence"] == "low confidence (< 0.5): #1 'call' 0.30"
    assert texts["verdict"] == "failed: Unknown failure: odd"
