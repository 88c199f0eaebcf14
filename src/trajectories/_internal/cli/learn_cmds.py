"""Commands of the learning loop: feedback (a later verdict) and lessons (memories and their effect)."""

from __future__ import annotations

import argparse

from ..learning.effect import base_rate
from ..model.feedback import verdict_from_score, verdict_history
from ..model.recall import lesson_id, recalled_of
from ..model.serde import from_dict
from ..model.trajectory import Trajectory
from ..model.verdict import RootCause, Verdict
from ..store.base import TrajectoryStore
from ..store.credit import BASE_KEY, MemoryCredit, MemoryKey
from ..text import printable
from .common import EXIT_OK, CLIError, emit_json, find_trajectory, open_from, parse_quality
from .render import plural, render_table, verdict_text

__all__ = ["history_lines", "recalled_lines", "register", "verdict_from_args"]


def _ratio(text: str) -> float:
    try:
        return parse_quality(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None


def verdict_from_args(args: argparse.Namespace) -> Verdict:
    """The verdict that ``feedback``'s options describe."""
    if args.cause is not None and args.verdict != "failure":
        raise CLIError("--cause goes with --verdict failure", 2)
    if args.success or args.verdict == "success":
        return Verdict.success()
    if args.verdict == "failure":
        return Verdict.failure(RootCause.unknown(args.cause or "negative feedback"))
    if args.partial is not None:
        return Verdict.partial(args.partial)
    if args.score is not None:
        return verdict_from_score(args.score)
    raise CLIError("--verdict partial needs its ratio: use --partial RATIO", 2)


def cmd_feedback(args: argparse.Namespace) -> int:
    verdict = verdict_from_args(args)
    with open_from(args, create=False) as store:
        before = find_trajectory(store, args.id)
        after = store.feedback(int(before.id), verdict, source=args.source)
        moved = len({m.key for m in recalled_of(after.metadata.attributes)})
    if args.json:
        emit_json(
            {
                "id": int(after.id),
                "verdict_before": verdict_text(before.verdict),
                "verdict": verdict_text(after.verdict),
                "quality_before": before.quality,
                "quality": after.quality,
                "recalled": moved,
            }
        )
        return EXIT_OK
    print(f"{after.id}: {printable(verdict_text(before.verdict))} -> {printable(verdict_text(after.verdict))}")
    print(f"quality {before.quality:.3f} -> {after.quality:.3f}")
    if moved:
        print(f"credit of the {moved} memories it recalled moved by the difference")
    return EXIT_OK


def _rate(c: MemoryCredit) -> str:
    return "-" if c.success_rate is None else f"{c.success_rate:.0%}"


def _mean(c: MemoryCredit) -> str:
    return "-" if c.mean_quality is None else f"{c.mean_quality:.3f}"


def _sources(ids: tuple[int, ...], shown: int = 3) -> str:
    head = ", ".join(f"traj-{i}" for i in ids[:shown])
    return head + (f" +{len(ids) - shown}" if len(ids) > shown else "")


def cmd_lessons(args: argparse.Namespace) -> int:
    with open_from(args, create=False) as store:
        lessons = store.key_lessons()
        credit = store.memory_credit([("lesson", kl.id) for kl in lessons] + [BASE_KEY])
        recalled = store.memory_credits("trajectory", limit=args.limit)
    base = credit.get(BASE_KEY, MemoryCredit())
    p0 = base_rate(base)
    rows = [(kl, credit.get(("lesson", kl.id), MemoryCredit())) for kl in lessons]
    rows.sort(key=lambda item: (-item[1].uses, -item[0].score))
    rows = rows[: args.limit]
    if args.json:
        emit_json(
            {
                "base": {**base.to_dict(), "base_rate": p0},
                "key_lessons": [
                    {
                        "id": kl.id,
                        "content": kl.content,
                        "category": kl.category.name,
                        "observations": kl.observation_count,
                        "sources": list(kl.source_trajectory_ids),
                        "merged_from": list(kl.merged_from),
                        **c.to_dict(),
                    }
                    for kl, c in rows
                ],
                "recalled_trajectories": [{"id": i, **c.to_dict()} for (_, i), c in recalled],
            }
        )
        return EXIT_OK
    print(f"base rate {p0:.0%} (smoothed): {base.successes} of {plural(base.uses, 'run')} that recalled memories succeeded")
    if rows:
        print(f"key lessons ({len(lessons)}):")
        print(
            render_table(
                ("USES", "SUCCESS", "MEAN Q", "SOURCES", "LESSON"),
                [[c.uses, _rate(c), _mean(c), _sources(kl.source_trajectory_ids), printable(kl.content, 90)] for kl, c in rows],
            )
        )
    else:
        print("no key lessons (trajectories distill makes them)")
    if recalled:
        print("trajectories recalled most:")
        print(
            render_table(
                ("ID", "USES", "SUCCESS", "MEAN Q"), [[f"traj-{i}", c.uses, _rate(c), _mean(c)] for (_, i), c in recalled]
            )
        )
    return EXIT_OK


def history_lines(t: Trajectory) -> list[str]:
    """``show``'s section on the verdicts that feedback replaced, oldest first."""
    history = verdict_history(t)
    if not history:
        return []
    lines = ["verdict history (replaced by feedback):"]
    for item in history:
        try:
            text = verdict_text(from_dict(Verdict, item["verdict"]))  # type: ignore[type-abstract]
        except (KeyError, TypeError, ValueError):
            text = "(unreadable verdict)"
        quality = item.get("quality")
        q = f"quality {quality:.3f}" if isinstance(quality, (int, float)) else ""
        until, source = printable(str(item.get("replaced_at", "?"))), printable(str(item.get("source", "?")))
        lines.append(f"  {printable(text)}  {q}  until {until}  by {source}")
    return lines


def recalled_lines(store: TrajectoryStore, t: Trajectory) -> list[str]:
    """``show``'s section on what the run recalled and how each memory has done when recalled."""
    memories = recalled_of(t.metadata.attributes)
    if not memories:
        return []
    keys: list[MemoryKey] = [m.key for m in memories]
    credit = store.memory_credit([*keys, BASE_KEY])
    p0 = base_rate(credit.get(BASE_KEY, MemoryCredit()))
    outcome = "succeeded" if t.is_success else "did not succeed"
    lines = [f"recalled ({len(memories)}; this run {outcome}; base rate {p0:.0%}):"]
    for m in memories:
        c = credit.get(m.key, MemoryCredit())
        what = f"traj-{m.id}" if m.kind == "trajectory" else "lesson " + printable(m.lesson or str(m.id), 70)
        if m.kind == "lesson" and m.lesson is not None and lesson_id(m.lesson) != m.id:
            what += f" (id {m.id})"
        lines.append(
            f"  {what}  similarity {m.similarity:.3f}  recalled by {plural(c.uses, 'run')}, {_rate(c)} succeeded, "
            f"mean quality {_mean(c)}"
        )
    return lines


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "feedback",
        parents=[common],
        help="give a stored trajectory a later verdict (credit of what it recalled moves with it)",
        description="Give a stored trajectory a later verdict: a user's thumbs-down, a reviewer's score. Its quality is "
        "recomputed by ruvllm's formula, the verdict it replaces is kept in its history (metadata attribute "
        "verdict.history), and the credit of every memory it recalled moves by the difference. Exit 1 if there is "
        "no such trajectory.",
    )
    p.add_argument("id", help="traj-N, N or the uuid")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--verdict", choices=["success", "failure", "partial"], help="the new verdict")
    g.add_argument("--success", action="store_true", help="the same as --verdict success")
    g.add_argument("--partial", type=_ratio, metavar="RATIO", help="partial, with this completion ratio in [0, 1]")
    g.add_argument("--score", type=_ratio, metavar="S", help="a score in [0, 1]: 1 success, 0 failure, between partial")
    p.add_argument("--cause", metavar="TEXT", help="with --verdict failure: what went wrong (default 'negative feedback')")
    p.add_argument("--source", default="cli", metavar="NAME", help="who gave the feedback, kept in the history (default cli)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser(
        "lessons",
        parents=[common],
        help="key lessons and recalled memories, with how the runs that recalled them went",
        description="The distilled key lessons with their sources, and the trajectories recalled most: for each, how many "
        "stored runs recalled it, how many of those succeeded, their mean quality, against the base rate (the "
        "success rate of every run that recalled anything). Most used first.",
    )
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N of each (default 20)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_lessons)
