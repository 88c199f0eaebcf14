"""Small text helpers for messages that people read (logs, the command line)."""

from __future__ import annotations

import re

__all__ = ["plural", "printable"]

# C0 and C1 controls and DEL, except none: a terminal acts on ESC, CR, BEL, backspace...
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plural(n: int, one: str, many: str) -> str:
    """*one* for 1, *many* otherwise: ``f"{n} {plural(n, 'trajectory', 'trajectories')}"``."""
    return one if n == 1 else many


def printable(text: str, limit: int | None = None) -> str:
    """Untrusted *text* made safe for a terminal line: control characters (escape sequences,
    carriage returns, newlines) shown as ``\\xNN``, and cut at *limit* characters with ``…``."""
    out = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out
