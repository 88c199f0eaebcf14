"""The PostgreSQL fixtures of tests/store for the viewer's tests over a PostgreSQL store
(``postgres`` marker: ``make postgres``)."""

from tests.store.conftest import pg_admin_url, pg_url

__all__ = ["pg_admin_url", "pg_url"]
