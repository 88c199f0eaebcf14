"""``SQLiteTrajectoryStore.overview``: the aggregates of :class:`StoreOverview`, in SQL.

Step-level figures read the stored ruvllm JSON with SQLite's JSON functions (``json_each`` over
``$.steps``), so no trajectory is decoded in Python. Only the grouped results come back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from .codec import from_micros
from .overview import GroupStat, ModelTokens, StoreOverview, TimeBucket

__all__ = ["sqlite_overview"]

Query = Callable[[str, Sequence[Any]], list[Any]]


def _snake(variant: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", variant).lower()


def _and(where: str, clause: str) -> str:
    """The store's WHERE clause (placeholders only: values are parameters) and one constant clause."""
    return f"{where} AND {clause}" if where else f" WHERE {clause}"


# Step groups: the SQL is spelled out in full (no fragment is interpolated, only the WHERE clause).
_GROUP_SQL = {
    ("action", "slow"): (
        "json_extract(s.value, '$.action') IS NOT NULL",
        "SELECT json_extract(s.value, '$.action') AS g, count(*),"
        " sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL),"
        " avg(json_extract(s.value, '$.latency_ms')), max(json_extract(s.value, '$.latency_ms'))"
        " FROM trajectories AS t, json_each(t.json, '$.steps') AS s{where}"
        " GROUP BY g ORDER BY avg(json_extract(s.value, '$.latency_ms')) DESC, g LIMIT ?",
    ),
    ("action", "failing"): (
        "json_extract(s.value, '$.action') IS NOT NULL",
        "SELECT json_extract(s.value, '$.action') AS g, count(*),"
        " sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL),"
        " avg(json_extract(s.value, '$.latency_ms')), max(json_extract(s.value, '$.latency_ms'))"
        " FROM trajectories AS t, json_each(t.json, '$.steps') AS s{where}"
        " GROUP BY g HAVING sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL) > 0"
        " ORDER BY sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL) DESC, g LIMIT ?",
    ),
    ("tool", "slow"): (
        "json_extract(s.value, '$.metadata.tool_used') IS NOT NULL",
        "SELECT json_extract(s.value, '$.metadata.tool_used') AS g, count(*),"
        " sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL),"
        " avg(json_extract(s.value, '$.latency_ms')), max(json_extract(s.value, '$.latency_ms'))"
        " FROM trajectories AS t, json_each(t.json, '$.steps') AS s{where}"
        " GROUP BY g ORDER BY avg(json_extract(s.value, '$.latency_ms')) DESC, g LIMIT ?",
    ),
    ("tool", "failing"): (
        "json_extract(s.value, '$.metadata.tool_used') IS NOT NULL",
        "SELECT json_extract(s.value, '$.metadata.tool_used') AS g, count(*),"
        " sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL),"
        " avg(json_extract(s.value, '$.latency_ms')), max(json_extract(s.value, '$.latency_ms'))"
        " FROM trajectories AS t, json_each(t.json, '$.steps') AS s{where}"
        " GROUP BY g HAVING sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL) > 0"
        " ORDER BY sum(json_type(s.value, '$.outcome.Failure') IS NOT NULL) DESC, g LIMIT ?",
    ),
}
_MODELS_SQL = (
    "SELECT json_extract(s.value, '$.metadata.model') AS g, count(*),"
    " sum(coalesce(json_extract(s.value, '$.metadata.input_tokens'), 0)),"
    " sum(coalesce(json_extract(s.value, '$.metadata.output_tokens'), 0))"
    " FROM trajectories AS t, json_each(t.json, '$.steps') AS s{where}"
    " GROUP BY g ORDER BY sum(coalesce(json_extract(s.value, '$.metadata.input_tokens'), 0))"
    " + sum(coalesce(json_extract(s.value, '$.metadata.output_tokens'), 0)) DESC, g LIMIT ?"
)
_CAUSES_SQL = (
    "SELECT (SELECT key FROM json_each(t.json, CASE t.verdict WHEN 'failure' THEN '$.verdict.Failure'"
    " ELSE '$.verdict.RecoveredViaReflection.original_failure' END) LIMIT 1) AS c, count(*)"
    " FROM trajectories AS t{where} GROUP BY c"
)


def _groups(query: Query, base_where: str, params: list[Any], by: str, order: str, top: int) -> list[GroupStat]:
    clause, sql = _GROUP_SQL[(by, order)]
    return [
        GroupStat(str(name), int(n), int(failed or 0), float(avg or 0.0), int(mx or 0))
        for name, n, failed, avg, mx in query(sql.format(where=_and(base_where, clause)), [*params, top])
    ]


def sqlite_overview(query: Query, where: str, params: list[Any], *, buckets: int, top: int) -> StoreOverview:
    """*where* is the store's ``WHERE ...`` clause (or ``""``) over unqualified trajectory columns."""
    total, first, last = query(f"SELECT count(*), min(started_at), max(started_at) FROM trajectories{where}", params)[0]
    by_verdict = dict.fromkeys(("success", "failure", "partial", "recovered_via_reflection"), 0)
    for kind, n in query(f"SELECT verdict, count(*) FROM trajectories{where} GROUP BY verdict", params):
        by_verdict[str(kind)] = int(n)
    if not total:
        return StoreOverview(total=0, first_started=None, last_started=None, by_verdict=by_verdict)
    width = max(1, -(-(int(last) - int(first) + 1) // max(1, buckets)))
    timeline = [
        TimeBucket(
            start=from_micros(int(first) + int(b) * width),
            end=from_micros(int(first) + (int(b) + 1) * width),
            count=int(n),
            successes=int(ok or 0),
            avg_quality=float(q or 0.0),
        )
        for b, n, ok, q in query(
            f"SELECT (started_at - ?) / ? AS b, count(*), sum(verdict = 'success'), avg(quality) FROM trajectories{where}"
            " GROUP BY b ORDER BY b",
            [first, width, *params],
        )
    ]
    causes: dict[str, int] = {}
    cause_where = _and(where, "verdict IN ('failure', 'recovered_via_reflection')")
    for variant, n in query(_CAUSES_SQL.format(where=cause_where), params):
        kind = _snake(str(variant)) if variant else "unknown"
        causes[kind] = causes.get(kind, 0) + int(n)
    model_where = _and(where, "json_extract(s.value, '$.metadata.model') IS NOT NULL")
    models = [
        ModelTokens(str(m), int(n), int(i or 0), int(o or 0))
        for m, n, i, o in query(_MODELS_SQL.format(where=model_where), [*params, top])
    ]
    return StoreOverview(
        total=int(total),
        first_started=from_micros(int(first)),
        last_started=from_micros(int(last)),
        by_verdict=by_verdict,
        timeline=timeline,
        root_causes=sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])),
        slowest_actions=_groups(query, where, params, "action", "slow", top),
        failing_actions=_groups(query, where, params, "action", "failing", top),
        slowest_tools=_groups(query, where, params, "tool", "slow", top),
        failing_tools=_groups(query, where, params, "tool", "failing", top),
        models=models,
    )
