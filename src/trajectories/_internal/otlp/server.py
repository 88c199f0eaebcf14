"""Run the OTLP receiver under uvicorn, in the foreground or in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["run", "running_in_thread"]


def _config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False)


def run(app: Any, *, host: str = "127.0.0.1", port: int = 4318) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn then runs the app's shutdown, which flushes."""
    import uvicorn

    uvicorn.Server(_config(app, host, port)).run()


@contextmanager
def running_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0) -> Iterator[str]:
    """Serve *app* from a thread; yields its base URL. For tests and embedding."""
    import uvicorn

    server = uvicorn.Server(_config(app, host, port))
    thread = threading.Thread(target=server.run, name="trajectories-otlp-receiver", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the OTLP receiver did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout)
