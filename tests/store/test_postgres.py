"""What only the PostgreSQL store has: HNSW indexes per dimension, ef_search, lost connections,
a server that goes away, and a URL whose password is never shown."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.helpers.postgres import Proxy, closed_port, socket_target, via_tcp, with_database
from tests.helpers.store import traj
from trajectories.model import RootCause, Verdict
from trajectories.store import StoreError, open_store

pytestmark = pytest.mark.postgres

# psycopg is the postgres extra's: imported in the tests, so that `make test` (without the extra,
# these tests deselected) can still collect this module.

SECRET = "s3cr3t-Pa55"
FAIL = Verdict.failure(RootCause.unknown("x"))


def _with_password(url: str) -> str:
    """The test server trusts local connections: a password in the URL is accepted and ignored."""
    return with_database(url, urlsplit(url).path.lstrip("/"), password=SECRET)


@pytest.fixture
def proxy(pg_url: str) -> Iterator[Proxy]:
    p = Proxy(socket_target(pg_url))
    yield p
    p.close()


def test_open_store_takes_both_url_schemes(pg_url: str) -> None:
    from trajectories.store import PostgresTrajectoryStore

    for url in (pg_url, "postgres://" + pg_url.split("://", 1)[1]):
        with open_store(url) as store:
            assert isinstance(store, PostgresTrajectoryStore)
            store.add(traj(1))
            assert store.count() == 1


def test_the_password_is_in_no_repr_path_or_error(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from trajectories.store import PostgresTrajectoryStore

    url = _with_password(pg_url)
    with PostgresTrajectoryStore(url) as store:
        assert SECRET not in repr(store)
        assert SECRET not in store.path
        assert "***" in repr(store)
    with pytest.raises(StoreError) as caught:
        open_store(f"postgresql://bob:{SECRET}@127.0.0.1:{closed_port()}/db")
    assert SECRET not in str(caught.value)
    assert "bob:***@127.0.0.1" in str(caught.value)
    assert SECRET not in caplog.text


def test_an_unreachable_database_is_one_line_store_error() -> None:
    from trajectories.store import PostgresTrajectoryStore

    port = closed_port()
    with pytest.raises(StoreError, match=rf"cannot open trajectory database postgresql://u:\*\*\*@127.0.0.1:{port}/x") as caught:
        PostgresTrajectoryStore(f"postgresql://u:{SECRET}@127.0.0.1:{port}/x", connect_timeout=2)
    assert "\n" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_one_hnsw_index_per_dimension_used_by_similar(pg_url: str) -> None:
    import psycopg
    from psycopg import sql

    from trajectories._internal.store.postgres import similar_query
    from trajectories.store import PostgresTrajectoryStore

    with PostgresTrajectoryStore(pg_url) as store:
        store.add_many([traj(1, embedding=(1.0, 0.0, 0.0)), traj(2, embedding=(1.0, 0.0, 0.0, 0.0)), traj(3, embedding=())])
        store.add(traj(4, embedding=np.ones(2001)))  # beyond HNSW's 2000 dimensions: stored, searched exactly
        assert [h.id for h in store.similar(np.ones(2001), k=3)] == [4]
    with psycopg.connect(pg_url) as conn:
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'trajectories_hnsw%'")}
        assert names == {"trajectories_hnsw_3", "trajectories_hnsw_4"}
        conn.execute("SET enable_seqscan = off")  # a tiny table: make the planner show it can walk the index
        rows = conn.execute(
            sql.SQL("EXPLAIN ") + similar_query(3, ["verdict = %s"]),
            ["[1,0,0]", "success", "[1,0,0]", 5],
        ).fetchall()
        plan = "\n".join(r[0] for r in rows)
    assert "trajectories_hnsw_3" in plan


def test_ef_search_is_an_option_and_checked(pg_url: str) -> None:
    from trajectories.store import PostgresTrajectoryStore

    with PostgresTrajectoryStore(pg_url, ef_search=400) as store:
        assert store.ef_search == 400
        store.add(traj(1))
        assert [h.id for h in store.similar([1.0, 0.0, 0.0], k=1)] == [1]
    for bad in (0, -1, 1001, 2.5, True):
        with pytest.raises(ValueError, match="ef_search"):
            PostgresTrajectoryStore(pg_url, ef_search=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="postgresql://"):
        PostgresTrajectoryStore("sqlite:///x.db")


def test_connections_lost_mid_use_are_retried(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    import psycopg

    from trajectories.store import PostgresTrajectoryStore

    with PostgresTrajectoryStore(pg_url, pool_size=2) as store:
        store.add(traj(1))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 1
        with caplog.at_level(logging.WARNING, logger="trajectories"):
            store.add(traj(2))  # the pooled connection is dead: retried on a new one
            assert store.count() == 2
        assert "retrying" in caplog.text


def test_a_database_that_goes_away_raises_store_error_then_recovers(proxy: Proxy, pg_url: str) -> None:
    from trajectories.store import PostgresTrajectoryStore

    url = via_tcp(pg_url, proxy.port)
    with PostgresTrajectoryStore(url, connect_timeout=2, retries=2) as store:
        store.add(traj(1))
        proxy.cut()
        with pytest.raises(StoreError, match=r"write to trajectory database .* failed") as caught:
            store.add(traj(2))
        assert "\n" not in str(caught.value)
        with pytest.raises(StoreError):
            store.count()
        proxy.restore()
        for _ in range(20):  # the pool reconnects once the server is back (after its backoff)
            try:
                store.add(traj(2))
                break
            except StoreError:
                time.sleep(0.5)
        assert store.count() == 2


def test_a_forked_child_gets_its_own_connections(pg_url: str) -> None:
    from trajectories.store import PostgresTrajectoryStore

    with PostgresTrajectoryStore(pg_url) as store:
        store.add(traj(1))
        pid = os.fork()
        if pid == 0:  # the child writes through the store it inherited, then leaves without cleanup
            try:
                store.add(traj(2))
                os._exit(0 if store.count() == 2 else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        store.add(traj(3))  # the parent's connections survived the child
        assert sorted(int(t.id) for t in store.iter_all()) == [1, 2, 3]


def test_a_very_selective_filter_still_finds_its_rows(pg_url: str) -> None:
    """With the iterative scan cut short (hnsw.max_scan_tuples, 20 000 by default; 50 here) a
    filter that few rows pass would come back short: the store then asks without the index."""
    from trajectories.store import PostgresTrajectoryStore

    # enable_seqscan=off: on a table this small the planner would otherwise not use the index at all
    options = "options=-c%20hnsw.max_scan_tuples%3D50%20-c%20enable_seqscan%3Doff"
    url = pg_url + ("&" if "?" in pg_url else "?") + options
    rng = np.random.default_rng(4)
    near = list(range(1, 601))
    with PostgresTrajectoryStore(url) as store:
        store.add_many([traj(i, embedding=(1.0, *rng.normal(scale=0.01, size=3))) for i in near])
        store.add_many([traj(5000 + i, embedding=(0.0, 1.0, 0.0, float(i))) for i in range(3)])
        hits = store.similar([1.0, 0.0, 0.0, 0.0], k=3, exclude=near)  # no B-tree serves this filter: HNSW does
        assert sorted(h.id for h in hits) == [5000, 5001, 5002]


def test_a_closed_store_refuses(pg_url: str) -> None:
    from trajectories.store import PostgresTrajectoryStore

    store = PostgresTrajectoryStore(pg_url)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add(traj(1))
