"""``similar()`` decodes its hits with the query embedding from the BLOB column (store/hits.py):
the trajectories it returns are exactly those ``get()`` decodes from the whole JSON."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.store import step, traj
from trajectories._internal.store.codec import decode_row, embedding_to_blob, encode_json
from trajectories._internal.store.hits import decode_hit
from trajectories.exceptions import CorruptTrajectoryError
from trajectories.model import Trajectory
from trajectories.store import SQLiteTrajectoryStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteTrajectoryStore]:
    s = SQLiteTrajectoryStore(tmp_path / "t.db")
    yield s
    s.close()


def _same(a: Trajectory, b: Trajectory) -> None:
    assert a == b
    assert a.to_json() == b.to_json()
    assert a.query_embedding.dtype == b.query_embedding.dtype == np.float32
    assert not a.query_embedding.flags.writeable


def test_hits_are_what_get_decodes(store: SQLiteTrajectoryStore) -> None:
    rng = np.random.default_rng(3)
    # Text that looks like the embedding's key, in a lesson and a step's action: not the list.
    tricky = 'he said "query_embedding":[1,2] and left'
    stored = [
        traj(i, [step(0, tricky if i % 2 else "act")], embedding=rng.standard_normal(16), lessons=[tricky]) for i in range(1, 21)
    ]
    store.add_many(stored)
    hits = store.similar(rng.standard_normal(16), k=20)
    assert len(hits) == 20
    for hit in hits:
        _same(hit.trajectory, store.get(hit.id))


def test_decode_hit_agrees_with_decode_row_and_falls_back(store: SQLiteTrajectoryStore) -> None:
    t = traj(7, [step(0, "act")], embedding=np.linspace(-1, 1, 8))
    text, blob = encode_json(t), embedding_to_blob(t.query_embedding)
    hit = decode_hit(7, text, blob, 8)
    _same(hit, decode_row(7, text))
    # The embedding is a view of the row's immutable bytes: read-only, and it cannot be made writable.
    assert not hit.query_embedding.flags.writeable
    with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
        hit.query_embedding.flags.writeable = True
    # A BLOB that does not hold dim floats, or holds a non-finite one: the JSON's list is read.
    _same(decode_hit(7, text, blob[:-4], 8), decode_row(7, text))
    _same(decode_hit(7, text, embedding_to_blob(np.full(8, np.nan, dtype=np.float32)), 8), decode_row(7, text))
    empty = traj(8, embedding=())
    _same(decode_hit(8, encode_json(empty), b"", 0), decode_row(8, encode_json(empty)))


def test_a_damaged_row_is_still_reported(store: SQLiteTrajectoryStore) -> None:
    t = traj(9, embedding=(1.0, 0.0, 0.0))
    text, blob = encode_json(t), embedding_to_blob(t.query_embedding)
    with pytest.raises(CorruptTrajectoryError, match="traj-9"):
        decode_hit(9, text.replace('"verdict"', '"verdikt"'), blob, 3)
    with pytest.raises(CorruptTrajectoryError, match="traj-9"):
        decode_hit(9, text[: len(text) // 2], blob, 3)


def test_similar_skips_a_row_damaged_outside_the_embedding(store: SQLiteTrajectoryStore) -> None:
    store.add_many([traj(1, embedding=(1.0, 0.0)), traj(2, embedding=(0.9, 0.1))])
    store.similar([1.0, 0.0], k=2)  # load the index
    conn = sqlite3.connect(store.path)
    with conn:
        conn.execute("UPDATE trajectories SET json = replace(json, '\"verdict\"', '\"verdikt\"') WHERE id = 2")
    conn.close()
    before = store.skipped_rows
    assert [h.id for h in store.similar([1.0, 0.0], k=2)] == [1]
    assert store.skipped_rows == before + 1
