"""The PostgreSQL store: psycopg 3 with a connection pool, pgvector HNSW indexes for similar().

Semantics are the SQLite store's (the conformance suite in tests/store runs against both):
adding is an ``INSERT ... ON CONFLICT (id) DO UPDATE``, so any number of processes may write
the same trajectories at once without duplicates; every filter of a listing or a similarity
query is SQL; ``similar()`` walks the HNSW index of the query's dimension with pgvector's
iterative index scan, so a filtered query still finds *k* hits. A connection lost mid-write
is retried a few times, then raised as :class:`StoreError` for the exporter to retry or
dead-letter; the URL's password is never shown (``repr``, logs, errors show the redacted URL).
"""

from __future__ import annotations

import builtins
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..embedding import Embedder
from ..exceptions import CorruptTrajectoryError, SchemaVersionError, StoreError, TrajectoryNotFoundError
from ..model.feedback import with_feedback
from ..model.lessons import CompressedTrajectory, KeyLesson
from ..model.trajectory import Trajectory
from ..model.verdict import VERDICT_KINDS, Verdict
from ..validate import check_count, check_id, check_uuid, shown
from .base import SimilarHit, StoreStats, TrajectoryFilter, TrajectoryStore, check_feedback, check_verdict_kind, span_count_rows
from .codec import decode_row, dumps_plain, encode_json, read_json_rows, to_db_id, trajectory_name
from .credit import Contribution, MemoryCredit, MemoryKey, check_memory_kind, contribution_of, lesson_merges
from .overview import StoreOverview
from .postgres_credit import pg_apply_credit, pg_memory_credit, pg_memory_credits, pg_move_lesson_credit
from .postgres_overview import postgres_overview
from .postgres_schema import HNSW_MAX_DIM, ensure_schema, ensure_vector_index, indexed_dimensions
from .url import is_postgres_url, redact_text, redact_url

__all__ = ["PostgresTrajectoryStore", "similar_query"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_Conn = psycopg.Connection[Any]

_COLUMNS = (
    "id",
    "uuid",
    "name",
    "session_id",
    "user_id",
    "request_type",
    "verdict",
    "quality",
    "started_at",
    "completed_at",
    "input_tokens",
    "output_tokens",
    "step_count",
    "json",
    "embedding",
    "dim",
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_PLACEHOLDERS = ", ".join(["%s"] * len(_COLUMNS))
_UPSERT = f"INSERT INTO trajectories ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS}) ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = EXCLUDED.{c}" for c in _COLUMNS[1:]
)

_UPSERT_STAGED = (
    f"INSERT INTO trajectories ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM trajectories_stage"
    " ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[1:])
)
_COPY_TYPES = [
    "int8", "uuid", "text", "text", "text", "text", "text", "float8",
    "timestamptz", "timestamptz", "int8", "int8", "int4", "text", "vector", "int4",
]  # fmt: skip
#: Batches of at least this many rows are written with COPY (a staging table costs a little).
_COPY_FROM = 32


def _embedding_param(t: Trajectory) -> tuple[Any, int]:
    """The vector to store (None when it cannot take part in a cosine search) and its dimension."""
    emb = np.asarray(t.query_embedding, dtype=np.float32)
    if emb.size == 0 or not np.isfinite(emb).all() or not np.any(emb):
        return None, 0
    return emb, int(emb.size)


def _text(value: str | None) -> str | None:
    """A column value PostgreSQL accepts: its text type cannot hold NUL (the JSON column keeps
    the exact value, escaped; only the copies in filter and statistics columns are changed)."""
    return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


def _row(t: Trajectory) -> tuple[Any, ...]:
    emb, dim = _embedding_param(t)
    return (
        to_db_id(int(t.id)),
        t.uuid,
        _text(trajectory_name(t)),
        _text(t.metadata.session_id),
        _text(t.metadata.user_id),
        _text(t.metadata.request_type),
        t.verdict.kind,
        float(t.quality),
        t.started_at,
        t.completed_at,
        t.metadata.total_input_tokens,
        t.metadata.total_output_tokens,
        len(t.steps),
        encode_json(t),
        emb,
        dim,
    )


def similar_query(dim: int, clauses: Sequence[str]) -> sql.Composed:
    """The similarity query for dimension *dim*: parameters are the query vector, the *clauses*'
    parameters, the query vector again and k. Its ``ORDER BY`` and ``WHERE dim = d`` match the
    partial HNSW index of that dimension, so the planner can walk it; the outer query restores
    exact order (pgvector's ``relaxed_order`` iterative scan may return near-ties out of order)."""
    where = sql.SQL("".join(f" AND {c}" for c in clauses))  # fixed clause texts, never user input
    distance = sql.SQL("embedding::vector({d}) <=> %s::vector({d})").format(d=sql.Literal(dim))
    return sql.SQL(
        "WITH hits AS MATERIALIZED (SELECT id, json, {distance} AS distance FROM trajectories"
        " WHERE dim = {d} AND embedding IS NOT NULL{where} ORDER BY {distance} LIMIT %s)"
        " SELECT id, json, distance FROM hits ORDER BY distance, id"
    ).format(distance=distance, d=sql.Literal(dim), where=where)


def _check_positive(argument: str, value: object, *, integer: bool = False) -> float:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:  # type: ignore[operator]
        raise ValueError(f"{argument} must be a positive {'integer' if integer else 'number'}, got {shown(value)}")
    return float(value)  # type: ignore[arg-type]


class PostgresTrajectoryStore(TrajectoryStore):
    """Trajectories in a PostgreSQL database with the pgvector extension.

    *url* is a libpq URL (``postgresql://user:password@host:5432/db``, ``postgres://`` too).
    ``ef_search`` is HNSW's candidate list size per query (higher: better recall, slower;
    pgvector's default is 40); ``pool_size`` caps this process's connections;
    ``connect_timeout`` bounds every wait for the server (connecting, or a free pooled
    connection); ``retries`` is how often an operation is retried after the connection broke.
    """

    def __init__(
        self,
        url: str,
        *,
        embedder: Embedder | None = None,
        ef_search: int = 100,
        pool_size: int = 4,
        connect_timeout: float = 5.0,
        retries: int = 3,
        create: bool = True,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, got {type(url).__name__}")
        if not is_postgres_url(url):
            raise ValueError(f"url must start with postgresql:// or postgres://, got {shown(redact_url(url))}")
        if not isinstance(create, bool):
            raise TypeError(f"create must be a bool, got {type(create).__name__}: {shown(create)}")
        if embedder is not None and not callable(embedder):
            raise TypeError(f"embedder must be callable (str -> vector), got {type(embedder).__name__}: {shown(embedder)}")
        self.ef_search = int(_check_positive("ef_search", ef_search, integer=True))
        if self.ef_search > 1000:
            raise ValueError(f"ef_search must be at most 1000 (pgvector's limit), got {ef_search}")
        self.pool_size = int(_check_positive("pool_size", pool_size, integer=True))
        self.connect_timeout = _check_positive("connect_timeout", connect_timeout)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {shown(retries)}")
        self.retries = retries
        self.embedder = embedder
        #: The URL with its password masked: what repr, logs and errors show.
        self.url = redact_url(url)
        self._dsn = url
        self._closed = False
        self._lock = threading.Lock()
        self._dims: set[int] = set()
        self._checked_dims: set[int] = set()
        #: Rows skipped because they could not be read (listings, export, similar).
        self.skipped_rows = 0
        # libpq wants whole seconds, at least 2 (it treats 1 as 2).
        self._connect_kwargs: dict[str, Any] = {"connect_timeout": max(2, round(self.connect_timeout)), "autocommit": True}
        try:
            with psycopg.connect(url, **self._connect_kwargs) as conn:
                ensure_schema(conn, self.url, create=create)
                self._dims = indexed_dimensions(conn)
        except SchemaVersionError:
            raise
        except psycopg.Error as exc:
            raise StoreError(f"cannot open trajectory database {self.url}: {self._describe(exc)}") from None
        self._pid = os.getpid()
        self._inherited: builtins.list[ConnectionPool[_Conn]] = []
        self._pool = self._new_pool()

    def _new_pool(self) -> ConnectionPool[_Conn]:
        return ConnectionPool(
            self._dsn,
            kwargs=self._connect_kwargs,
            min_size=1,
            max_size=self.pool_size,
            configure=register_vector,
            timeout=self.connect_timeout,
            # Short: a reconnect attempt backs off exponentially until this, so a long one would keep
            # the pool away for minutes after the server is back; a new attempt starts on demand.
            reconnect_timeout=2 * self.connect_timeout,
            name="trajectories",
            open=True,
        )

    @property
    def path(self) -> str:
        """Where the store is, for messages (the redacted URL; the SQLite store has a file path here)."""
        return self.url

    def __repr__(self) -> str:
        return f"PostgresTrajectoryStore({self.url!r})"

    def _describe(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        return redact_text(text, self._dsn)

    # ------------------------------------------------------------------ running SQL
    def _run(self, what: str, work: Callable[[_Conn], _T]) -> _T:
        """Run *work* in one transaction on a pooled connection, retrying a lost connection."""
        if self._closed:
            raise StoreError(f"the store {self.url} is closed")
        if os.getpid() != self._pid:  # forked: a connection must never cross a fork, so the child gets its own
            with self._lock:
                if os.getpid() != self._pid:
                    self._pid = os.getpid()
                    # The parent's pool is kept, untouched and never collected: closing (or freeing) its
                    # connections here would end the parent's sessions on the server.
                    self._inherited.append(self._pool)
                    self._pool = self._new_pool()
        attempt = 0
        while True:
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return work(conn)
            except PoolTimeout as exc:
                raise StoreError(
                    f"{what} trajectory database {self.url} failed: no connection within {self.connect_timeout:g} s "
                    f"(is the server up?): {self._describe(exc)}"
                ) from None
            except psycopg.OperationalError as exc:  # connection lost, server restarting, deadlock, serialization
                attempt += 1
                if attempt > self.retries:
                    raise StoreError(
                        f"{what} trajectory database {self.url} failed after {attempt} attempts: {self._describe(exc)}"
                    ) from None
                logger.warning("%s %s failed (attempt %d, retrying): %s", what, self.url, attempt, self._describe(exc))
                time.sleep(min(0.05 * 2**attempt, 1.0))
            except psycopg.Error as exc:
                raise StoreError(f"{what} trajectory database {self.url} failed: {self._describe(exc)}") from None

    def _query(self, query: Any, params: Sequence[Any] | dict[str, Any] = ()) -> builtins.list[Any]:
        return self._run("read from", lambda conn: conn.execute(query, params).fetchall())

    # ------------------------------------------------------------------ writing
    def add_many(self, trajectories: Iterable[Trajectory]) -> int:
        if isinstance(trajectories, Trajectory):
            raise TypeError("trajectories must be an iterable of Trajectory; use add() for one")
        by_id: dict[int, tuple[tuple[Any, ...], builtins.list[str], Contribution | None]] = {}
        count = 0
        for i, t in enumerate(trajectories):
            if not isinstance(t, Trajectory):
                raise TypeError(f"trajectories[{i}] must be a Trajectory, got {type(t).__name__}: {shown(t)}")
            row = _row(t)  # encodes first: bad input fails before anything is written
            # the last of one id wins, as in SQLite
            by_id[row[0]] = (row, [_text(s.action) or "" for s in t.steps], contribution_of(t))
            count += 1
        if not by_id:
            return 0
        self._run("write to", lambda conn: self._write_rows(conn, by_id))
        self._ensure_indexes({r[0][15] for r in by_id.values() if r[0][15]})
        return count

    def _ensure_indexes(self, dims: set[int]) -> None:
        for dim in sorted(dims - self._dims):
            self._run("index", lambda conn, d=dim: ensure_vector_index(conn, d))  # type: ignore[misc]
            with self._lock:
                self._dims.add(dim)

    @staticmethod
    def _write_rows(conn: _Conn, by_id: Mapping[int, tuple[tuple[Any, ...], Sequence[str], Contribution | None]]) -> None:
        # Sorted by id: concurrent batches lock rows in the same order and cannot deadlock.
        ids = sorted(by_id)
        rows = [by_id[i][0] for i in ids]
        actions = [(i, n, a) for i in ids for n, a in enumerate(by_id[i][1])]
        with conn.cursor() as cur:
            if len(rows) < _COPY_FROM:
                cur.executemany(_UPSERT, rows)
            else:  # COPY into a staging table, then one upsert: ~1.7x the rows/s of executemany
                cur.execute("CREATE TEMP TABLE trajectories_stage (LIKE trajectories) ON COMMIT DROP")
                with cur.copy(f"COPY trajectories_stage ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(_COPY_TYPES)
                    for r in rows:
                        copy.write_row(r)
                cur.execute(_UPSERT_STAGED)
            cur.execute("DELETE FROM trajectory_step_actions WHERE trajectory_id = ANY(%s)", (ids,))
            if actions:
                with cur.copy("COPY trajectory_step_actions (trajectory_id, idx, action) FROM STDIN") as copy:
                    for a in actions:
                        copy.write_row(a)
        # After the upserts: their row locks serialise writers of the same trajectory (postgres_credit.py).
        pg_apply_credit(conn, {i: by_id[i][2] for i in ids})

    def feedback(self, id: int, verdict: Verdict, *, source: str = "api", at: datetime | None = None) -> Trajectory:
        db_id = to_db_id(check_id("id", id))
        check_feedback(verdict, source, at)

        def work(conn: _Conn) -> Trajectory:
            row = conn.execute("SELECT id, json FROM trajectories WHERE id = %s FOR UPDATE", (db_id,)).fetchone()
            if row is None:
                raise TrajectoryNotFoundError(f"no trajectory with id {id} (traj-{id}) in {self.url}")
            updated = with_feedback(decode_row(row[0], row[1]), verdict, source=source, at=at)
            self._write_rows(
                conn, {db_id: (_row(updated), [_text(s.action) or "" for s in updated.steps], contribution_of(updated))}
            )
            return updated

        return self._run("write to", work)

    def memory_credit(self, keys: Iterable[MemoryKey]) -> dict[MemoryKey, MemoryCredit]:
        wanted = builtins.list(keys)
        return self._run("read from", lambda conn: pg_memory_credit(conn, wanted))

    def memory_credits(self, kind: str | None = None, *, limit: int | None = 50) -> builtins.list[tuple[MemoryKey, MemoryCredit]]:
        check_memory_kind("kind", kind)
        if limit is not None:
            check_count("limit", limit)
        return self._run("read from", lambda conn: pg_memory_credits(conn, kind, limit))

    def delete(self, ids: Iterable[int]) -> int:
        db_ids = [to_db_id(check_id(f"ids[{i}]", v)) for i, v in enumerate(ids)]
        if not db_ids:
            return 0

        def work(conn: _Conn) -> int:
            return conn.execute("DELETE FROM trajectories WHERE id = ANY(%s)", (db_ids,)).rowcount

        return self._run("write to", work)

    # ------------------------------------------------------------------ reading
    def _decode_or_skip(self, rows: Iterable[Any]) -> Iterator[Trajectory]:
        for row in rows:
            try:
                yield decode_row(row[0], row[1])
            except CorruptTrajectoryError as exc:
                self.skipped_rows += 1
                logger.warning("skipping a damaged row: %s", exc)

    def get(self, id: int) -> Trajectory:
        db_id = to_db_id(check_id("id", id))
        rows = self._query("SELECT id, json FROM trajectories WHERE id = %s", (db_id,))
        if not rows:
            raise TrajectoryNotFoundError(f"no trajectory with id {id} (traj-{id}) in {self.url}")
        return decode_row(rows[0][0], rows[0][1])

    def get_by_uuid(self, uuid: UUID | str) -> Trajectory:
        uuid = check_uuid("uuid", uuid)
        rows = self._query("SELECT id, json FROM trajectories WHERE uuid = %s ORDER BY id LIMIT 1", (uuid,))
        if not rows:
            raise TrajectoryNotFoundError(f"no trajectory with uuid {uuid} in {self.url}")
        return decode_row(rows[0][0], rows[0][1])

    @staticmethod
    def _where(f: TrajectoryFilter | None) -> tuple[builtins.list[str], builtins.list[Any]]:
        if f is None:
            return [], []
        if not isinstance(f, TrajectoryFilter):
            raise TypeError(f"filter must be a TrajectoryFilter, got {type(f).__name__}: {shown(f)}")
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        for clause, value in (
            ("name = %s", f.name),
            ("session_id = %s", f.session_id),
            ("user_id = %s", f.user_id),
            ("verdict = %s", f.verdict),
            ("quality >= %s", f.min_quality),
            ("quality <= %s", f.max_quality),
            ("started_at >= %s", f.since),
            ("started_at <= %s", f.until),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return clauses, params

    @staticmethod
    def _sql_where(clauses: Sequence[str]) -> str:
        return (" WHERE " + " AND ".join(clauses)) if clauses else ""

    def list(
        self, filter: TrajectoryFilter | None = None, *, limit: int | None = 50, offset: int = 0
    ) -> builtins.list[Trajectory]:
        if limit is not None:
            limit = check_count("limit", limit)
        offset = check_count("offset", offset)
        clauses, params = self._where(filter)
        where = self._sql_where(clauses)
        query = f"SELECT id, json FROM trajectories{where} ORDER BY started_at DESC, id DESC LIMIT %s OFFSET %s"
        return list(self._decode_or_skip(self._query(query, [*params, limit, offset])))

    def count(self, filter: TrajectoryFilter | None = None) -> int:
        clauses, params = self._where(filter)
        where = self._sql_where(clauses)
        return int(self._query(f"SELECT count(*) FROM trajectories{where}", params)[0][0])

    def iter_all(self, *, batch_size: int = 500) -> Iterator[Trajectory]:
        return self._iter_all(check_count("batch_size", batch_size) or 500)

    def _iter_all(self, batch_size: int) -> Iterator[Trajectory]:
        last: tuple[Any, int] | None = None
        while True:
            if last is None:
                rows = self._query(
                    "SELECT id, json, started_at FROM trajectories ORDER BY started_at, id LIMIT %s", (batch_size,)
                )
            else:
                rows = self._query(
                    "SELECT id, json, started_at FROM trajectories WHERE (started_at, id) > (%s, %s)"
                    " ORDER BY started_at, id LIMIT %s",
                    (last[0], last[1], batch_size),
                )
            if not rows:
                return
            yield from self._decode_or_skip(rows)
            last = (rows[-1][2], rows[-1][0])

    # ------------------------------------------------------------------ similarity
    def similar(
        self,
        query: Any,
        k: int = 5,
        *,
        min_quality: float | None = None,
        verdict: str | None = None,
        exclude: Iterable[int] = (),
        filter: TrajectoryFilter | None = None,
    ) -> builtins.list[SimilarHit]:
        k = check_count("k", k)
        f = TrajectoryFilter(min_quality=min_quality, verdict=check_verdict_kind("verdict", verdict))
        excluded = sorted({to_db_id(check_id("exclude[]", v)) for v in exclude})
        more, more_params = self._where(filter)
        vec = self.query_embedding(query)
        if k == 0:
            return []
        dim = int(vec.size)
        clauses, params = self._where(f)
        clauses += more
        params += more_params
        if excluded:
            clauses.append("id <> ALL(%s)")
            params.append(excluded)
        query_sql = similar_query(dim, clauses)
        ef = str(min(1000, max(self.ef_search, k)))

        def work(conn: _Conn) -> builtins.list[Any]:
            # Local to this transaction: the pooled connection keeps no settings.
            conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                (ef,),
            )
            rows = conn.execute(query_sql, [vec, *params, vec, k]).fetchall()
            if len(rows) < k and dim <= HNSW_MAX_DIM:
                # The iterative scan gives up after hnsw.max_scan_tuples (20 000) candidates: with a
                # very selective filter it can find fewer than k. Then ask again without the HNSW
                # index: exact, over the rows the filter's own indexes select.
                conn.execute("SELECT set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'on', true)")
                rows = conn.execute(query_sql, [vec, *params, vec, k]).fetchall()
            return rows

        rows = self._run("read from", work)
        self._warn_other_dimensions(dim)
        hits: builtins.list[SimilarHit] = []
        for db_id, text, dist in rows:
            try:
                hits.append(SimilarHit(decode_row(db_id, text), 1.0 - float(dist)))
            except CorruptTrajectoryError as exc:
                self.skipped_rows += 1
                logger.warning("similar(): skipping a damaged row: %s", exc)
        return hits

    def _warn_other_dimensions(self, dim: int) -> None:
        """Warn once per dimension that trajectories of other dimensions are not compared (as SQLite does)."""
        if dim in self._checked_dims:
            return
        self._checked_dims.add(dim)
        if dim > HNSW_MAX_DIM:
            logger.warning("similar(): dimension %d is above HNSW's %d: searched exactly, without an index", dim, HNSW_MAX_DIM)
        (other,) = self._query("SELECT count(*) FROM trajectories WHERE dim <> %s AND dim > 0", (dim,))[0]
        if other:
            logger.warning(
                "similar(): %d stored trajectories have query embeddings of another dimension than the query (%d) "
                "and were skipped",
                other,
                dim,
            )

    # ------------------------------------------------------------------ statistics
    def add_span_counts(self, counts: Mapping[str, int]) -> None:
        rows = span_count_rows(counts)
        if not rows:
            return

        def work(conn: _Conn) -> None:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO trajectory_span_counts (reason, n) VALUES (%s, %s) "
                    "ON CONFLICT (reason) DO UPDATE SET n = trajectory_span_counts.n + excluded.n",
                    [(_text(r), n) for r, n in rows],
                )

        self._run("write to", work)

    def stats(self, *, top_actions: int = 10) -> StoreStats:
        top_actions = check_count("top_actions", top_actions)

        def work(conn: _Conn) -> StoreStats:
            row = conn.execute(
                "SELECT count(*), avg(quality), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) FROM trajectories"
            ).fetchone()
            assert row is not None
            total, avg, tin, tout = row
            by_verdict = dict.fromkeys(VERDICT_KINDS, 0)
            for kind, n in conn.execute("SELECT verdict, count(*) FROM trajectories GROUP BY verdict"):
                by_verdict[str(kind)] = int(n)
            actions = conn.execute(
                "SELECT action, count(*) AS n FROM trajectory_step_actions GROUP BY action ORDER BY n DESC, action LIMIT %s",
                (top_actions,),
            ).fetchall()
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM trajectory_compressed), (SELECT count(*) FROM trajectory_key_lessons)"
            ).fetchone()
            assert counts is not None
            return StoreStats(
                total=int(total),
                by_verdict=by_verdict,
                avg_quality=float(avg) if avg is not None else 0.0,
                total_input_tokens=int(tin),
                total_output_tokens=int(tout),
                top_actions=[(str(a), int(n)) for a, n in actions],
                compressed=int(counts[0]),
                key_lessons=int(counts[1]),
                unrelated_spans={
                    str(r): int(n) for r, n in conn.execute("SELECT reason, n FROM trajectory_span_counts ORDER BY reason")
                },
            )

        return self._run("read from", work)

    def overview(self, filter: TrajectoryFilter | None = None, *, buckets: int = 24, top: int = 10) -> StoreOverview:
        buckets = check_count("buckets", buckets)
        top = check_count("top", top)
        clauses, params = self._where(filter)
        where = self._sql_where(clauses)
        return self._run("read from", lambda conn: postgres_overview(conn, where, params, buckets=buckets, top=top))

    # ------------------------------------------------------------------ distillation results
    def save_distillation(
        self, compressed: Sequence[CompressedTrajectory], lessons: Sequence[KeyLesson], *, prune_ids: Sequence[int] = ()
    ) -> None:
        comp = {to_db_id(int(c.original_id)): (c.compressed_at, dumps_plain(c.to_dict())) for c in compressed}
        comp_rows = [(i, *comp[i]) for i in sorted(comp)]
        lesson_map = {lesson.content: (float(lesson.score), dumps_plain(lesson.to_dict())) for lesson in lessons}
        lesson_rows = [(c, *lesson_map[c]) for c in sorted(lesson_map)]
        prune = [to_db_id(check_id("prune_ids[]", v)) for v in prune_ids]
        merges = lesson_merges(lessons)
        live = sorted({lesson.id for lesson in lessons})

        def work(conn: _Conn) -> None:
            with conn.cursor() as cur:
                if comp_rows:
                    cur.executemany(
                        "INSERT INTO trajectory_compressed (original_id, compressed_at, json) VALUES (%s, %s, %s)"
                        " ON CONFLICT (original_id) DO UPDATE SET compressed_at = EXCLUDED.compressed_at, json = EXCLUDED.json",
                        comp_rows,
                    )
                cur.execute("DELETE FROM trajectory_key_lessons")
                if lesson_rows:
                    cur.executemany("INSERT INTO trajectory_key_lessons (content, score, json) VALUES (%s, %s, %s)", lesson_rows)
                if prune:
                    cur.execute("DELETE FROM trajectories WHERE id = ANY(%s)", (prune,))
            pg_move_lesson_credit(conn, merges, live)

        self._run("write to", work)

    def compressed(self) -> builtins.list[CompressedTrajectory]:
        rows = self._query("SELECT json FROM trajectory_compressed ORDER BY original_id")
        out, skipped = read_json_rows((r[0] for r in rows), CompressedTrajectory.from_dict, "compressed trajectory")
        self.skipped_rows += skipped
        return out

    def key_lessons(self) -> builtins.list[KeyLesson]:
        rows = self._query("SELECT json FROM trajectory_key_lessons ORDER BY score DESC, content")
        out, skipped = read_json_rows((r[0] for r in rows), KeyLesson.from_dict, "key lesson")
        self.skipped_rows += skipped
        return out

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()
