"""The SQLite store: add/get/list/similar/stats/delete, bad rows and bad input."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.store import T0, step, traj
from trajectories.model import RootCause, Trajectory, Verdict
from trajectories.store import (
    CorruptTrajectoryError,
    SimilarHit,
    SQLiteTrajectoryStore,
    StoreError,
    StoreSink,
    TrajectoryFilter,
    TrajectoryNotFoundError,
    TrajectoryStore,
    open_store,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteTrajectoryStore]:
    s = SQLiteTrajectoryStore(tmp_path / "t.db")
    yield s
    s.close()


def test_open_store_uses_argument_then_env_then_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRAJECTORIES_DB", raising=False)
    with open_store() as s:
        assert isinstance(s, TrajectoryStore)
        assert s.path == "trajectories.db"  # type: ignore[attr-defined]
    assert (tmp_path / "trajectories.db").exists()
    monkeypatch.setenv("TRAJECTORIES_DB", str(tmp_path / "env.db"))
    with open_store() as s:
        s.add(traj(1))
    assert (tmp_path / "env.db").exists()
    with open_store(tmp_path / "arg.db") as s:
        assert s.count() == 0


def test_wal_mode_and_schema_version(store: SQLiteTrajectoryStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == 4
    conn.close()


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        SQLiteTrajectoryStore(tmp_path / "nope" / "t.db")


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteTrajectoryStore(bad)


def test_ids_at_or_above_2_63_roundtrip(store: SQLiteTrajectoryStore) -> None:
    big = (1 << 64) - 5
    store.add(traj(big))
    assert int(store.get(big).id) == big
    assert [int(t.id) for t in store.list()] == [big]


def test_add_is_idempotent_and_replaces(store: SQLiteTrajectoryStore) -> None:
    store.add(traj(1, [step(0, "a")]))
    store.add_many([traj(1, [step(0, "b"), step(1, "c")], verdict=Verdict.failure(RootCause.unknown("x")))])
    assert store.count() == 1
    got = store.get(1)
    assert [s.action for s in got.steps] == ["b", "c"]
    assert got.verdict.kind == "failure"
    assert store.stats().top_actions == [("b", 1), ("c", 1)]


def test_add_many_is_one_transaction_all_or_nothing(store: SQLiteTrajectoryStore) -> None:
    assert store.add_many([traj(i) for i in range(10)]) == 10
    with pytest.raises(TypeError, match=r"trajectories\[1\]"):
        store.add_many([traj(20), "not a trajectory"])  # type: ignore[list-item]
    assert store.count() == 10
    assert store.add_many([]) == 0
    with pytest.raises(TypeError):
        store.add_many(traj(1))  # type: ignore[arg-type]


def test_list_filters_newest_first_and_paging(store: SQLiteTrajectoryStore) -> None:
    store.add_many(
        [
            traj(1, name="a", session="s1", user="u1"),
            traj(2, name="b", session="s1", verdict=Verdict.failure(RootCause.unknown("x"))),
            traj(3, name="a", session="s2", verdict=Verdict.partial(0.5), request_type="rt"),
            traj(4, request_type="b"),
        ]
    )

    def ids(ts: Sequence[Trajectory]) -> list[int]:
        return [int(t.id) for t in ts]

    assert ids(store.list()) == [4, 3, 2, 1]
    assert ids(store.list(limit=2)) == [4, 3]
    assert ids(store.list(limit=2, offset=2)) == [2, 1]
    assert ids(store.list(TrajectoryFilter(name="a"))) == [3, 1]
    assert ids(store.list(TrajectoryFilter(name="b"))) == [4, 2]  # falls back to request_type
    assert ids(store.list(TrajectoryFilter(session_id="s1"))) == [2, 1]
    assert ids(store.list(TrajectoryFilter(user_id="u1"))) == [1]
    assert ids(store.list(TrajectoryFilter(verdict="failure"))) == [2]
    assert ids(store.list(TrajectoryFilter(min_quality=0.3, max_quality=0.9))) == [3]
    assert ids(store.list(TrajectoryFilter(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=3)))) == [3, 2]
    assert store.count(TrajectoryFilter(session_id="s1")) == 2
    with pytest.raises(ValueError, match="verdict must be one of"):
        TrajectoryFilter(verdict="great")
    with pytest.raises(ValueError, match="naive"):
        TrajectoryFilter(since=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="limit"):
        store.list(limit=-1)


def test_similar_by_embedding_text_and_filters(store: SQLiteTrajectoryStore) -> None:
    store.add_many(
        [
            traj(1, embedding=(1, 0, 0)),
            traj(2, embedding=(0.9, 0.1, 0), verdict=Verdict.failure(RootCause.unknown("x")), steps=[step(0, "a")]),
            traj(3, embedding=(0, 1, 0)),
            traj(4, embedding=()),  # empty: not indexed
            traj(5, embedding=(0, 0, 0)),  # zero: not indexed
        ]
    )
    hits = store.similar([1, 0, 0], k=2)
    assert [h.id for h in hits] == [1, 2]
    assert isinstance(hits[0], SimilarHit)
    assert hits[0].similarity == pytest.approx(1.0)
    assert [h.id for h in store.similar([1, 0, 0], k=10)] == [1, 2, 3]
    assert [h.id for h in store.similar([1, 0, 0], k=3, min_quality=0.5)] == [1, 3]
    assert [h.id for h in store.similar([1, 0, 0], k=3, verdict="failure")] == [2]
    assert [h.id for h in store.similar([1, 0, 0], k=3, exclude=[1])] == [2, 3]
    assert store.similar([1, 0, 0], k=0) == []
    with pytest.raises(ValueError, match="empty"):
        store.similar([], k=1)
    with pytest.raises(ValueError, match="all zeros"):
        store.similar([0, 0, 0], k=1)
    with pytest.raises(ValueError, match="finite"):
        store.similar([np.nan, 0, 0], k=1)
    with pytest.raises(ValueError, match="verdict"):
        store.similar([1, 0, 0], verdict="nope")


def test_similar_text_uses_the_default_embedder(tmp_path: Path) -> None:
    from trajectories._internal.embedding import HashingEmbedder

    emb = HashingEmbedder()
    with SQLiteTrajectoryStore(tmp_path / "t.db") as s:
        s.add_many(
            [
                traj(1, embedding=emb("how do I reset my password")),
                traj(2, embedding=emb("refund for a damaged parcel")),
                traj(3, embedding=emb("change the billing address")),
            ]
        )
        hits = s.similar("I forgot my password, how to reset it?", k=1)
        assert [h.id for h in hits] == [1]
        with pytest.raises(ValueError, match="empty"):
            s.similar("   ")


def test_similar_with_a_custom_embedder(tmp_path: Path) -> None:
    calls: list[str] = []

    def embedder(text: str) -> list[float]:
        calls.append(text)
        return [0.0, 1.0]

    with SQLiteTrajectoryStore(tmp_path / "t.db", embedder=embedder) as s:
        s.add_many([traj(1, embedding=(1, 0)), traj(2, embedding=(0, 1))])
        assert [h.id for h in s.similar("anything", k=1)] == [2]
    assert calls == ["anything"]
    with pytest.raises(TypeError, match="embedder"):
        SQLiteTrajectoryStore(tmp_path / "t.db", embedder="nope")  # type: ignore[arg-type]


def test_mixed_dimensions_are_skipped_with_a_warning(store: SQLiteTrajectoryStore, caplog: pytest.LogCaptureFixture) -> None:
    store.add_many([traj(1, embedding=(1, 0, 0)), traj(2, embedding=(1, 0)), traj(3, embedding=(0, 1))])
    with caplog.at_level(logging.WARNING, logger="trajectories.store"):
        assert [h.id for h in store.similar([1, 0], k=5)] == [2, 3]
    assert "1 stored trajectories have query embeddings of another dimension" in caplog.text
    assert [h.id for h in store.similar([1, 0, 0], k=5)] == [1]


def test_index_follows_adds_replacements_and_deletes(store: SQLiteTrajectoryStore) -> None:
    store.add(traj(1, embedding=(1, 0)))
    assert [h.id for h in store.similar([1, 0], k=5)] == [1]
    store.add(traj(2, embedding=(1, 0.1)))
    store.add(traj(1, embedding=(0, 1)))  # replaced: now points elsewhere
    assert [h.id for h in store.similar([1, 0], k=1)] == [2]
    assert store.delete([2, 99]) == 1
    assert [h.id for h in store.similar([1, 0], k=5)] == [1]
    store.add(traj(2, embedding=(1, 0)))  # deleted then re-added
    assert [h.id for h in store.similar([1, 0], k=1)] == [2]
    assert store.delete([]) == 0


def test_index_sees_writes_of_another_store_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with SQLiteTrajectoryStore(path) as a, SQLiteTrajectoryStore(path) as b:
        a.add(traj(1, embedding=(1, 0)))
        assert [h.id for h in b.similar([1, 0], k=5)] == [1]
        b.add(traj(2, embedding=(1, 0.01)))
        a.delete([1])
        assert [h.id for h in b.similar([1, 0], k=5)] == [2]
        assert [h.id for h in a.similar([1, 0], k=5)] == [2]


def test_index_does_not_reread_rows_when_nothing_changed(store: SQLiteTrajectoryStore) -> None:
    store.add_many([traj(i, embedding=(1, i)) for i in range(1, 50)])
    store.similar([1, 0], k=3)
    seq = store._index_seq
    statements: list[str] = []
    store._conn().set_trace_callback(statements.append)
    store.similar([1, 0], k=3)
    store._conn().set_trace_callback(None)
    assert store._index_seq == seq
    # No index read (the hits' own rows, embedding included, are read by id: store/hits.py).
    assert not any("WHERE seq >" in s for s in statements), statements
    assert not any("embedding" in s and "WHERE id IN" not in s for s in statements), statements


def test_corrupt_row_is_skipped_in_listings_and_an_error_for_get(
    store: SQLiteTrajectoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add_many([traj(1, embedding=(1, 0)), traj(2, embedding=(1, 0.1)), traj(3, embedding=(1, 0.2))])
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE trajectories SET json = '{\"id\": 2, broken' WHERE id = 2")
    conn.execute("UPDATE trajectories SET embedding = x'0000' WHERE id = 3")
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'seq'")
    conn.execute("UPDATE trajectories SET seq = (SELECT value FROM meta WHERE key = 'seq') WHERE id = 3")
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING, logger="trajectories.store"):
        assert [int(t.id) for t in store.list()] == [3, 1]
        assert [int(t.id) for t in store.iter_all()] == [1, 3]
        hits = store.similar([1, 0], k=5)
    assert [h.id for h in hits] == [1]  # 2 is damaged JSON, 3 has a damaged embedding
    assert "traj-2 cannot be read" in caplog.text
    assert "not indexing traj-3" in caplog.text
    with pytest.raises(CorruptTrajectoryError, match="traj-2"):
        store.get(2)
    assert store.skipped_rows >= 3


def test_stats(store: SQLiteTrajectoryStore) -> None:
    empty = store.stats()
    assert empty.total == 0
    assert empty.avg_quality == 0.0
    store.add_many(
        [
            traj(1, [step(0, "search"), step(1, "answer")], tokens=(10, 5)),
            traj(2, [step(0, "search")], verdict=Verdict.failure(RootCause.unknown("x")), tokens=(1, 2)),
            traj(3, [step(0, "search"), step(1, "verify")], verdict=Verdict.partial(0.5)),
        ]
    )
    st = store.stats(top_actions=2)
    assert st.total == 3
    assert st.by_verdict == {"success": 1, "failure": 1, "partial": 1, "recovered_via_reflection": 0}
    qualities = [store.get(i).quality for i in (1, 2, 3)]
    assert st.avg_quality == pytest.approx(sum(qualities) / 3)
    assert (st.total_input_tokens, st.total_output_tokens) == (11, 7)
    assert st.top_actions == [("search", 3), ("answer", 1)]
    assert st.to_dict()["top_actions"][0] == {"action": "search", "count": 3}


def test_delete_removes_rows_and_actions(store: SQLiteTrajectoryStore) -> None:
    store.add_many([traj(1, [step(0, "x")]), traj(2, [step(0, "y")])])
    assert store.delete([1]) == 1
    assert store.count() == 1
    assert store.stats().top_actions == [("y", 1)]
    with pytest.raises(TrajectoryNotFoundError):
        store.get(1)
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        store.delete([-1])


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    s = SQLiteTrajectoryStore(tmp_path / "t.db")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.count()


def test_store_sink_writes_what_the_exporter_delivers(store: SQLiteTrajectoryStore) -> None:
    from trajectories.export import Sink

    sink = StoreSink(store)
    assert isinstance(sink, Sink)
    sink.send(traj(1))
    sink.send_many([traj(2), traj(3)])
    sink.send(traj(1))  # re-delivery: no duplicate
    sink.flush()
    sink.close()
    assert store.count() == 3
    assert int(store.get(2).id) == 2
    with pytest.raises(TypeError, match="store"):
        StoreSink("x")  # type: ignore[arg-type]


def test_pruned_tombstones_make_a_stale_index_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.db"
    monkeypatch.setattr(SQLiteTrajectoryStore, "TOMBSTONE_LIMIT", 4)
    with SQLiteTrajectoryStore(path) as writer, SQLiteTrajectoryStore(path) as reader:
        writer.add_many([traj(i, embedding=(1, i)) for i in range(1, 200)])
        assert len(reader.similar([1, 0], k=500)) == 199  # reader's index is now in sync
        for i in range(1, 150):  # many single deletes: tombstones are pruned along the way
            writer.delete([i])
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] <= 4 + 64
        assert conn.execute("SELECT value FROM meta WHERE key = 'tomb_floor'").fetchone()[0] > 0
        conn.close()
        assert sorted(h.id for h in reader.similar([1, 0], k=500)) == list(range(150, 200))
        assert len(reader._index) == 50  # reloaded: no stale rows left in its matrix


def test_iter_all_pages_through_equal_start_times(store: SQLiteTrajectoryStore) -> None:
    store.add_many([traj(i, started=T0) for i in range(1, 11)] + [traj(11, started=T0 - timedelta(seconds=1))])
    assert [int(t.id) for t in store.iter_all(batch_size=3)] == [11, *range(1, 11)]
    with pytest.raises(TypeError, match="batch_size"):
        store.iter_all(batch_size="3")  # type: ignore[arg-type]


def test_a_write_into_a_removed_database_file_is_refused_not_lost(tmp_path: Path) -> None:
    """SQLite keeps writing into the file it opened: after the file is deleted (or its directory
    replaced) the write would "succeed" into a file nobody can open again. The store refuses."""
    path = tmp_path / "t.db"
    store = SQLiteTrajectoryStore(path)
    store.add(traj(1))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreError, match="the file it had open is gone"):
        store.add(traj(2))
    store.close()


def test_a_write_into_a_replaced_database_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SQLiteTrajectoryStore(path)
    store.add(traj(1))
    other = tmp_path / "other.db"
    SQLiteTrajectoryStore(other).close()
    os.replace(other, path)
    with pytest.raises(StoreError, match="was replaced by another file"):
        store.add_many([traj(2)])
    store.close()
