"""``PostgresTrajectoryStore.overview``: the aggregates of :class:`StoreOverview`, in SQL.

The figures are the SQLite store's (``sqlite_overview``), computed the same way: trajectory
figures over the columns, step figures over the stored ruvllm JSON (``jsonb_array_elements``
over ``steps``; root causes with the ``json`` functions, which scan a document's embeddings
faster than ``jsonb`` converts them). PostgreSQL's text cannot hold NUL, so ``jsonb`` (and the ``json`` functions)
refuse a document with a ``\\u0000`` escape anywhere in it. Such documents (``strpos`` finds
them cheaply; they are rare) take a second path: the escape is respelled ``\\u2400`` — a
spelling the store's JSON never has (it writes non-ASCII characters as they are) — the names
are read with the ``json`` functions as their JSON text, and spelled back and decoded here, so
a name holding any character comes back whole, as in SQLite. Only the grouped rows come back;
Python merges the two paths' groups and orders them with the helpers SQLite's overview uses,
so ties fall the same way. All queries run in one read-only REPEATABLE READ transaction: one
snapshot.
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

#: Rows whose JSON ``jsonb`` takes, and the others (a NUL escape, or an escaped backslash and "u0000").
_PLAIN = r"strpos(json, '\u0000') = 0"
_NUL = r"strpos(json, '\u0000') > 0"
#: Such a row's JSON document as ``json``, its NUL escapes respelled ``\u2400``.
_RESPELLED_DOC = r"regexp_replace(json, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\u2400', 'g')::json"
_RESPELLED = re.compile(r"(?<!\\)((?:\\\\)*)\\u2400")

# The WHERE clauses ({where}, and {plain}/{nul}: the store's own, %s placeholders only, with one
# constant clause) are the only interpolation.
_TOTALS_SQL = "SELECT count(*), min(started_at), max(started_at) FROM trajectories{where}"
_VERDICTS_SQL = "SELECT verdict, count(*) FROM trajectories{where} GROUP BY verdict"
_TIMELINE_SQL = (
    "SELECT (" + _MICROS + " - %s) / %s AS b, count(*), count(*) FILTER (WHERE verdict = 'success'), avg(quality)"
    " FROM trajectories{where} GROUP BY b ORDER BY b"
)
# The first key of the Failure cause (or of the Recovered original failure) in document order:
# the serde variant, as SQLite's json_each gives it; a unit variant (a JSON string) is NULL.
# With ``json``, not ``jsonb``: the cause is read from the whole document, embeddings included,
# and ``jsonb`` converts every number (measured: 1.5x the time of ``json``'s scan).
_CAUSES_SQL = (
    "SELECT (SELECT k.key FROM json_object_keys(CASE WHEN json_typeof(c.v) = 'object' THEN c.v END)"
    " WITH ORDINALITY AS k(key, n) ORDER BY k.n LIMIT 1) AS kind, count(*)"
    " FROM (SELECT CASE verdict WHEN 'failure' THEN d -> 'verdict' -> 'Failure'"
    " ELSE d -> 'verdict' -> 'RecoveredViaReflection' -> 'original_failure' END AS v"
    " FROM (SELECT verdict, CASE WHEN " + _NUL + " THEN " + _RESPELLED_DOC + " ELSE json::json END AS d"
    " FROM trajectories{where}) AS r OFFSET 0) AS c GROUP BY kind"
)


def _json_name(ref: str) -> str:
    return f"CASE WHEN json_typeof({ref}) <> 'null' THEN ({ref})::text END"


# One pass over the steps, grouped three ways. JSON null or missing names are left out (NULL),
# as SQLite's json_extract gives NULL for both. ``raw``: the name is its JSON text (the NUL path).
_STEPS_SQL = (
    "WITH st AS MATERIALIZED (SELECT false AS raw, s ->> 'action' AS action, s -> 'metadata' ->> 'tool_used' AS tool,"
    " s -> 'metadata' ->> 'model' AS model, (s ->> 'latency_ms')::numeric AS ms,"
    " (s -> 'outcome' -> 'Failure') IS NOT NULL AS failed,"
    " coalesce((s -> 'metadata' ->> 'input_tokens')::numeric, 0) AS tin,"
    " coalesce((s -> 'metadata' ->> 'output_tokens')::numeric, 0) AS tout"
    " FROM trajectories AS t, jsonb_array_elements(t.json::jsonb -> 'steps') AS s{plain}"
    " UNION ALL SELECT true, "
    + _json_name("x.a")
    + ", "
    + _json_name("x.m -> 'tool_used'")
    + ", "
    + _json_name("x.m -> 'model'")
    + ", (x.j ->> 'latency_ms')::numeric, (x.j -> 'outcome' -> 'Failure') IS NOT NULL,"
    " coalesce((x.j -> 'metadata' ->> 'input_tokens')::numeric, 0), coalesce((x.j -> 'metadata' ->> 'output_tokens')::numeric, 0)"
    " FROM trajectories AS t, json_array_elements(" + _RESPELLED_DOC + " -> 'steps') AS s,"
    " LATERAL (SELECT s -> 'action' AS a, s -> 'metadata' AS m, s::jsonb AS j OFFSET 0) AS x{nul})"
    " SELECT 'action', raw, action, count(*), count(*) FILTER (WHERE failed), sum(ms), count(ms), max(ms),"
    " 0::numeric, 0::numeric FROM st WHERE action IS NOT NULL GROUP BY raw, action"
    " UNION ALL SELECT 'tool', raw, tool, count(*), count(*) FILTER (WHERE failed), sum(ms), count(ms), max(ms), 0, 0"
    " FROM st WHERE tool IS NOT NULL GROUP BY raw, tool"
    " UNION ALL SELECT 'model', raw, model, count(*), 0, NULL, 0, NULL, sum(tin), sum(tout)"
    " FROM st WHERE model IS NOT NULL GROUP BY raw, model"
)


def _and(where: str, clause: str) -> str:
    return f"{where} AND {clause}" if where else f" WHERE {clause}"


def _name(raw: bool, text: str) -> str:
    """A name as SQL text, or (*raw*) as its JSON text with the NUL escapes spelled back."""
    return json_name(_RESPELLED.sub(r"\1\\u0000", text)) if raw else text


def _groups(rows: dict[str, list[Any]]) -> list[GroupStat]:
    # float(sum) / count is SQLite's avg() of integers: (double) sum / (double) count.
    return [
        GroupStat(name, steps, failed, float(ms_sum) / ms_count if ms_count else 0.0, int(ms_max or 0))
        for name, (steps, failed, ms_sum, ms_count, ms_max) in rows.items()
    ]


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
    # A name may come from both paths: merged (sums, counts and maxima merge exactly).
    groups: dict[str, dict[str, list[Any]]] = {"action": {}, "tool": {}}
    tokens: dict[str, list[int]] = {}
    split = {"plain": _and(where, _PLAIN), "nul": _and(where, _NUL)}
    for by, raw, text, n, failed, ms_sum, ms_count, ms_max, tin, tout in conn.execute(
        _STEPS_SQL.format(**split), [*params, *params]
    ):
        name = _name(bool(raw), str(text))
        if by == "model":
            m = tokens.setdefault(name, [0, 0, 0])
            m[0] += int(n)
            m[1] += int(tin or 0)
            m[2] += int(tout or 0)
            continue
        g = groups[str(by)].setdefault(name, [0, 0, 0, 0, None])
        g[0] += int(n)
        g[1] += int(failed or 0)
        g[2] += ms_sum or 0
        g[3] += int(ms_count)
        if ms_max is not None and (g[4] is None or ms_max > g[4]):
            g[4] = ms_max
    actions, tools = _groups(groups["action"]), _groups(groups["tool"])
    models = [ModelTokens(name, *m) for name, m in tokens.items()]
    return StoreOverview(
        total=int(total),
        first_started=from_micros(first),
        last_started=from_micros(last),
        by_verdict=by_verdict,
        timeline=timeline,
        root_causes=sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])),
        slowest_actions=slowest(actions, top),
        failing_actions=failing(actions, top),
        slowest_tools=slowest(tools, top),
        failing_tools=failing(tools, top),
        models=top_models(models, top),
    )
