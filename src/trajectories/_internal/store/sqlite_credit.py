"""The SQLite store's credit tables (store/credit.py plans the updates; this runs them).

Every function that writes runs inside the caller's ``BEGIN IMMEDIATE`` transaction, so a
trajectory and its credit change together or not at all, and writers never interleave.
"""

from __future__ import annotations

import builtins
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..validate import check_count
from .codec import from_db_id, to_db_id
from .credit import (
    Contribution,
    MemoryCredit,
    MemoryKey,
    check_memory_kind,
    decode_given,
    delta_rows,
    lesson_ids_in,
    plan_credit,
    plan_lesson_merge,
    resolve_aliases,
)

__all__ = ["sqlite_apply_credit", "sqlite_memory_credit", "sqlite_memory_credits", "sqlite_move_lesson_credit"]

logger = logging.getLogger(__name__)

_Query = Callable[[str, Sequence[Any]], builtins.list[Any]]

_ADD = (
    "INSERT INTO memory_credit (kind, id, uses, successes, quality_sum) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (kind, id) DO UPDATE SET uses = uses + excluded.uses, successes = successes + excluded.successes,"
    " quality_sum = quality_sum + excluded.quality_sum"
)
_GIVE = "INSERT OR REPLACE INTO credit_given (trajectory_id, success, quality, memories) VALUES (?, ?, ?, ?)"


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _read_given(conn: sqlite3.Connection, db_ids: Sequence[int]) -> dict[int, Contribution]:
    old: dict[int, Contribution] = {}
    for chunk in _chunks(db_ids):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT trajectory_id, success, quality, memories FROM credit_given WHERE trajectory_id IN ({marks})"
        old.update(decode_given(conn.execute(sql, list(chunk)).fetchall()))
    return old


def sqlite_apply_credit(conn: sqlite3.Connection, contributions: Mapping[int, Contribution | None]) -> None:
    """Replace the contributions of these trajectories (by database id) with the new ones."""
    if not contributions:
        return
    old = _read_given(conn, list(contributions))
    if not old and all(c is None for c in contributions.values()):
        return  # the common write: nothing recalled, nothing recorded
    lessons = lesson_ids_in(contributions.values())
    aliases: dict[int, int] = {}
    for chunk in _chunks(lessons):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"SELECT from_id, to_id FROM lesson_alias WHERE from_id IN ({marks})", list(chunk)).fetchall()
        aliases.update((int(f), int(t)) for f, t in rows)
    plan = plan_credit(resolve_aliases(contributions, aliases), old)
    conn.executemany(_ADD, delta_rows(plan.deltas))
    conn.executemany(_GIVE, [(tid, int(c.success), c.quality, c.encode()) for tid, c in plan.upserts])
    conn.executemany("DELETE FROM credit_given WHERE trajectory_id = ?", [(tid,) for tid in plan.removals])


def sqlite_move_lesson_credit(
    conn: sqlite3.Connection, merges: Sequence[tuple[int, tuple[int, ...]]], live: Sequence[int]
) -> None:
    """Distillation merged lessons: their totals and the contributions that name them move to the
    absorber, and an alias sends later credit there too. A lesson that is live again (in the new
    set, *live*) is credited under its own id from now on."""
    conn.executemany("DELETE FROM lesson_alias WHERE from_id = ?", [(i,) for i in live])
    if not merges:
        return
    for to, froms in merges:
        for f in froms:
            conn.execute("UPDATE lesson_alias SET to_id = ? WHERE to_id = ?", (to, f))
            conn.execute("INSERT OR REPLACE INTO lesson_alias (from_id, to_id) VALUES (?, ?)", (f, to))
            row = conn.execute(
                "SELECT uses, successes, quality_sum FROM memory_credit WHERE kind = 'lesson' AND id = ?", (to_db_id(f),)
            ).fetchone()
            if row is not None:
                conn.execute(_ADD, ("lesson", to_db_id(to), row[0], row[1], row[2]))
                conn.execute("DELETE FROM memory_credit WHERE kind = 'lesson' AND id = ?", (to_db_id(f),))
    rows = conn.execute(
        "SELECT trajectory_id, success, quality, memories FROM credit_given WHERE memories LIKE ?", ('%"lesson"%',)
    ).fetchall()
    rewritten, corrections = plan_lesson_merge(merges, decode_given(rows).items())
    conn.executemany(_GIVE, [(tid, int(c.success), c.quality, c.encode()) for tid, c in rewritten])
    conn.executemany(_ADD, delta_rows(corrections))


def sqlite_memory_credit(query: _Query, keys: Iterable[MemoryKey]) -> dict[MemoryKey, MemoryCredit]:
    """The totals of these memories (those never credited are absent)."""
    wanted = sorted({(str(k), int(i)) for k, i in keys})
    out: dict[MemoryKey, MemoryCredit] = {}
    for kind in {k for k, _ in wanted}:
        ids = [to_db_id(i) for k, i in wanted if k == kind]
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, uses, successes, quality_sum FROM memory_credit WHERE kind = ? AND id IN ({marks})"
            rows = query(sql, [kind, *chunk])
            for db_id, uses, successes, quality_sum in rows:
                out[(kind, from_db_id(db_id))] = MemoryCredit(int(uses), int(successes), float(quality_sum))
    return out


def sqlite_memory_credits(query: _Query, kind: str | None, limit: int | None) -> builtins.list[tuple[MemoryKey, MemoryCredit]]:
    """Credited memories (of *kind*, or trajectories and lessons), most used first."""
    check_memory_kind("kind", kind)
    lim = -1 if limit is None else check_count("limit", limit)
    where = "kind = ?" if kind is not None else "kind IN ('trajectory', 'lesson')"
    params: builtins.list[Any] = [kind] if kind is not None else []
    rows = query(
        f"SELECT kind, id, uses, successes, quality_sum FROM memory_credit WHERE {where} AND uses > 0"
        " ORDER BY uses DESC, kind, id LIMIT ?",
        [*params, lim],
    )
    return [((str(k), from_db_id(i)), MemoryCredit(int(u), int(s), float(q))) for k, i, u, s, q in rows]
