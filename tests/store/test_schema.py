"""Schema versions on both backends: a fresh database is created, an older one migrated, a newer one refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.postgres import new_database, with_database
from tests.helpers.store import step, traj
from trajectories.store import StoreError, TrajectoryStore, open_store

# The schema modules are internal: imported here only, to build an old database from them.
from trajectories._internal.store import schema as sqlite_schema  # isort: skip


def _version(location: str) -> int:
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location) as conn:
            row = conn.execute("SELECT version FROM trajectories_schema_version").fetchone()
    else:
        with sqlite3.connect(location) as conn:
            row = conn.execute("SELECT version FROM schema_version").fetchone()
    assert row is not None
    return int(row[0])


def _set_version(location: str, version: int) -> None:
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("UPDATE trajectories_schema_version SET version = %s", (version,))
    else:
        lite = sqlite3.connect(location)
        with lite:
            lite.execute("UPDATE schema_version SET version = ?", (version,))
        lite.close()


def test_a_fresh_database_gets_the_current_version(store: TrajectoryStore, location: str, backend: str) -> None:
    expected = sqlite_schema.SCHEMA_VERSION
    if backend == "postgres":
        from trajectories._internal.store.postgres_schema import SCHEMA_VERSION as expected
    assert _version(location) == expected
    store.add(traj(1))
    store.close()
    with open_store(location) as again:  # opening a current database changes nothing
        assert again.count() == 1
    assert _version(location) == expected


def test_create_false_opens_only_an_existing_store(location: str, opener: Callable[[], TrajectoryStore]) -> None:
    with pytest.raises(StoreError, match="not created by a command that only reads"):
        open_store(location, create=False)
    opener().close()  # a writer creates it
    with open_store(location, create=False) as store:
        assert store.count() == 0


def test_a_newer_database_is_refused_naming_both_versions(
    location: str, backend: str, opener: Callable[[], TrajectoryStore]
) -> None:
    opener().close()
    _set_version(location, 99)
    ours = sqlite_schema.SCHEMA_VERSION
    if backend == "postgres":
        from trajectories._internal.store.postgres_schema import SCHEMA_VERSION as ours
    with pytest.raises(StoreError, match=rf"schema version 99, newer than .* \({ours}\); upgrade the package"):
        open_store(location)


def test_an_old_sqlite_database_from_the_v1_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    for statement in sqlite_schema.SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    conn.execute("INSERT INTO meta (key, value) VALUES ('seq', 1)")
    t = traj(5, [step(0, "search")])
    conn.execute(
        f"INSERT INTO trajectories ({sqlite_schema.ROW_COLUMNS}) VALUES ({', '.join('?' * 17)})", (*sqlite_schema.row_for(t), 1)
    )
    conn.execute("INSERT INTO step_actions VALUES (5, 0, 'search')")
    conn.commit()
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "trajectories_verdict" not in indexes
    conn.close()

    with open_store(path) as store:
        assert store.get(5) == t  # the data survived
        assert [h.id for h in store.similar([1.0, 0.0, 0.0], k=1)] == [5]
        assert store.stats().top_actions == [("search", 1)]
    assert _version(str(path)) == sqlite_schema.SCHEMA_VERSION == 4
    conn = sqlite3.connect(path)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"trajectories_verdict", "step_actions_action"} <= indexes  # version 2
    assert "span_counts" in tables  # version 3


@pytest.mark.postgres
def test_a_role_that_may_not_create_the_extension_is_told_what_to_run(pg_admin_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS traj_plain")
        conn.execute("CREATE ROLE traj_plain LOGIN")
    name = new_database(pg_admin_url, owner="traj_plain")
    url = with_database(pg_admin_url, name, user="traj_plain")
    with pytest.raises(StoreError, match=r"may not create it .*CREATE EXTENSION vector;") as caught:
        open_store(url)
    assert "\n" not in str(caught.value)
    with psycopg.connect(with_database(pg_admin_url, name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")  # what a superuser runs once
    with open_store(url) as store:  # the owner creates the tables itself
        store.add(traj(1))
        assert [h.id for h in store.similar([1.0, 0.0, 0.0], k=1)] == [1]
