"""Record a trajectory by hand with TrajectoryRecorder, score it, and print it as ruvllm JSON.

Run: ``python examples/record_trajectory.py``. No OpenTelemetry needed: this is the plain
recording API; see examples/quickstart.py for the instrumented one.
"""

from __future__ import annotations

from trajectories import RootCause, StepMetadata, StepOutcome, TrajectoryRecorder, Verdict


def main() -> None:
    rec = TrajectoryRecorder(query_embedding=[0.1, -0.25, 0.5, 1.0], session_id="s-1", request_type="support")
    rec.add_step(
        "search",
        "Need context before answering",
        StepOutcome.success(),
        0.95,
        metadata=StepMetadata(tool_used="kb_search", input_tokens=120, output_tokens=48, model="gpt-4o-mini"),
    )
    rec.add_step("lookup_order", "Order status is needed", StepOutcome.partial("found order", "tracking number"), 0.8)
    with rec.step("compose", "Write the reply", confidence=0.9):
        reply = "Your order ships tomorrow."
    rec.add_lesson("Search the knowledge base before answering")
    trajectory = rec.complete(Verdict.partial(2 / 3))

    print(f"{trajectory.id}  verdict: {trajectory.verdict}  quality: {trajectory.quality}")
    for s in trajectory.steps:
        print(f"  [{s.index}] {s.action:<13} {s.outcome.kind:<8} confidence={s.confidence:<5} quality={s.quality:.4f}")
    print(f"  reply: {reply!r}; tokens: {trajectory.total_tokens}; success rate: {trajectory.step_success_rate:.2f}")
    failed = Verdict.failure(RootCause.tool_failure("kb_search", "timeout"))
    print(f"  a failure reads: {failed.description}")


if __name__ == "__main__":
    main()
