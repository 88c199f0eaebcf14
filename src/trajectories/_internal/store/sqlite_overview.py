"""``SQLiteTrajectoryStore.overview``: the aggregates of :class:`StoreOverview`, in SQL.

Step-level figures read the stored ruvllm JSON with SQLite's JSON functions (``json_each`` over
``$.steps``), so no trajectory is decoded in Python. Only the grouped results come back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .codec import from_micros
from .overview import GroupStat, ModelTokens, StoreOverview, TimeBucket, cause_kind, failing, json_name, slowest, top_models

__all__ = ["sqlite_overview"]

Query = Callable[[str, Sequence[Any]], list[Any]]


def _and(where: str, clause: str) -> str:
    """The store's WHERE clause (placeholders only: values are parameters) and one constant clause."""
    return f"{where} AND {clause}" if where else f" WHERE {clause}"


# One pass over the steps (the JSON of each row is parsed once), grouped three ways. Only the
# groups come back (one row per distinct action, tool and model), names as their JSON text
# (``->``; JSON null is 'null', a missing one NULL); the WHERE clause is the only interpolation.
_STEPS_SQL = (
    "WITH st AS MATERIALIZED (SELECT s.value -> '$.action' AS action,"
    " s.value -> '$.metadata.tool_used' AS tool, s.value -> '$.metadata.model' AS model,"
    " json_extract(s.value, '$.latency_ms') AS ms, json_type(s.value, '$.outcome.Failure') IS NOT NULL AS failed,"
    " coalesce(json_extract(s.value, '$.metadata.input_tokens'), 0) AS tin,"
    " coalesce(json_extract(s.value, '$.metadata.output_tokens'), 0) AS tout"
    " FROM trajectories AS t, json_each(t.json, '$.steps') AS s{where})"
    " SELECT 'action', action, count(*), sum(failed), avg(ms), max(ms), 0, 0 FROM st WHERE action <> 'null' GROUP BY action"
    " UNION ALL SELECT 'tool', tool, count(*), sum(failed), avg(ms), max(ms), 0, 0 FROM st WHERE tool <> 'null' GROUP BY tool"
    " UNION ALL SELECT 'model', model, count(*), 0, 0, 0, sum(tin), sum(tout) FROM st WHERE model <> 'null' GROUP BY model"
)
_CAUSES_SQL = (
    "SELECT (SELECT key FROM json_each(t.json, CASE t.verdict WHEN 'failure' THEN '$.verdict.Failure'"
    " ELSE '$.verdict.RecoveredViaReflection.original_failure' END) LIMIT 1) AS c, count(*)"
    " FROM trajectories AS t{where} GROUP BY c"
)


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
        kind = cause_kind(str(variant) if variant else None)
        causes[kind] = causes.get(kind, 0) + int(n)
    groups: dict[str, list[GroupStat]] = {"action": [], "tool": []}
    models: list[ModelTokens] = []
    for by, name, n, failed, avg, mx, tin, tout in query(_STEPS_SQL.format(where=where), params):
        if by == "model":
            models.append(ModelTokens(json_name(name), int(n), int(tin or 0), int(tout or 0)))
        else:
            groups[str(by)].append(GroupStat(json_name(name), int(n), int(failed or 0), float(avg or 0.0), int(mx or 0)))
    return StoreOverview(
        total=int(total),
        first_started=from_micros(int(first)),
        last_started=from_micros(int(last)),
        by_verdict=by_verdict,
        timeline=timeline,
        root_causes=sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])),
        slowest_actions=slowest(groups["action"], top),
        failing_actions=failing(groups["action"], top),
        slowest_tools=slowest(groups["tool"], top),
        failing_tools=failing(groups["tool"], top),
        models=top_models(models, top),
    )
