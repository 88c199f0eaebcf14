"""``PostgresTrajectoryStore.overview``: the aggregates of :class:`StoreOverview`, in SQL.

The figures are the SQLite store's (``sqlite_overview``), computed the same way: trajectory
figures over the columns, step figures over the stored ruvllm JSON with PostgreSQL's ``json``
functions (``json_array_elements`` over ``steps``). PostgreSQL's text cannot hold NUL, so its
JSON functions refuse a document with a ``\\u0000`` escape anywhere in it: in such a document
(``strpos`` finds it cheaply) the escape is respelled ``\\u2400`` first — a spelling the
store's JSON never has (it writes non-ASCII characters as they are) — and names go back as
their JSON text (as SQLite's do), respelled back and decoded here, so a name holding any
character comes back whole. Only the grouped
rows come back; Python merely orders them, with the helpers SQLite's overview uses, so ties
fall the same way. All queries run in one read-only REPEATABLE READ transaction: one snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg

from .codec import from_micros, to_micros
from .overview import GroupStat, ModelTokens, StoreOverview, TimeBucket, cause_kind, failing, json_name, slowest, top_models

__all__ = ["postgres_overview"]

_Conn = psycopg.Connection[Any]

#: Microseconds since 1970 (``extract`` is exact numeric since PostgreSQL 14), as SQLite stores them.
_MICROS = "(extract(epoch FROM started_at) * 1000000)::bigint"

#: The row's JSON document as ``json``, its NUL escapes (not an escaped backslash and "u0000")
#: respelled ``\u2400``.
_DOC = (
    r"(CASE WHEN strpos(json, '\u0000') > 0"
    r" THEN regexp_replace(json, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\u2400', 'g') ELSE json END)::json"
)
_RESPELLED = re.compile(r"(?<!\\)((?:\\\\)*)\\u2400")

# The WHERE clause ({where}: the store's own, %s placeholders only) is the only interpolation.
_TOTALS_SQL = "SELECT count(*), min(started_at), max(started_at) FROM trajectories{where}"
_VERDICTS_SQL = "SELECT verdict, count(*) FROM trajectories{where} GROUP BY verdict"
_TIMELINE_SQL = (
    "SELECT (" + _MICROS + " - %s) / %s AS b, count(*), count(*) FILTER (WHERE verdict = 'success'), avg(quality)"
    " FROM trajectories{where} GROUP BY b ORDER BY b"
)
# The first key of the Failure cause (or of the Recovered original failure) in document order:
# the serde variant, as SQLite's json_each gives it; a unit variant (a JSON string) is NULL.
_CAUSES_SQL = (
    "SELECT (SELECT k.key FROM json_object_keys(CASE WHEN json_typeof(c.v) = 'object' THEN c.v END)"
    " WITH ORDINALITY AS k(key, n) ORDER BY k.n LIMIT 1) AS kind, count(*)"
    " FROM (SELECT CASE verdict WHEN 'failure' THEN d -> 'verdict' -> 'Failure'"
    " ELSE d -> 'verdict' -> 'RecoveredViaReflection' -> 'original_failure' END AS v"
    " FROM (SELECT verdict, " + _DOC + " AS d FROM trajectories{where}) AS r) AS c GROUP BY kind"
)
# One pass over the steps, grouped three ways by the names' JSON text; JSON null or missing
# names are left out, as SQLite's json_extract gives NULL for both. Names are read from the
# ``json`` (their spelling as stored), the numbers from the step as ``jsonb`` (converted once, safe:
# the document has no NUL escape left): about a quarter faster than ``json`` lookups for all.
_STEPS_SQL = (
    "WITH st AS MATERIALIZED (SELECT s -> 'action' AS action, x.m -> 'tool_used' AS tool, x.m -> 'model' AS model,"
    " (x.j ->> 'latency_ms')::numeric AS ms, (x.j -> 'outcome' -> 'Failure') IS NOT NULL AS failed,"
    " coalesce((x.j -> 'metadata' ->> 'input_tokens')::numeric, 0) AS tin,"
    " coalesce((x.j -> 'metadata' ->> 'output_tokens')::numeric, 0) AS tout"
    " FROM trajectories AS t, json_array_elements(" + _DOC + " -> 'steps') AS s,"
    " LATERAL (SELECT s -> 'metadata' AS m, s::jsonb AS j OFFSET 0) AS x{where})"
    " SELECT 'action', action::text, count(*), count(*) FILTER (WHERE failed), sum(ms), count(ms), max(ms),"
    " 0::numeric, 0::numeric FROM st WHERE json_typeof(action) <> 'null' GROUP BY action::text"
    " UNION ALL SELECT 'tool', tool::text, count(*), count(*) FILTER (WHERE failed), sum(ms), count(ms), max(ms),"
    " 0, 0 FROM st WHERE json_typeof(tool) <> 'null' GROUP BY tool::text"
    " UNION ALL SELECT 'model', model::text, count(*), 0, NULL, 0, NULL, sum(tin), sum(tout)"
    " FROM st WHERE json_typeof(model) <> 'null' GROUP BY model::text"
)


def _and(where: str, clause: str) -> str:
    return f"{where} AND {clause}" if where else f" WHERE {clause}"


def _name(text: str) -> str:
    """A name's JSON text, its NUL escapes spelled back, decoded."""
    return json_name(_RESPELLED.sub(r"\1\\u0000", text))


def _group(name: str, steps: int, failed: int, ms_sum: Any, ms_count: int, ms_max: Any) -> GroupStat:
    # float(sum) / count is SQLite's avg() of integers: (double) sum / (double) count.
    avg = float(ms_sum) / ms_count if ms_count else 0.0
    return GroupStat(name, steps, failed, avg, int(ms_max or 0))


def postgres_overview(conn: _Conn, where: str, params: Sequence[Any], *, buckets: int, top: int) -> StoreOverview:
    """*where* is the store's ``WHERE ...`` clause (or ``""``) over unqualified trajectory columns."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    row = conn.execute(_TOTALS_SQL.format(where=where), params).fetchone()
    assert row is not None
    total, first_at, last_at = row
    by_verdict = dict.fromkeys(("success", "failure", "partial", "recovered_via_reflection"), 0)
    for kind, n in conn.execute(_VERDICTS_SQL.format(where=where), params):
        by_verdict[str(kind)] = int(n)
    if not total:
        return StoreOverview(total=0, first_started=None, last_started=None, by_verdict=by_verdict)
    first, last = to_micros(first_at), to_micros(last_at)
    width = max(1, -(-(last - first + 1) // max(1, buckets)))
    timeline = [
        TimeBucket(
            start=from_micros(first + int(b) * width),
            end=from_micros(first + (int(b) + 1) * width),
            count=int(n),
            successes=int(ok or 0),
            avg_quality=float(q or 0.0),
        )
        for b, n, ok, q in conn.execute(_TIMELINE_SQL.format(where=where), [first, width, *params])
    ]
    causes: dict[str, int] = {}
    cause_where = _and(where, "verdict IN ('failure', 'recovered_via_reflection')")
    for variant, n in conn.execute(_CAUSES_SQL.format(where=cause_where), params):
        kind = cause_kind(str(variant) if variant else None)
        causes[kind] = causes.get(kind, 0) + int(n)
    groups: dict[str, list[GroupStat]] = {"action": [], "tool": []}
    models: list[ModelTokens] = []
    for by, text, n, failed, ms_sum, ms_count, ms_max, tin, tout in conn.execute(_STEPS_SQL.format(where=where), params):
        if by == "model":
            models.append(ModelTokens(_name(str(text)), int(n), int(tin or 0), int(tout or 0)))
        else:
            groups[str(by)].append(_group(_name(str(text)), int(n), int(failed or 0), ms_sum, int(ms_count), ms_max))
    return StoreOverview(
        total=int(total),
        first_started=from_micros(first),
        last_started=from_micros(last),
        by_verdict=by_verdict,
        timeline=timeline,
        root_causes=sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])),
        slowest_actions=slowest(groups["action"], top),
        failing_actions=failing(groups["action"], top),
        slowest_tools=slowest(groups["tool"], top),
        failing_tools=failing(groups["tool"], top),
        models=top_models(models, top),
    )
