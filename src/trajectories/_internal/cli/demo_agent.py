"""A simulated async customer-support agent, recorded with the real instrumentation.

Nothing here talks to a network or a model: "tools" sleep a few milliseconds and return
canned answers. What is real is everything the SDK does: spans from ``trajectory()`` and
``@step``, outcomes, verdicts, tokens, lessons — so ``trajectories demo`` exercises the same
path as an application.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import anyio
from opentelemetry.trace import TracerProvider

from ...instrument import TrajectoryFailed, current_step, current_trajectory, step, trajectory
from ..model.verdict import RootCause

__all__ = ["REQUESTS", "run_support_agent"]

#: (user, session, question) — one trajectory each, run concurrently.
REQUESTS: tuple[tuple[str, str, str], ...] = (
    ("u-ana", "s-101", "How do I reset my password?"),
    ("u-ben", "s-102", "Where is my order #1234?"),
    ("u-cho", "s-103", "Please refund my damaged parcel"),
    ("u-dev", "s-104", "Delete my account and all my data"),
    ("u-eli", "s-105", "Compare your plans for a team of 40 people"),
    ("u-fay", "s-106", "Change the billing address on my invoice"),
)


class _Sim:
    """Deterministic latencies and one transient tool failure, per run."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.refund_attempts = 0

    async def work(self, low: float = 0.005, high: float = 0.03) -> None:
        await anyio.sleep(self.rng.uniform(low, high))


def _agent(sim: _Sim, provider: TracerProvider) -> Callable[[str, str, str], Awaitable[None]]:
    @step(
        action="classify_intent", rationale="Route the request to the right playbook", model="sim-small", tracer_provider=provider
    )
    async def classify(question: str) -> str:
        await sim.work()
        s = current_step()
        if s is not None:
            s.add_tokens(input=40 + len(question), output=4)
        q = question.lower()
        for intent, words in (
            ("password", ("password",)),
            ("order", ("order",)),
            ("refund", ("refund",)),
            ("account", ("account", "delete")),
            ("plans", ("plan",)),
            ("billing", ("billing", "invoice")),
        ):
            if any(w in q for w in words):
                return intent
        return "other"

    @step(tool="kb_search", rationale="Find help-centre articles", tracer_provider=provider)
    async def search_kb(query: str, want: int = 3) -> list[str]:
        await sim.work()
        hits = ["reset-password", "2fa"] if "password" in query.lower() else ["plans-overview"]
        if len(hits) < want:
            s = current_step()
            if s is not None:
                s.partial(achieved=f"{len(hits)} articles", missing=f"{want} articles")
                s.set_confidence(0.6)
        return hits

    @step(tool="order_api", rationale="Look the order up", tracer_provider=provider)
    async def lookup_order(order_id: str) -> str:
        await sim.work()
        return f"order {order_id}: shipped"

    @step(tool="payments", rationale="Issue the refund", tracer_provider=provider)
    async def execute_refund() -> str:
        await sim.work()
        sim.refund_attempts += 1
        if sim.refund_attempts == 1:
            raise TimeoutError("payments gateway did not answer in 2s")
        return "refund issued"

    @step(action="verify_identity", rationale="Sensitive change: confirm who is asking", tracer_provider=provider)
    async def verify_identity(user: str) -> bool:
        await sim.work()
        return True

    @step(action="update_billing", rationale="Apply the change", tool="billing_api", tracer_provider=provider)
    async def update_billing(user: str) -> None:
        await verify_identity(user)  # a step inside a step: drawn under it by `show`
        await sim.work()

    @step(tool="account_api", rationale="Delete the account", tracer_provider=provider)
    async def delete_account(user: str) -> None:
        await sim.work()
        raise PermissionError("account deletion needs a signed request")

    @step(action="compose_answer", rationale="Write the reply", model="sim-large", tracer_provider=provider)
    async def compose(parts: list[str]) -> str:
        await sim.work(0.01, 0.04)
        s = current_step()
        if s is not None:
            s.add_tokens(input=300 + 20 * len(parts), output=120)
        return " / ".join(parts)

    async def handle(user: str, session: str, question: str) -> None:
        async with trajectory(
            "support-agent",
            query=question,
            session_id=session,
            user_id=user,
            request_type="support",
            tracer_provider=provider,
        ) as t:
            intent = await classify(question)
            if intent == "password":
                answer = await compose(await search_kb(question, want=2))
                t.add_lesson("Password questions are answered from the help centre")
            elif intent == "order":
                answer = await compose([await lookup_order("1234")])
            elif intent == "refund":
                try:
                    await execute_refund()
                except TimeoutError:
                    async with step("retry_refund", rationale="Transient gateway timeout", tracer_provider=provider) as r:
                        r.retry("payments gateway timed out", ["retry once after a short wait"])
                        await sim.work()
                    await execute_refund()
                    t.recovered(RootCause.tool_failure("payments", "timeout"), 1, 0.85)
                    t.add_lesson("Retry the payments gateway once on timeout")
                answer = await compose(["refund issued"])
            elif intent == "account":
                try:
                    await delete_account(user)
                except PermissionError as exc:
                    raise TrajectoryFailed(RootCause.tool_failure("account_api", str(exc))) from None
                answer = ""
            elif intent == "plans":
                answer = await compose(await search_kb(question, want=3))
            else:
                await update_billing(user)
                answer = await compose(["billing address updated"])
            handle_ = current_trajectory()
            if handle_ is not None and answer:
                handle_.record_model("sim-large")

    return handle


async def run_support_agent(provider: TracerProvider, *, seed: int = 7) -> int:
    """Handle every request in :data:`REQUESTS` concurrently; returns how many failed (expected: 1)."""
    sim = _Sim(seed)
    handle = _agent(sim, provider)
    failed = 0

    async def one(user: str, session: str, question: str) -> None:
        nonlocal failed
        try:
            await handle(user, session, question)
        except TrajectoryFailed:
            failed += 1  # the trajectory recorded its Failure verdict; the demo goes on

    async with anyio.create_task_group() as tg:
        for user, session, question in REQUESTS:
            tg.start_soon(one, user, session, question)
    return failed
