"""``trajectories demo``: a simulated async support agent, recorded through the real
instrumentation and exporter into the store, then printed as a table of scored trajectories."""

from __future__ import annotations

import argparse
import functools
import sys
import time

from ..store.base import TrajectoryNotFoundError
from .common import EXIT_DB, EXIT_OK, CLIError, open_from
from .render import plural, render_table

__all__ = ["register"]


def cmd_demo(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the other commands must work (and start fast) even
    # without the instrumentation and exporter loaded.
    import anyio
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from ...config import configure
    from .demo_agent import REQUESTS, run_support_agent

    started = time.monotonic()
    with open_from(args) as store:
        before = {int(t.id) for t in store.list(limit=None)} if store.count() < 10_000 else set()
        # Our own provider (passed to configure), so the demo never installs a global one.
        provider = TracerProvider(resource=Resource.create({"service.name": "support-agent-demo"}))
        config = configure(tracer_provider=provider, store=store)
        try:
            anyio.run(functools.partial(run_support_agent, provider, seed=args.seed))
            config.flush()
        finally:
            config.shutdown()
            provider.shutdown()
        exporter = config.exporter
        stats = exporter.stats
        if stats.sink_failures:
            raise CLIError(f"the exporter could not write {stats.sink_failures} trajectories into {store!r}", EXIT_DB)
        questions = {session: question for _, session, question in REQUESTS}
        recorded = []
        for t in store.list(limit=len(REQUESTS) * 2):
            if int(t.id) not in before and t.metadata.session_id in questions:
                recorded.append(t)
        recorded.sort(key=lambda t: t.metadata.session_id or "")
        if not recorded:
            raise TrajectoryNotFoundError("the demo recorded no trajectories")
        rows = [
            [
                str(t.id),
                questions[t.metadata.session_id or ""],
                t.verdict.kind,
                f"{t.quality:.3f}",
                len(t.steps),
                f"{t.total_latency_ms} ms",
                ", ".join(t.metadata.tools_invoked) or "-",
            ]
            for t in recorded
        ]
        db = getattr(store, "path", "the store")
    print(render_table(("ID", "REQUEST", "VERDICT", "QUALITY", "STEPS", "LATENCY", "TOOLS"), rows))
    print(
        f"\nrecorded {plural(len(recorded), 'trajectory', 'trajectories')} from {len(REQUESTS)} concurrent requests into {db} "
        f"in {time.monotonic() - started:.2f} s",
        file=sys.stderr,
    )
    first = recorded[0]
    failed = next((t for t in recorded if t.verdict.kind == "failure"), first)
    print(
        "next: trajectories show "
        + str(first.id)
        + "   trajectories analyze "
        + str(failed.id)
        + '   trajectories search "forgot my password"',
        file=sys.stderr,
    )
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="record a simulated support agent into the store and print the scored trajectories",
        description="Run a simulated async customer-support agent (six concurrent requests: tool steps, a failure, "
        "a retry that recovers, a partial answer, a step inside a step) under the real instrumentation, export its "
        "spans through configure()'s TrajectoryExporter into the store, and print the scored trajectories. "
        "No network; about a second.",
    )
    p.add_argument("--seed", type=int, default=7, metavar="N", help="seed of the simulated latencies (default 7)")
    p.set_defaults(func=cmd_demo)
