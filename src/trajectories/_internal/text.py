"""Small text helpers for messages that people read (logs, the command line)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, one: str, many: str) -> str:
    """*one* for 1, *many* otherwise: ``f"{n} {plural(n, 'trajectory', 'trajectories')}"``."""
    return one if n == 1 else many
