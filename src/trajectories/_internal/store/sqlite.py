"""The SQLite store: one file in WAL mode, one connection per thread, a cached vector index.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction (SQLite serialises writers
across threads and processes; ``busy_timeout`` makes them wait instead of failing). Each write
transaction bumps a sequence number in ``meta`` and stamps the rows it wrote (and the
tombstones of rows it deleted) with it, so the similarity index of any process catches up
with one cheap query and then reads only what changed.
"""

from __future__ import annotations

import builtins
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from ..embedding import Embedder
from ..exceptions import CorruptTrajectoryError, SchemaVersionError, StoreError, TrajectoryNotFoundError
from ..model.feedback import with_feedback
from ..model.lessons import CompressedTrajectory, KeyLesson
from ..model.trajectory import Trajectory
from ..model.verdict import VERDICT_KINDS, Verdict
from ..validate import check_count, check_id, check_uuid, shown
from .base import (
    SimilarHit,
    StoreStats,
    TrajectoryFilter,
    TrajectoryStore,
    check_feedback,
    check_verdict_kind,
    resolve_db_path,
    span_count_rows,
)
from .codec import blob_to_embedding, decode_row, dumps_plain, from_db_id, read_json_rows, to_db_id, to_micros
from .credit import Contribution, MemoryCredit, MemoryKey, contribution_of, lesson_merges
from .hits import decode_hit
from .index import EmbeddingIndex
from .overview import StoreOverview
from .schema import (
    MIGRATIONS,
    ROW_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    Connection,
    rollback,
    row_for,
)
from .sqlite_credit import sqlite_apply_credit, sqlite_memory_credit, sqlite_memory_credits, sqlite_move_lesson_credit
from .sqlite_overview import sqlite_overview

__all__ = ["SCHEMA_VERSION", "SQLiteTrajectoryStore"]

logger = logging.getLogger(__name__)
#: The write sequence number: every committed write raises it (what the index syncs against).
_SEQ_SQL = "SELECT value FROM meta WHERE key = 'seq'"

#: similar()'s default ``exclude`` (the empty tuple, one object), seen by identity: no set to build.
_DEFAULT_EXCLUDE: tuple[int, ...] = ()
_NO_EXCLUDED: frozenset[int] = frozenset()


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class _Locked(Exception):
    """Opening found the file locked by another process that is creating it: try again."""


class SQLiteTrajectoryStore(TrajectoryStore):
    """Trajectories in one SQLite file (WAL). Safe to share between threads, and between
    processes that open the same file.

    ``embedder`` turns ``similar("text")`` into an embedding; None (the default) uses the
    process-wide embedder from ``configure()`` at the time of the query. ``create=False`` opens
    only an existing database (StoreError if the file is missing) and never creates one: what
    read-only callers (the CLI's reading commands, the web viewer) use.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        embedder: Embedder | None = None,
        timeout: float = 30.0,
        create: bool = True,
    ) -> None:
        self.path = resolve_db_path(path)
        if not isinstance(create, bool):
            raise TypeError(f"create must be a bool, got {type(create).__name__}: {shown(create)}")
        if not create and not os.path.isfile(self.path):
            raise StoreError(f"no trajectory database at {shown(self.path)} (it is not created by a command that only reads)")
        if embedder is not None and not callable(embedder):
            raise TypeError(f"embedder must be callable (str -> vector), got {type(embedder).__name__}: {shown(embedder)}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {shown(timeout)}")
        self.embedder = embedder
        self._timeout = float(timeout)
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise StoreError(f"cannot open trajectory database {shown(self.path)}: directory {shown(directory)} does not exist")
        self._local = threading.local()
        self._pid = os.getpid()
        self._connections: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._conn_lock = threading.Lock()
        self._index = EmbeddingIndex()
        self._index_seq = -1
        self._index_lock = threading.Lock()
        self._warned_dims: set[tuple[int, int]] = set()
        self._overview_cache: dict[tuple[Any, ...], tuple[int, StoreOverview]] = {}
        self._overview_lock = threading.Lock()
        self._closed = False
        #: Rows skipped because they could not be read (listings, export, the index).
        self.skipped_rows = 0
        self._opened_at = time.monotonic()
        self._init_schema()

    # ------------------------------------------------------------------ connections
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the store {shown(self.path)} is closed")
        if os.getpid() != self._pid:  # forked: a connection must never cross a fork
            self._pid = os.getpid()
            self._local = threading.local()
            self._connections = weakref.WeakSet()
        holder: Connection | None = getattr(self._local, "holder", None)
        if holder is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open trajectory database {shown(self.path)}: {exc}") from exc
            holder = Connection(conn, _file_id(self.path))
            self._local.holder = holder
            with self._conn_lock:
                self._connections.add(holder)
        return holder.conn

    def _init_schema(self) -> None:
        while True:
            try:
                self._init_schema_once()
                return
            except _Locked:
                time.sleep(0.02)

    def _init_schema_once(self) -> None:
        conn = self._conn()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                logger.warning("SQLite could not switch %r to WAL mode (got %r); concurrent use will be slower", self.path, mode)
            conn.execute("BEGIN IMMEDIATE")
            try:
                # statement by statement: executescript() would COMMIT our transaction
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
                version = 1 if row is None or row[0] is None else int(row[0])
                if row is None or row[0] is None:
                    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
                elif version > SCHEMA_VERSION:
                    raise SchemaVersionError(
                        f"trajectory database {shown(self.path)} has schema version {version}, newer than this "
                        f"version of trajectories understands ({SCHEMA_VERSION}); upgrade the package"
                    )
                while version < SCHEMA_VERSION:  # an older database: migrate it, in this transaction
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
                    version += 1
                    conn.execute("UPDATE schema_version SET version = ?", (version,))
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('seq', 0)")
                conn.execute("COMMIT")
            except BaseException:
                rollback(conn)
                raise
        except sqlite3.OperationalError as exc:
            # Processes opening a fresh file at once: switching it to WAL (or taking the write lock
            # while another holds a read lock on a not-yet-WAL file) can report "locked" without
            # waiting for busy_timeout. Retried until the timeout, then reported.
            if "locked" in str(exc) and time.monotonic() < self._opened_at + self._timeout:
                raise _Locked from exc
            self.close()
            raise StoreError(f"cannot open trajectory database {shown(self.path)}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"cannot open trajectory database {shown(self.path)}: {exc}") from exc
        except StoreError:
            self.close()
            raise

    def close(self) -> None:
        with self._conn_lock:
            holders = list(self._connections)
            self._connections = weakref.WeakSet()
            self._closed = True
        for holder in holders:
            holder.close()
        self._local = threading.local()

    # ------------------------------------------------------------------ writing
    def _check_file(self) -> None:
        """Refuse to write through a connection whose database file was removed or replaced.

        SQLite keeps writing into the file it opened, so after ``rm trajectories.db`` (or a
        deploy that swaps the file or its directory) writes would "succeed" into a file nobody
        can open again: a silent loss. Raising instead lets the exporter retry and dead-letter.
        The next write opens the path afresh.
        """
        holder: Connection | None = getattr(self._local, "holder", None)
        if holder is None or holder.file_id is None:
            return
        now = _file_id(self.path)
        if now == holder.file_id:
            return
        self._local.holder = None
        holder.close()
        state = "is gone" if now is None else "was replaced by another file"
        raise StoreError(f"write to trajectory database {shown(self.path)} refused: the file it had open {state}")

    def _write(self, work: Any) -> Any:
        """Run ``work(conn, seq)`` in one immediate transaction with a fresh sequence number."""
        self._conn()
        self._check_file()
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                seq = conn.execute(_SEQ_SQL).fetchone()[0] + 1
                result = work(conn, seq)
                conn.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (seq,))
                self._prune_tombstones(conn, seq)
                conn.execute("COMMIT")
            except BaseException:
                rollback(conn)
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"write to trajectory database {shown(self.path)} failed: {exc}") from exc
        return result

    #: Tombstones kept before the oldest half are dropped (indexes older than that reload fully).
    TOMBSTONE_LIMIT = 10_000

    def _prune_tombstones(self, conn: sqlite3.Connection, seq: int) -> None:
        """Keep the tombstone table small. An index that synced before the pruned ones
        sees ``tomb_floor`` above its own sequence number and reloads everything."""
        if seq % 64:  # checking the count on every write would cost more than it saves
            return
        (count,) = conn.execute("SELECT count(*) FROM tombstones").fetchone()
        if count <= self.TOMBSTONE_LIMIT:
            return
        (floor,) = conn.execute(
            "SELECT seq FROM tombstones ORDER BY seq LIMIT 1 OFFSET ?", (count - self.TOMBSTONE_LIMIT // 2,)
        ).fetchone()
        conn.execute("DELETE FROM tombstones WHERE seq < ?", (floor,))
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('tomb_floor', ?)", (floor - 1,))

    def add_many(self, trajectories: Iterable[Trajectory]) -> int:
        if isinstance(trajectories, Trajectory):
            raise TypeError("trajectories must be an iterable of Trajectory; use add() for one")
        rows: builtins.list[tuple[Any, ...]] = []
        actions: builtins.list[tuple[int, int, str]] = []
        contributions: dict[int, Contribution | None] = {}
        for i, t in enumerate(trajectories):
            if not isinstance(t, Trajectory):
                raise TypeError(f"trajectories[{i}] must be a Trajectory, got {type(t).__name__}: {shown(t)}")
            row = row_for(t)  # encodes first: bad input fails before anything is written
            rows.append(row)
            actions.extend((row[0], n, s.action) for n, s in enumerate(t.steps))
            contributions[row[0]] = contribution_of(t)  # the last of one id wins, as the row does
        if not rows:
            return 0

        def work(conn: sqlite3.Connection, seq: int) -> int:
            self._write_rows(conn, seq, rows, actions, contributions)
            return len(rows)

        result: int = self._write(work)
        return result

    @staticmethod
    def _write_rows(
        conn: sqlite3.Connection,
        seq: int,
        rows: Sequence[tuple[Any, ...]],
        actions: Sequence[tuple[int, int, str]],
        contributions: Mapping[int, Contribution | None],
    ) -> None:
        ids = [(r[0],) for r in rows]
        conn.executemany("DELETE FROM step_actions WHERE trajectory_id = ?", ids)
        conn.executemany(
            f"INSERT OR REPLACE INTO trajectories ({ROW_COLUMNS}) VALUES ({', '.join('?' * 17)})",
            [(*r, seq) for r in rows],
        )
        conn.executemany("INSERT OR REPLACE INTO step_actions (trajectory_id, idx, action) VALUES (?, ?, ?)", actions)
        sqlite_apply_credit(conn, contributions)

    def feedback(self, id: int, verdict: Verdict, *, source: str = "api", at: datetime | None = None) -> Trajectory:
        db_id = to_db_id(check_id("id", id))
        check_feedback(verdict, source, at)

        def work(conn: sqlite3.Connection, seq: int) -> Trajectory:
            row = conn.execute("SELECT id, json FROM trajectories WHERE id = ?", (db_id,)).fetchone()
            if row is None:
                raise TrajectoryNotFoundError(f"no trajectory with id {id} (traj-{id}) in {self.path}")
            updated = with_feedback(decode_row(row[0], row[1]), verdict, source=source, at=at)
            actions = [(db_id, n, s.action) for n, s in enumerate(updated.steps)]
            self._write_rows(conn, seq, [row_for(updated)], actions, {db_id: contribution_of(updated)})
            return updated

        result: Trajectory = self._write(work)
        return result

    def memory_credit(self, keys: Iterable[MemoryKey]) -> dict[MemoryKey, MemoryCredit]:
        return sqlite_memory_credit(self._query, keys)

    def memory_credits(self, kind: str | None = None, *, limit: int | None = 50) -> builtins.list[tuple[MemoryKey, MemoryCredit]]:
        return sqlite_memory_credits(self._query, kind, limit)

    def delete(self, ids: Iterable[int]) -> int:
        db_ids = [(to_db_id(check_id(f"ids[{i}]", v)),) for i, v in enumerate(ids)]
        if not db_ids:
            return 0

        def work(conn: sqlite3.Connection, seq: int) -> int:
            n = 0
            for (db_id,) in db_ids:
                cur = conn.execute("DELETE FROM trajectories WHERE id = ?", (db_id,))
                if cur.rowcount:
                    n += cur.rowcount
                    conn.execute("INSERT INTO tombstones (id, seq) VALUES (?, ?)", (db_id, seq))
                conn.execute("DELETE FROM step_actions WHERE trajectory_id = ?", (db_id,))
            return n

        result: int = self._write(work)
        return result

    # ------------------------------------------------------------------ reading
    def _query(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"read from trajectory database {shown(self.path)} failed: {exc}") from exc

    def _decode_or_skip(self, rows: Iterable[Any]) -> Iterator[Trajectory]:
        for db_id, text in rows:
            try:
                yield decode_row(db_id, text)
            except CorruptTrajectoryError as exc:
                self.skipped_rows += 1
                logger.warning("skipping a damaged row: %s", exc)

    def get(self, id: int) -> Trajectory:
        db_id = to_db_id(check_id("id", id))
        rows = self._query("SELECT id, json FROM trajectories WHERE id = ?", (db_id,))
        if not rows:
            raise TrajectoryNotFoundError(f"no trajectory with id {id} (traj-{id}) in {self.path}")
        return decode_row(rows[0][0], rows[0][1])

    def get_by_uuid(self, uuid: UUID | str) -> Trajectory:
        uuid = check_uuid("uuid", uuid)
        rows = self._query("SELECT id, json FROM trajectories WHERE uuid = ?", (str(uuid),))
        if not rows:
            raise TrajectoryNotFoundError(f"no trajectory with uuid {uuid} in {self.path}")
        return decode_row(rows[0][0], rows[0][1])

    def _where(self, f: TrajectoryFilter | None) -> tuple[str, list[Any]]:
        if f is None:
            return "", []
        if not isinstance(f, TrajectoryFilter):
            raise TypeError(f"filter must be a TrajectoryFilter, got {type(f).__name__}: {shown(f)}")
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        for column, value in (("name", f.name), ("session_id", f.session_id), ("user_id", f.user_id), ("verdict", f.verdict)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if f.min_quality is not None:
            clauses.append("quality >= ?")
            params.append(f.min_quality)
        if f.max_quality is not None:
            clauses.append("quality <= ?")
            params.append(f.max_quality)
        if f.since is not None:
            clauses.append("started_at >= ?")
            params.append(to_micros(f.since))
        if f.until is not None:
            clauses.append("started_at <= ?")
            params.append(to_micros(f.until))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list(
        self, filter: TrajectoryFilter | None = None, *, limit: int | None = 50, offset: int = 0
    ) -> builtins.list[Trajectory]:
        if limit is not None:
            limit = check_count("limit", limit)
        offset = check_count("offset", offset)
        where, params = self._where(filter)
        sql = f"SELECT id, json FROM trajectories{where} ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?"
        rows = self._query(sql, [*params, -1 if limit is None else limit, offset])
        return list(self._decode_or_skip(rows))

    def count(self, filter: TrajectoryFilter | None = None) -> int:
        where, params = self._where(filter)
        return int(self._query(f"SELECT count(*) FROM trajectories{where}", params)[0][0])

    def iter_all(self, *, batch_size: int = 500) -> Iterator[Trajectory]:
        # Checked here, not in the generator, so that bad input fails at this call.
        return self._iter_all(check_count("batch_size", batch_size) or 500)

    def _iter_all(self, batch_size: int) -> Iterator[Trajectory]:
        last: tuple[int, int] | None = None
        while True:
            if last is None:
                rows = self._query(
                    "SELECT id, json, started_at FROM trajectories ORDER BY started_at, id LIMIT ?",
                    (batch_size,),
                )
            else:
                rows = self._query(
                    "SELECT id, json, started_at FROM trajectories WHERE (started_at, id) > (?, ?)"
                    " ORDER BY started_at, id LIMIT ?",
                    (last[0], last[1], batch_size),
                )
            if not rows:
                return
            yield from self._decode_or_skip((r[0], r[1]) for r in rows)
            last = (rows[-1][2], rows[-1][0])

    # ------------------------------------------------------------------ similarity
    def _sync_index(self) -> None:
        """Bring the index up to date with every committed write, from any thread or process."""
        conn = self._conn()
        try:
            # The usual case, nothing new since the last search: one statement (itself a consistent read).
            if int(conn.execute(_SEQ_SQL).fetchone()[0]) == self._index_seq:
                return
            conn.execute("BEGIN")
            try:
                seq = int(conn.execute(_SEQ_SQL).fetchone()[0])
                if seq == self._index_seq:
                    return
                floor_row = conn.execute("SELECT value FROM meta WHERE key = 'tomb_floor'").fetchone()
                floor = int(floor_row[0]) if floor_row is not None else -1
                # The file was replaced, or deletions we have not seen were pruned: start again.
                if seq < self._index_seq or self._index_seq < floor:
                    self._index.clear()
                    self._index_seq = -1
                tombs = conn.execute("SELECT id FROM tombstones WHERE seq > ?", (self._index_seq,)).fetchall()
                rows = conn.execute(
                    "SELECT id, quality, verdict, dim, embedding FROM trajectories WHERE seq > ?", (self._index_seq,)
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"read from trajectory database {shown(self.path)} failed: {exc}") from exc
        for (db_id,) in tombs:
            self._index.remove(from_db_id(db_id))
        for db_id, quality, verdict, dim, blob in rows:
            id = from_db_id(db_id)
            if dim == 0:
                self._index.remove(id)
                continue
            try:
                vec = blob_to_embedding(blob, dim)
            except ValueError as exc:
                self.skipped_rows += 1
                logger.warning("not indexing traj-%d: %s", id, exc)
                self._index.remove(id)
                continue
            self._index.put(id, vec, float(quality), str(verdict))
        self._index_seq = seq

    def similar(
        self,
        query: Any,
        k: int = 5,
        *,
        min_quality: float | None = None,
        verdict: str | None = None,
        exclude: Iterable[int] = _DEFAULT_EXCLUDE,
        filter: TrajectoryFilter | None = None,
    ) -> builtins.list[SimilarHit]:
        k = check_count("k", k)
        if min_quality is None and verdict is None:  # the usual call: no filter object to build
            least, kind = None, None
        else:
            f = TrajectoryFilter(min_quality=min_quality, verdict=check_verdict_kind("verdict", verdict))
            least, kind = f.min_quality, f.verdict
        excluded = _NO_EXCLUDED if exclude is _DEFAULT_EXCLUDE else frozenset(check_id("exclude[]", v) for v in exclude)
        where, params = self._where(filter)
        vec = self.query_embedding(query)
        # A filter is SQL: the ids that pass it restrict the index search (exact, so k hits if k pass).
        allowed = [from_db_id(r[0]) for r in self._query(f"SELECT id FROM trajectories{where}", params)] if where else None
        with self._index_lock:
            self._sync_index()
            other = self._index.other_dimension_count(vec.size)
            hits = self._index.search(vec, k, min_quality=least, verdict_kind=kind, exclude=excluded, include=allowed)
        if other and (vec.size, other) not in self._warned_dims:
            self._warned_dims.add((vec.size, other))
            logger.warning(
                "similar(): %d stored trajectories have query embeddings of another dimension than the query (%d) "
                "and were skipped",
                other,
                vec.size,
            )
        result: builtins.list[SimilarHit] = []
        if not hits:
            return result
        # One query per 500 hits, not one per hit (500: under every SQLite's parameter limit).
        db_ids = [to_db_id(hit.id) for hit in hits]
        rows: dict[int, tuple[str, bytes, int]] = {}
        for i in range(0, len(db_ids), 500):
            chunk = db_ids[i : i + 500]
            sql = f"SELECT id, json, embedding, dim FROM trajectories WHERE id IN ({','.join('?' * len(chunk))})"
            rows.update((r[0], (r[1], r[2], r[3])) for r in self._query(sql, chunk))
        for hit, db_id in zip(hits, db_ids, strict=True):
            row = rows.get(db_id)
            if row is None:  # deleted by another process since the index synced
                continue
            try:
                # The query embedding from its BLOB, not the JSON's float list (most of the decoding).
                result.append(SimilarHit(decode_hit(db_id, *row), hit.similarity))
            except CorruptTrajectoryError as exc:
                self.skipped_rows += 1
                logger.warning("similar(): skipping a damaged row: %s", exc)
        return result

    # ------------------------------------------------------------------ statistics
    def add_span_counts(self, counts: Mapping[str, int]) -> None:
        rows = span_count_rows(counts)
        if not rows:
            return

        def work(conn: sqlite3.Connection, seq: int) -> None:
            conn.executemany(
                "INSERT INTO span_counts (reason, n) VALUES (?, ?) ON CONFLICT (reason) DO UPDATE SET n = n + excluded.n", rows
            )

        self._write(work)

    def stats(self, *, top_actions: int = 10) -> StoreStats:
        top_actions = check_count("top_actions", top_actions)
        total, avg, tin, tout = self._query(
            "SELECT count(*), avg(quality), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) FROM trajectories"
        )[0]
        by_verdict = dict.fromkeys(VERDICT_KINDS, 0)
        for kind, n in self._query("SELECT verdict, count(*) FROM trajectories GROUP BY verdict"):
            by_verdict[str(kind)] = int(n)
        actions = self._query(
            "SELECT action, count(*) AS n FROM step_actions GROUP BY action ORDER BY n DESC, action LIMIT ?", (top_actions,)
        )
        compressed = self._query("SELECT count(*) FROM compressed")[0][0]
        lessons = self._query("SELECT count(*) FROM key_lessons")[0][0]
        return StoreStats(
            total=int(total),
            by_verdict=by_verdict,
            avg_quality=float(avg) if avg is not None else 0.0,
            total_input_tokens=int(tin),
            total_output_tokens=int(tout),
            top_actions=[(str(a), int(n)) for a, n in actions],
            compressed=int(compressed),
            key_lessons=int(lessons),
            unrelated_spans={str(r): int(n) for r, n in self._query("SELECT reason, n FROM span_counts ORDER BY reason")},
        )

    def overview(self, filter: TrajectoryFilter | None = None, *, buckets: int = 24, top: int = 10) -> StoreOverview:
        buckets = check_count("buckets", buckets)
        top = check_count("top", top)
        where, params = self._where(filter)
        # The step figures scan the stored JSON: the result is kept until the next write (any
        # process's write bumps ``seq``), so a dashboard that is reloaded costs one small query.
        seq = int(self._query("SELECT value FROM meta WHERE key = 'seq'")[0][0])
        key = (filter, buckets, top)
        with self._overview_lock:
            cached = self._overview_cache.get(key)
            if cached is not None and cached[0] == seq:
                return cached[1]
        result = sqlite_overview(self._query, where, params, buckets=buckets, top=top)
        with self._overview_lock:
            if len(self._overview_cache) >= 16:
                self._overview_cache.clear()
            self._overview_cache[key] = (seq, result)
        return result

    # ------------------------------------------------------------------ distillation results
    def save_distillation(
        self, compressed: Sequence[CompressedTrajectory], lessons: Sequence[KeyLesson], *, prune_ids: Sequence[int] = ()
    ) -> None:
        dumps = dumps_plain
        comp_rows = [(to_db_id(int(c.original_id)), to_micros(c.compressed_at), dumps(c.to_dict())) for c in compressed]
        lesson_rows = [(lesson.content, float(lesson.score), dumps(lesson.to_dict())) for lesson in lessons]
        prune = [to_db_id(check_id("prune_ids[]", v)) for v in prune_ids]
        merges = lesson_merges(lessons)
        live = sorted({lesson.id for lesson in lessons})

        def work(conn: sqlite3.Connection, seq: int) -> None:
            conn.executemany("INSERT OR REPLACE INTO compressed (original_id, compressed_at, json) VALUES (?, ?, ?)", comp_rows)
            conn.execute("DELETE FROM key_lessons")
            conn.executemany("INSERT OR REPLACE INTO key_lessons (content, score, json) VALUES (?, ?, ?)", lesson_rows)
            sqlite_move_lesson_credit(conn, merges, live)
            for db_id in prune:
                cur = conn.execute("DELETE FROM trajectories WHERE id = ?", (db_id,))
                if cur.rowcount:
                    conn.execute("INSERT INTO tombstones (id, seq) VALUES (?, ?)", (db_id, seq))
                conn.execute("DELETE FROM step_actions WHERE trajectory_id = ?", (db_id,))

        self._write(work)

    def compressed(self) -> builtins.list[CompressedTrajectory]:
        rows = self._query("SELECT json FROM compressed ORDER BY original_id")
        out, skipped = read_json_rows((r[0] for r in rows), CompressedTrajectory.from_dict, "compressed trajectory")
        self.skipped_rows += skipped
        return out

    def key_lessons(self) -> builtins.list[KeyLesson]:
        rows = self._query("SELECT json FROM key_lessons ORDER BY score DESC, content")
        out, skipped = read_json_rows((r[0] for r in rows), KeyLesson.from_dict, "key lesson")
        self.skipped_rows += skipped
        return out

    def __repr__(self) -> str:
        return f"SQLiteTrajectoryStore({self.path!r})"
