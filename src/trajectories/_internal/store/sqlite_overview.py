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

_FAILED = "json_type(s.value, '$.outcome.Failure') IS NOT NULL"
_LATENCY = "json_extract(s.value, '$.latency_ms')"
_STEPS = "FROM trajectories AS t, json_each(t.json, '$.steps') AS s"


def _snake(variant: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", variant).lower()


def _and(where: str, clause: str) -> str:
    return f"{where} AND {clause}" if where else f" WHERE {clause}"


def _groups(query: Query, where: str, params: list[Any], key: str, order: str, top: int, extra: str = "") -> list[GroupStat]:
    clause = f"{key} IS NOT NULL" + (f" AND {extra}" if extra else "")
    sql = (
        f"SELECT {key} AS g, count(*), sum({_FAILED}), avg({_LATENCY}), max({_LATENCY}) {_STEPS}"
        f"{_and(where, clause)} GROUP BY g {order} LIMIT ?"
    )
    return [
        GroupStat(str(name), int(n), int(failed or 0), float(avg or 0.0), int(mx or 0))
        for name, n, failed, avg, mx in query(sql, [*params, top])
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
    failed_or_recovered = "verdict IN ('failure', 'recovered_via_reflection')"
    cause_sql = (
        "SELECT (SELECT key FROM json_each(t.json, CASE t.verdict WHEN 'failure' THEN '$.verdict.Failure'"
        " ELSE '$.verdict.RecoveredViaReflection.original_failure' END) LIMIT 1) AS c, count(*)"
        f" FROM trajectories AS t{_and(where, failed_or_recovered)} GROUP BY c"
    )
    for variant, n in query(cause_sql, params):
        kind = _snake(str(variant)) if variant else "unknown"
        causes[kind] = causes.get(kind, 0) + int(n)
    action = "json_extract(s.value, '$.action')"
    tool = "json_extract(s.value, '$.metadata.tool_used')"
    slow = "ORDER BY avg(" + _LATENCY + ") DESC, g"
    failing = "HAVING sum(" + _FAILED + ") > 0 ORDER BY sum(" + _FAILED + ") DESC, g"
    model = "json_extract(s.value, '$.metadata.model')"
    tin = "coalesce(json_extract(s.value, '$.metadata.input_tokens'), 0)"
    tout = "coalesce(json_extract(s.value, '$.metadata.output_tokens'), 0)"
    models = [
        ModelTokens(str(m), int(n), int(i or 0), int(o or 0))
        for m, n, i, o in query(
            f"SELECT {model} AS g, count(*), sum({tin}), sum({tout}) {_STEPS}{_and(where, f'{model} IS NOT NULL')}"
            f" GROUP BY g ORDER BY sum({tin}) + sum({tout}) DESC, g LIMIT ?",
            [*params, top],
        )
    ]
    return StoreOverview(
        total=int(total),
        first_started=from_micros(int(first)),
        last_started=from_micros(int(last)),
        by_verdict=by_verdict,
        timeline=timeline,
        root_causes=sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])),
        slowest_actions=_groups(query, where, params, action, slow, top),
        failing_actions=_groups(query, where, params, action, failing, top),
        slowest_tools=_groups(query, where, params, tool, slow, top),
        failing_tools=_groups(query, where, params, tool, failing, top),
        models=models,
    )
