"""Commands that read the store: list, show, search, stats, analyze."""

from __future__ import annotations

import argparse

from ..learning.analyze import analyze
from ..learning.findings import findings
from ..model import serde
from ..store.base import TrajectoryFilter
from .common import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    CLIError,
    add_filter_options,
    emit_json,
    filter_from,
    find_trajectory,
    open_from,
)
from .learn_cmds import history_lines, recalled_lines
from .render import SUMMARY_HEADERS, render_table, render_tree, summary_rows, trajectory_summary, verdict_text

__all__ = ["DEFAULT_MIN_SIMILARITY", "register"]

#: ``search`` shows only results at least this similar. With the default hashing embedder,
#: texts that share no words still score up to about 0.2 through shared character trigrams.
DEFAULT_MIN_SIMILARITY = 0.25


def _similarity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"similarity must be within [-1, 1], got {text}")
    return value


def cmd_list(args: argparse.Namespace) -> int:
    with open_from(args, create=False) as store:
        ts = store.list(filter_from(args), limit=args.limit, offset=args.offset)
    if args.json:
        emit_json([trajectory_summary(t) for t in ts])
    elif ts:
        print(summary_rows(ts, SUMMARY_HEADERS))
    else:
        print("no trajectories")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    with open_from(args, create=False) as store:
        t = find_trajectory(store, args.id)
        recalled = [] if args.json else recalled_lines(store, t)
    if args.json:
        emit_json(serde.to_dict(t))
    else:
        print("\n".join([render_tree(t), *recalled, *history_lines(t)]))
    return EXIT_OK


def _search_filter(args: argparse.Namespace) -> TrajectoryFilter | None:
    """The filters of ``search`` other than verdict and minimum quality (those go to similar()'s own
    arguments, which the SQLite store applies inside its index without an SQL query); None if none."""
    f = TrajectoryFilter(
        name=args.name,
        session_id=args.session,
        user_id=args.user,
        max_quality=args.max_quality,
        since=args.since,
        until=args.until,
    )
    return None if f == TrajectoryFilter() else f


def cmd_search(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.like is None):
        raise CLIError("give either TEXT or --like ID", 2)
    narrow = {"min_quality": args.min_quality, "verdict": args.verdict, "filter": _search_filter(args)}
    with open_from(args, create=False) as store:
        if args.like is not None:
            origin = find_trajectory(store, args.like)
            if origin.query_embedding.size == 0:
                raise CLIError(f"{origin.id} has no query embedding to compare with", EXIT_NOT_FOUND)
            hits = store.similar(origin.query_embedding, args.k, exclude=[int(origin.id)], **narrow)
        else:
            hits = store.similar(args.text, args.k, **narrow)
    hits = [h for h in hits if h.similarity >= args.min_similarity]
    if args.json:
        emit_json([{"similarity": h.similarity, **trajectory_summary(h.trajectory)} for h in hits])
    elif hits:
        similarities = [[f"{h.similarity:.3f}"] for h in hits]
        print(summary_rows([h.trajectory for h in hits], ("SIMILARITY", *SUMMARY_HEADERS), similarities))
    if not hits:
        if not args.json:
            floor = f"{args.min_similarity:g}"
            print(f"no similar trajectories (none at similarity >= {floor}; --min-similarity sets the floor)", flush=True)
        return EXIT_NOT_FOUND
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    with open_from(args, create=False) as store:
        st = store.stats(top_actions=args.top)
    if args.json:
        emit_json(st.to_dict())
        return EXIT_OK
    print(f"trajectories: {st.total}")
    print(f"average quality: {st.avg_quality:.3f}")
    print(f"tokens: {st.total_input_tokens} in, {st.total_output_tokens} out")
    print("by verdict:")
    print(render_table(("VERDICT", "COUNT"), [[k, v] for k, v in st.by_verdict.items()]))
    if st.top_actions:
        print("top actions:")
        print(render_table(("ACTION", "COUNT"), st.top_actions))
    if st.compressed or st.key_lessons:
        print(f"distilled: {st.compressed} compressed trajectories, {st.key_lessons} key lessons")
    if st.unrelated_spans:
        print("spans in no trajectory (as serve and import counted them):")
        print(render_table(("REASON", "SPANS"), sorted(st.unrelated_spans.items())))
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    with open_from(args, create=False) as store:
        t = find_trajectory(store, args.id)
    a = analyze(t)
    found = findings(t)
    if args.json:
        # ruvllm's VerdictAnalysis exactly, and beside it (never inside it) this SDK's findings
        emit_json({"id": int(t.id), **a.to_dict(), "findings": [f.to_dict() for f in found]})
        return EXIT_OK
    print(f"{t.id}: {verdict_text(a.verdict)}")
    if found:
        print("findings (from this trajectory's steps):")
        for f in found:
            print(f"  - {f.text}")
    print("ruvllm verdict analysis:")
    print(f"  category: {a.pattern_category}   confidence: {a.confidence:.2f}")
    if a.root_cause is not None:
        print(f"  root cause: {a.root_cause}")
    sections = (
        ("contributing factors", a.contributing_factors),
        ("failure patterns", tuple(f"{p.id} ({p.cause_type}): try {', '.join(p.mitigations)}" for p in a.failure_patterns)),
        (
            "recovery strategies",
            tuple(
                f"{s.name} (success {s.success_rate:.0%}, effort {s.effort_score}): {s.description}"
                for s in a.recovery_strategies
            ),
        ),
        ("lessons", a.lessons),
        ("improvements", a.improvements),
    )
    for title, items in sections:
        if items:
            print(f"  {title}:")
            for item in items:
                print(f"    - {item}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "list",
        parents=[common],
        help="list stored trajectories, newest first",
        description="List stored trajectories, newest first.",
    )
    add_filter_options(p)
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (default 20)")
    p.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N (paging; default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "show",
        parents=[common],
        help="show one trajectory with its steps as a tree",
        description="Show one trajectory: verdict, quality, and its steps as a tree (children under their parent step) "
        "with durations, outcomes and confidence. Exit 1 if there is no such trajectory.",
    )
    p.add_argument("id", help="traj-N, N or the uuid")
    p.add_argument("--json", action="store_true", help="print the trajectory's ruvllm JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "search",
        parents=[common],
        help="find trajectories similar to a text or to another trajectory",
        description="Find the stored trajectories whose query embeddings are most similar (cosine) to TEXT, embedded "
        "by the configured embedder, or to the trajectory given with --like. The filters (those of list) select which "
        "trajectories are compared, so k results are found among those that match. Only results at least "
        "--min-similarity similar are shown; exit 1 when there is none.",
    )
    p.add_argument("text", nargs="?", help="the query text")
    p.add_argument("--like", metavar="ID", help="search for trajectories similar to this one instead")
    p.add_argument("-k", type=int, default=5, metavar="N", help="at most N results (default 5)")
    p.add_argument(
        "--min-similarity",
        type=_similarity,
        default=DEFAULT_MIN_SIMILARITY,
        metavar="S",
        help=f"only results with cosine similarity at least S, in [-1, 1] (default {DEFAULT_MIN_SIMILARITY}; -1 shows all)",
    )
    add_filter_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "stats",
        parents=[common],
        help="counts by verdict, average quality, tokens, top actions",
        description="Statistics of the store: counts by verdict, average quality, token totals, most frequent actions.",
    )
    p.add_argument("--top", type=int, default=10, metavar="N", help="how many top actions (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "analyze",
        parents=[common],
        help="analyse a trajectory: findings from its steps, and ruvllm's verdict analysis",
        description="Analyse one trajectory. First the findings from its steps (this SDK's own: each step that did not "
        "succeed by name, what it missed or the error it raised, whether a retry can help — a timeout can, a "
        "permission error cannot), then ruvllm's verdict analysis exactly as the crate computes it: root cause, "
        "contributing factors, failure patterns, recovery strategies, lessons, category, confidence, improvements. "
        '--json prints ruvllm\'s fields and a separate "findings" list.',
    )
    p.add_argument("id", help="traj-N, N or the uuid")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_analyze)
