"""What a trajectory recalled: references to the memories it was given, kept in its metadata.

A run that calls ``lessons_for()`` is given past trajectories and key lessons. Which ones, and
how similar they were, is stored with the run in ``metadata.attributes["recalled"]`` (a JSON
list; ruvllm's metadata attributes are string → string, so this survives every path: export,
OTLP, ``serve``, JSON lines and ruvllm's JSON). The store credits each of them when the run is
stored (docs/store.md, "The learning loop").

Each item is ``{"kind": "trajectory" | "lesson", "id": <u64>, "similarity": <float>}``, and
for a lesson also its ``"lesson"`` text (so that a reader sees it after the lesson is gone).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from ..validate import shown
from .constants import U64_MAX

__all__ = [
    "MEMORY_KINDS",
    "QUERY_ATTRIBUTE",
    "RECALLED_ATTRIBUTE",
    "VERDICT_HISTORY_ATTRIBUTE",
    "MemoryKind",
    "RecalledMemory",
    "decode_recalled",
    "encode_recalled",
    "lesson_id",
    "recalled_of",
]

#: ``metadata.attributes`` key of the JSON list of what a run recalled.
RECALLED_ATTRIBUTE: Final = "recalled"
#: ``metadata.attributes`` key of the request text (stored only with ``capture_content=True``).
QUERY_ATTRIBUTE: Final = "query"
#: ``metadata.attributes`` key of the JSON list of earlier verdicts that feedback replaced.
VERDICT_HISTORY_ATTRIBUTE: Final = "verdict.history"

MemoryKind = Literal["trajectory", "lesson"]
#: The kinds of memory a run can recall.
MEMORY_KINDS: Final[tuple[MemoryKind, ...]] = ("trajectory", "lesson")


def lesson_id(content: str) -> int:
    """The stable id of a key lesson: the first 63 bits of the BLAKE2b hash of its text.

    Stable across distillations, processes and backends, so credit given to a lesson is found
    again after the lessons are distilled anew.
    """
    if not isinstance(content, str):
        raise TypeError(f"content must be a str, got {type(content).__name__}: {shown(content)}")
    digest = hashlib.blake2b(content.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True, slots=True)
class RecalledMemory:
    """One memory a run was given: a stored trajectory or a key lesson, and how similar it was."""

    kind: MemoryKind
    id: int
    similarity: float
    #: The lesson's text (lessons only), so it can be shown after the lesson itself is gone.
    lesson: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in MEMORY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(MEMORY_KINDS)}, got {shown(self.kind)}")
        if isinstance(self.id, bool) or not isinstance(self.id, int) or not 0 <= self.id <= U64_MAX:
            raise ValueError(f"id must be an unsigned 64-bit integer, got {shown(self.id)}")
        if isinstance(self.similarity, bool) or not isinstance(self.similarity, (int, float)):
            raise TypeError(f"similarity must be a number, got {type(self.similarity).__name__}: {shown(self.similarity)}")
        if not math.isfinite(self.similarity):
            raise ValueError(f"similarity must be finite, got {shown(self.similarity)}")
        object.__setattr__(self, "similarity", float(self.similarity))
        if self.lesson is not None and not isinstance(self.lesson, str):
            raise TypeError(f"lesson must be a str or None, got {type(self.lesson).__name__}: {shown(self.lesson)}")

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.id)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "id": self.id, "similarity": round(self.similarity, 6)}
        if self.lesson is not None:
            out["lesson"] = self.lesson
        return out


def encode_recalled(items: Iterable[RecalledMemory]) -> str:
    """The ``recalled`` attribute value: each memory once (the highest similarity wins), in order."""
    merged: dict[tuple[str, int], RecalledMemory] = {}
    for item in items:
        if not isinstance(item, RecalledMemory):
            raise TypeError(f"items must be RecalledMemory, got {type(item).__name__}: {shown(item)}")
        old = merged.get(item.key)
        if old is None or item.similarity > old.similarity:
            merged[item.key] = item
    return json.dumps([m.to_dict() for m in merged.values()], ensure_ascii=False, separators=(",", ":"))


def _parse_item(raw: object) -> RecalledMemory | None:
    bare_int = isinstance(raw, int) and not isinstance(raw, bool)
    if bare_int or (isinstance(raw, str) and raw.removeprefix("traj-").isdigit()):
        raw = {"id": raw}  # a bare trajectory id (similarity unknown: 0)
    if not isinstance(raw, dict):
        return None
    kind, ref, sim, lesson = raw.get("kind", "trajectory"), raw.get("id"), raw.get("similarity", 0.0), raw.get("lesson")
    if isinstance(ref, str) and ref.removeprefix("traj-").isdigit():
        ref = int(ref.removeprefix("traj-"))
    try:
        return RecalledMemory(kind, ref, sim, lesson if isinstance(lesson, str) else None)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def decode_recalled(text: str | None) -> tuple[RecalledMemory, ...]:
    """The memories in a ``recalled`` attribute value; items that cannot be read are left out
    (the value is untrusted: it arrived in span attributes), and each memory counts once."""
    if not text:
        return ()
    try:
        parsed = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(parsed, list):
        return ()
    seen: dict[tuple[str, int], RecalledMemory] = {}
    for raw in parsed:
        item = _parse_item(raw)
        if item is not None and item.key not in seen:
            seen[item.key] = item
    return tuple(seen.values())


def recalled_of(attributes: Mapping[str, str]) -> tuple[RecalledMemory, ...]:
    """What a trajectory with these ``metadata.attributes`` recalled."""
    return decode_recalled(attributes.get(RECALLED_ATTRIBUTE))
