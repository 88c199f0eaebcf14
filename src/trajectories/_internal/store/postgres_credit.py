"""The PostgreSQL store's credit tables (store/credit.py plans the updates; this runs them).

Every function that writes runs inside the caller's transaction, after the trajectory rows
were upserted: those row locks make two writers of one trajectory wait for each other, so the
second reads the first's contribution (READ COMMITTED reads what committed before each
statement) and a trajectory delivered twice at once is credited once. Increments are applied
in key order, so writers crediting the same memories cannot deadlock.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg

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

__all__ = ["pg_apply_credit", "pg_memory_credit", "pg_memory_credits", "pg_move_lesson_credit"]

logger = logging.getLogger(__name__)

_Conn = psycopg.Connection[Any]

_ADD = (
    "INSERT INTO trajectory_memory_credit (kind, id, uses, successes, quality_sum) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (kind, id) DO UPDATE SET uses = trajectory_memory_credit.uses + EXCLUDED.uses,"
    " successes = trajectory_memory_credit.successes + EXCLUDED.successes,"
    " quality_sum = trajectory_memory_credit.quality_sum + EXCLUDED.quality_sum"
)
_GIVE = (
    "INSERT INTO trajectory_credit_given (trajectory_id, success, quality, memories) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (trajectory_id) DO UPDATE SET success = EXCLUDED.success, quality = EXCLUDED.quality,"
    " memories = EXCLUDED.memories"
)


def pg_apply_credit(conn: _Conn, contributions: Mapping[int, Contribution | None]) -> None:
    """Replace the contributions of these trajectories (by database id) with the new ones."""
    if not contributions:
        return
    ids = sorted(contributions)
    rows = conn.execute(
        "SELECT trajectory_id, success, quality, memories FROM trajectory_credit_given WHERE trajectory_id = ANY(%s)"
        " ORDER BY trajectory_id FOR UPDATE",
        (ids,),
    ).fetchall()
    old = decode_given(rows)
    if not old and all(c is None for c in contributions.values()):
        return
    lessons = lesson_ids_in(contributions.values())
    aliases: dict[int, int] = {}
    if lessons:
        rows = conn.execute("SELECT from_id, to_id FROM trajectory_lesson_alias WHERE from_id = ANY(%s)", (lessons,)).fetchall()
        aliases = {int(f): int(t) for f, t in rows}
    plan = plan_credit(resolve_aliases(contributions, aliases), old)
    with conn.cursor() as cur:
        if plan.deltas:
            cur.executemany(_ADD, delta_rows(plan.deltas))
        if plan.upserts:
            cur.executemany(_GIVE, [(tid, c.success, c.quality, c.encode()) for tid, c in plan.upserts])
        if plan.removals:
            cur.execute("DELETE FROM trajectory_credit_given WHERE trajectory_id = ANY(%s)", (plan.removals,))


def pg_move_lesson_credit(conn: _Conn, merges: Sequence[tuple[int, tuple[int, ...]]], live: Sequence[int]) -> None:
    """Distillation merged lessons: their totals and the contributions that name them move to the
    absorber, and an alias sends later credit there too. A lesson that is live again (in the new
    set, *live*) is credited under its own id from now on."""
    if live:
        conn.execute("DELETE FROM trajectory_lesson_alias WHERE from_id = ANY(%s)", (list(live),))
    if not merges:
        return
    for to, froms in merges:
        for f in froms:
            conn.execute("UPDATE trajectory_lesson_alias SET to_id = %s WHERE to_id = %s", (to, f))
            conn.execute(
                "INSERT INTO trajectory_lesson_alias (from_id, to_id) VALUES (%s, %s)"
                " ON CONFLICT (from_id) DO UPDATE SET to_id = EXCLUDED.to_id",
                (f, to),
            )
            row = conn.execute(
                "DELETE FROM trajectory_memory_credit WHERE kind = 'lesson' AND id = %s RETURNING uses, successes, quality_sum",
                (to_db_id(f),),
            ).fetchone()
            if row is not None:
                conn.execute(_ADD, ("lesson", to_db_id(to), row[0], row[1], row[2]))
    rows = conn.execute(
        "SELECT trajectory_id, success, quality, memories FROM trajectory_credit_given WHERE memories LIKE %s"
        " ORDER BY trajectory_id FOR UPDATE",
        ('%"lesson"%',),
    ).fetchall()
    rewritten, corrections = plan_lesson_merge(merges, decode_given(rows).items())
    with conn.cursor() as cur:
        if rewritten:
            cur.executemany(_GIVE, [(tid, c.success, c.quality, c.encode()) for tid, c in rewritten])
        if corrections:
            cur.executemany(_ADD, delta_rows(corrections))


def pg_memory_credit(conn: _Conn, keys: Iterable[MemoryKey]) -> dict[MemoryKey, MemoryCredit]:
    wanted = sorted({(str(k), int(i)) for k, i in keys})
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT kind, id, uses, successes, quality_sum FROM trajectory_memory_credit"
        " WHERE (kind, id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))",
        ([k for k, _ in wanted], [to_db_id(i) for _, i in wanted]),
    ).fetchall()
    return {(str(k), from_db_id(i)): MemoryCredit(int(u), int(s), float(q)) for k, i, u, s, q in rows}


def pg_memory_credits(conn: _Conn, kind: str | None, limit: int | None) -> builtins.list[tuple[MemoryKey, MemoryCredit]]:
    check_memory_kind("kind", kind)
    lim = None if limit is None else check_count("limit", limit)
    kinds = [kind] if kind is not None else ["trajectory", "lesson"]
    rows = conn.execute(
        "SELECT kind, id, uses, successes, quality_sum FROM trajectory_memory_credit WHERE kind = ANY(%s) AND uses > 0"
        " ORDER BY uses DESC, kind, id LIMIT %s",
        (kinds, lim),
    ).fetchall()
    return [((str(k), from_db_id(i)), MemoryCredit(int(u), int(s), float(q))) for k, i, u, s, q in rows]
