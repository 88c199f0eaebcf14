"""A store for the viewer's tests: every verdict, nested steps, a failure with its exception text,
recall data, a key lesson, and one trajectory whose every text field is hostile markup."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np

from trajectories import attributes
from trajectories._internal.embedding import HashingEmbedder
from trajectories.learning import KeyLesson, PatternCategory
from trajectories.model import (
    RootCause,
    StepMetadata,
    StepOutcome,
    Trajectory,
    TrajectoryMetadata,
    TrajectoryStep,
    Verdict,
)
from trajectories.store import TrajectoryStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
#: Markup that must be shown as text, never run or parsed.
XSS = '<script>document.title="pwned";window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
XSS_ID = 666
FAILED_ID = 2
NESTED_ID = 1
FILLER = 60  # more than one page (50)
_EMBED = HashingEmbedder()
LESSON = "check the token first"


def _step(
    t0: datetime,
    index: int,
    action: str,
    outcome: StepOutcome | None = None,
    *,
    parent: int | None = None,
    tool: str | None = None,
    model: str | None = None,
    tokens: tuple[int, int] | None = None,
    latency_ms: int = 20,
    start_ms: int | None = None,
) -> TrajectoryStep:
    attrs = {attributes.STEP_PARENT_ATTRIBUTE: str(parent)} if parent is not None else {}
    return TrajectoryStep(
        index=index,
        action=action,
        rationale=f"why {action}",
        outcome=outcome if outcome is not None else StepOutcome.success(),
        confidence=1.0,
        latency_ms=latency_ms,
        timestamp=t0 + timedelta(milliseconds=start_ms if start_ms is not None else 25 * index),
        metadata=StepMetadata(
            tool_used=tool,
            model=model,
            input_tokens=tokens[0] if tokens else None,
            output_tokens=tokens[1] if tokens else None,
            attributes=attrs,
        ),
    )


def _traj(
    id: int,
    steps: list[TrajectoryStep],
    verdict: Verdict,
    started: datetime,
    *,
    query: str,
    name: str = "support",
    session: str = "s-1",
    user: str = "u-1",
    lessons: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
) -> Trajectory:
    attrs = {attributes.TRAJECTORY_NAME_ATTRIBUTE: name, "query": query, **(extra or {})}
    steps = [replace(s, timestamp=started + (s.timestamp - T0)) for s in steps]  # steps are built relative to T0
    return Trajectory.build(
        steps,
        verdict,
        id=id,
        started_at=started,
        total_latency_ms=max([100, *(25 * s.index + s.latency_ms for s in steps)]),
        query_embedding=_EMBED(query),
        metadata=TrajectoryMetadata(
            session_id=session,
            user_id=user,
            request_type="support",
            models_used=tuple(sorted({s.metadata.model for s in steps if s.metadata and s.metadata.model})),
            tools_invoked=tuple(sorted({s.metadata.tool_used for s in steps if s.metadata and s.metadata.tool_used})),
            attributes=attrs,
        ),
        lessons=lessons,
    )


def ui_trajectories() -> list[Trajectory]:
    out = []
    t = T0
    out.append(
        _traj(
            NESTED_ID,
            [
                _step(t, 0, "plan", model="m-small", tokens=(50, 10)),
                _step(t, 1, "search_kb", parent=0, tool="kb", latency_ms=30),
                _step(t, 2, "read_article", parent=1, tool="kb"),
                _step(t, 3, "answer", model="m-large", tokens=(300, 120)),
            ],
            Verdict.success(),
            t,
            query="How do I reset my password?",
            session="s-nested",
            extra={
                "recalled": json.dumps(
                    [{"id": FAILED_ID, "similarity": 0.91, "lesson": "check the token first", "helped": True}, 7]
                )
            },
        )
    )
    out.append(
        _traj(
            FAILED_ID,
            [
                _step(t, 0, "verify_identity", tool="account_api"),
                _step(t, 1, "delete_account", StepOutcome.failure("PermissionError: account is locked"), tool="account_api"),
            ],
            Verdict.failure(RootCause.tool_failure("account_api", "PermissionError: account is locked")),
            t + timedelta(minutes=1),
            query="Delete my account",
            session="s-failed",
            user="u-2",
            lessons=("Do not delete locked accounts",),
        )
    )
    out.append(
        _traj(
            3,
            [_step(t, 0, "draft"), _step(t, 1, "cite", StepOutcome.partial("draft", "sources"))],
            Verdict.partial(0.5),
            t + timedelta(minutes=2),
            query="Compare your plans",
            session="s-partial",
        )
    )
    out.append(
        _traj(
            4,
            [
                _step(t, 0, "refund", StepOutcome.failure("TimeoutError: gateway"), tool="payments"),
                _step(t, 1, "refund", tool="payments"),
            ],
            Verdict.recovered(RootCause.tool_failure("payments", "timeout"), 1, 0.85),
            t + timedelta(minutes=3),
            query="Refund my parcel",
            session="s-recovered",
            name="billing",
        )
    )
    out.append(
        _traj(
            XSS_ID,
            [_step(t, 0, XSS, StepOutcome.failure(XSS), tool=XSS, model=XSS)],
            Verdict.failure(RootCause.unknown(XSS)),
            t + timedelta(minutes=4),
            query=XSS,
            name=XSS,
            session=XSS,
            user=XSS,
            lessons=(XSS,),
            extra={"recalled": XSS},
        )
    )
    for i in range(FILLER):
        out.append(
            _traj(
                1000 + i,
                [_step(t, 0, "classify", model="m-small", tokens=(10, 2)), _step(t, 1, "answer")],
                Verdict.success(),
                T0 - timedelta(days=1, minutes=i),
                query=f"filler question number {i}",
                name="filler",
                session=f"s-filler-{i}",
                user="u-filler",
            )
        )
    return out


def fill_ui_store(store: TrajectoryStore) -> list[Trajectory]:
    """Adds :func:`ui_trajectories` and one key lesson (hostile text included) to *store*."""
    ts = ui_trajectories()
    store.add_many(ts)
    lesson = KeyLesson(
        content="Retry the payments gateway once " + XSS,
        embedding=np.ones(256, dtype=np.float32),
        source_trajectory_ids=(4, FAILED_ID),
        observation_count=2,
        category=PatternCategory.ToolUse,
        importance=0.8,
        success_rate=0.5,
        avg_quality=0.6,
        example_actions=("refund",),
        tags=(),
        created_at=T0,
        last_observed=T0,
    )
    store.save_distillation([], [lesson])
    return ts
