"""The markdown section of docs/learning.md and the figures (matplotlib, when installed)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trajectories._internal.learning.effect import PRIOR_STRENGTH

from .runner import RunResult
from .stats import band, cumulative, mean_ci, windowed
from .world import FAMILIES

__all__ = ["markdown", "plot", "replace_section"]

START, END = "<!-- bench-learning:start -->", "<!-- bench-learning:end -->"


def _ci(value: Sequence[float], digits: int = 3, scale: float = 1.0) -> str:
    mean, half = value
    return f"{mean * scale:.{digits}f} ± {half * scale:.{digits}f}"


def _gap(arms: dict[str, Any], better: str, worse: str) -> str | None:
    if better not in arms or worse not in arms:
        return None
    gaps = [a - b for a, b in zip(arms[better]["per_seed_success"], arms[worse]["per_seed_success"], strict=True)]
    mean, half = mean_ci(gaps)
    return (
        f"- *{better}* minus *{worse}*, success per seed: mean {mean:.3f} ± {half:.3f}, smallest {min(gaps):.3f}, "
        f"largest {max(gaps):.3f} (over {len(gaps)} seeds)."
    )


def _comparisons(arms: dict[str, Any]) -> list[str]:
    """The per-seed gaps, late verdicts, misleading share, and recall time by ranking."""
    lines = [
        gap
        for gap in (
            _gap(arms, "memory on, similarity", "memory off"),
            _gap(arms, "memory on, similarity + feedback", "memory on, similarity"),
            _gap(arms, "memory on, effect + feedback", "memory on, similarity + feedback"),
            _gap(arms, "misleading, effect + feedback", "misleading, similarity + feedback"),
        )
        if gap is not None
    ]
    misled = [a for a in arms.values() if a["misleading_share"] > 0.0]
    for a in misled[:1]:
        lines.append(
            f"- Misleading memories made up {a['misleading_share'] * 100:.0f}% of what was recorded in the misleading arms "
            "(one wrong plan per family, recorded as a clean success; no verdict ever corrects them)."
        )
    for name, a in arms.items():
        if a["looked_solved_but_failed"] > 0:
            lines.append(
                f"- Late verdicts ({name}): {a['looked_solved_but_failed']:.1f} tasks per run looked resolved but were not "
                f"(a trap argument); {a['late_verdicts']:.1f} of those verdicts arrived within the run, "
                f"{a['late_applied']:.1f} were applied with `trajectories.learning.feedback`."
            )
    for name, a in arms.items():
        if "growth" in a:
            last = a["growth"][-1]
            quarters = ", ".join(f"{x:.2f}" for x in a["recall_ms_by_quarter"])
            lines.append(
                f"- Memory growth ({name}): {last[1]:.0f} trajectories, {last[2] / 1024:.0f} KiB of SQLite after "
                f"{last[0]} tasks; mean `lessons_for()` time per quarter of the stream: {quarters} ms."
            )
    return lines


def markdown(results: dict[str, Any]) -> str:
    arms: dict[str, Any] = results["arms"]
    p = results["params"]
    lines = [
        f"Measured by `make bench-learning` on {results['machine']}: {p['seeds']} seeds × {p['tasks']} tasks per arm, "
        f"step budget {p['budget']}, k = {p['k']}; wall time of the whole run **{results['wall_seconds']:.0f} s** "
        f"({p['jobs']} processes; {results['cpu_seconds']:.0f} CPU seconds in all; load average "
        f"{results['load_average']:.1f} at the end, from other work on the machine). "
        "Every figure is the mean over seeds ± the half-width of its 95% interval (Student's t); "
        "millisecond figures depend on that load, the rest do not.",
        *(
            [
                f"**Effect ranking's prior strength set to {p['prior_strength']:g} for this run** "
                f"(the SDK's is {PRIOR_STRENGTH:g})."
            ]
            if p.get("prior_strength") is not None
            else []
        ),
        "",
        "| arm | success (whole stream) | success (last quarter) | steps per solved task "
        "| a family's first 5 tasks | its later tasks | recall ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, a in arms.items():
        recall = _ci(a["recall_ms"], 2) if a["recall_ms"][0] > 0 else "—"
        lines.append(
            f"| {name} | {_ci(a['success'])} | {_ci(a['success_last_quarter'])} | {_ci(a['steps_per_solved'], 1)} | "
            f"{_ci(a['success_family_first_tasks'])} | {_ci(a['success_family_later_tasks'])} | {recall} |"
        )
    lines.append("")
    lines += _comparisons(arms)
    if results["distillation"]:
        lines += _distillation(results)
    if results["retrieval"] or results.get("retrieval_not_run"):
        lines += _retrieval(results)
    return "\n".join(lines) + "\n"


def _distillation(results: dict[str, Any]) -> list[str]:
    seeds = results["params"].get("distill_seeds", 0)
    lines = [
        "",
        f"**Distillation** ({seeds} seeds; memory on for the stream, then the same 300 further tasks on each copy):",
        "",
        "| memory | trajectories | key lessons | SQLite KiB | distil ms | success after | steps per solved | recall ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, d in results["distillation"].items():
        lines.append(
            f"| {variant} | {d['trajectories']:.0f} | {d['key_lessons']:.0f} | {d['db_kib']:.0f} | {d['distill_ms']:.0f} | "
            f"{_ci(d['success'])} | {_ci(d['steps_per_solved'], 1)} | {_ci(d['recall_ms'], 2)} |"
        )
    return lines


def _retrieval(results: dict[str, Any]) -> list[str]:
    lines = ["", "**Retrieval** (held-out wordings; share of the top k that are of the query's family):", ""]
    lines += ["| embedder | memories | queries | P@1 | P@5 | P@10 |", "|---|---|---|---|---|---|"]
    for r in results["retrieval"]:
        pk = r["precision"]
        lines.append(f"| {r['embedder']} | {r['memories']} | {r['queries']} | {pk['1']:.3f} | {pk['5']:.3f} | {pk['10']:.3f} |")
    for name, reason in results.get("retrieval_not_run", {}).items():
        lines.append(f"| {name} | — | — | not run: {reason} | | |")
    return lines


def replace_section(path: Path, section: str) -> None:
    text = path.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{path} has no {START} ... {END} section")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{section}{END}{tail}")


def plot(runs: dict[str, list[RunResult]], prefix: Path, window: int = 100) -> list[Path]:
    """docs/learning.png: cumulative and windowed success, memory on/off/misleading, with 95% bands
    (dotted lines: where late families join); steps per solved task."""
    if importlib.util.find_spec("matplotlib") is None:
        return []
    import matplotlib  # type: ignore[import-not-found,unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    late_at = sorted({f.first_at for f in FAMILIES if f.first_at > 0})
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": (1, 1, 0.8)})
    for name, arm_runs in runs.items():
        x = range(1, len(arm_runs[0].solved) + 1)
        color = None
        for ax, curves in (
            (axes[0], [cumulative(r.solved) for r in arm_runs]),
            (axes[1], [windowed(r.solved, window) for r in arm_runs]),
        ):
            mean, half = band(curves)
            (line,) = ax.plot(x, mean, label=name, color=color)
            color = line.get_color()
            ax.fill_between(x, mean - half, mean + half, alpha=0.25, color=color)
            for at in late_at:
                ax.axvline(at * len(x), color="grey", linestyle=":", linewidth=1)
        steps = [[s for s, ok in zip(r.steps, r.solved, strict=True) if ok] for r in arm_runs]
        axes[2].barh(name, sum(sum(s) for s in steps) / max(1, sum(len(s) for s in steps)), color=color)
    axes[0].set_title("cumulative success rate")
    axes[1].set_title(f"success over the last {window} tasks")
    axes[2].set_title("steps per solved task")
    for ax in axes[:2]:
        ax.set_xlabel("task")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[2].invert_yaxis()  # the arms top to bottom in the legend's order
    axes[2].tick_params(axis="y", labelsize=8)
    axes[2].grid(alpha=0.3, axis="x")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0.0, 0.07, 1.0, 1.0))
    out = prefix.with_suffix(".png")
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return [out]
