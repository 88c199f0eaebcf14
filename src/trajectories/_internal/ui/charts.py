"""Chart geometry for the overview, drawn as SVG by the templates: numbers only, no markup here."""

from __future__ import annotations

from dataclasses import dataclass

from ...store import StoreOverview

__all__ = ["Bar", "TimeChart", "bars", "time_chart"]

WIDTH = 600
HEIGHT = 160


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str
    width: float  # per mille of the widest
    css: str = ""


def bars(items: list[tuple[str, float, str]], css_prefix: str = "") -> list[Bar]:
    """Horizontal bars for (label, value, text) items, scaled to the largest value."""
    top = max((v for _, v, _ in items), default=0.0) or 1.0
    return [
        Bar(label, value, text, round(1000.0 * value / top, 1), f"{css_prefix}{label}" if css_prefix else "")
        for label, value, text in items
    ]


@dataclass(frozen=True, slots=True)
class Column:
    x: float
    width: float
    y: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class TimeChart:
    width: int
    height: int
    columns: list[Column]
    #: The success-rate line, as "x,y x,y ..." (numbers only).
    points: str
    first: str
    last: str


def time_chart(ov: StoreOverview) -> TimeChart | None:
    """Average quality per bucket as columns, the success rate as a line over them (both 0..1)."""
    if not ov.timeline or ov.first_started is None or ov.last_started is None:
        return None
    start = ov.timeline[0].start
    end = ov.timeline[-1].end
    span = max((end - start).total_seconds(), 1e-6)
    columns = []
    points = []
    for b in ov.timeline:
        x = WIDTH * (b.start - start).total_seconds() / span
        w = max(2.0, WIDTH * (b.end - b.start).total_seconds() / span - 1.0)
        h = HEIGHT * b.avg_quality
        columns.append(
            Column(
                round(x, 1),
                round(w, 1),
                round(HEIGHT - h, 1),
                round(h, 1),
                f"{b.start:%Y-%m-%d %H:%M}: {b.count} trajectories, avg quality {b.avg_quality:.3f}, "
                f"success {b.success_rate:.0%}",
            )
        )
        points.append(f"{x + w / 2:.1f},{HEIGHT * (1 - b.success_rate):.1f}")
    return TimeChart(
        WIDTH, HEIGHT, columns, " ".join(points), f"{ov.first_started:%Y-%m-%d %H:%M}", f"{ov.last_started:%Y-%m-%d %H:%M}"
    )
