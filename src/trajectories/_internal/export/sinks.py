"""Sinks: where assembled trajectories go. A callback, a list, an anyio stream, a JSON-lines file.

A sink is anything with ``send(trajectory)``, ``flush()`` and ``close()``; a plain callable
is wrapped in :class:`CallbackSink`. Sinks may raise: the exporter counts and logs the
failure and retries the trajectory later, then writes it to the dead-letter file.
``send`` is called from the exporter's thread (a BatchSpanProcessor's worker), never under
the exporter's lock, so a slow sink delays delivery but never blocks span creation.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol, runtime_checkable

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..model.trajectory import Trajectory
from ..validate import shown

__all__ = ["CallbackSink", "JsonlSink", "ListSink", "Sink", "StreamSink", "as_sink", "sink_name"]


@runtime_checkable
class Sink(Protocol):
    """Receives scored trajectories. ``send`` may raise; ``flush``/``close`` should not block long."""

    def send(self, trajectory: Trajectory) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def as_sink(value: object, argument: str = "sink") -> Sink:
    """*value* itself if it is a Sink, a CallbackSink if it is callable; else a TypeError naming *argument*."""
    if isinstance(value, Sink):
        return value
    if callable(value):
        return CallbackSink(value)
    raise TypeError(f"{argument} must be a Sink (send/flush/close) or a callable taking a Trajectory, got {type(value).__name__}")


def sink_name(sink: Sink) -> str:
    name = getattr(sink, "name", None)
    return name if isinstance(name, str) else type(sink).__name__


class CallbackSink:
    """Calls ``callback(trajectory)`` for each trajectory (from the exporter's thread)."""

    def __init__(self, callback: Callable[[Trajectory], Any], *, name: str | None = None) -> None:
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self.callback = callback
        self.name = name if name is not None else f"callback:{getattr(callback, '__qualname__', type(callback).__name__)}"

    def send(self, trajectory: Trajectory) -> None:
        self.callback(trajectory)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class ListSink:
    """Keeps every trajectory in memory, in delivery order: for tests and notebooks."""

    name = "list"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Trajectory] = []

    @property
    def trajectories(self) -> list[Trajectory]:
        """A copy of what arrived so far."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def send(self, trajectory: Trajectory) -> None:
        with self._lock:
            self._items.append(trajectory)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[Trajectory]:
        return iter(self.trajectories)

    def __getitem__(self, index: int) -> Trajectory:
        with self._lock:
            return self._items[index]


class StreamSink:
    """An anyio memory object stream of trajectories: ``async for t in sink: ...``.

    Create it inside the event loop that consumes it (it remembers that loop, under asyncio
    or trio). The exporter's thread hands each trajectory to the loop without blocking; a
    full buffer (a consumer that does not keep up) or a closed stream is a delivery failure,
    so the trajectory is retried and finally dead-lettered, not lost. The stream ends when
    the exporter shuts down.
    """

    name = "stream"

    def __init__(self, max_buffer_size: float = 1000) -> None:
        self._token = anyio.lowlevel.current_token()  # raises outside an event loop: clear enough
        self._loop_thread = threading.get_ident()
        send, receive = anyio.create_memory_object_stream[Trajectory](max_buffer_size)
        self._send: MemoryObjectSendStream[Trajectory] = send
        self.receive_stream: MemoryObjectReceiveStream[Trajectory] = receive

    def _in_loop(self, func: Callable[..., Any], *args: Any) -> Any:
        if threading.get_ident() == self._loop_thread:
            return func(*args)  # a SimpleSpanProcessor ending a span inside the loop itself
        return anyio.from_thread.run_sync(func, *args, token=self._token)

    def send(self, trajectory: Trajectory) -> None:
        self._in_loop(self._send.send_nowait, trajectory)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._in_loop(self._send.close)

    def __aiter__(self) -> StreamSink:
        return self

    async def __anext__(self) -> Trajectory:
        try:
            return await self.receive_stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self.receive_stream.close()  # the stream ended: release the consumer's side too
            raise StopAsyncIteration from None

    async def receive(self) -> Trajectory:
        """The next trajectory; ``anyio.EndOfStream`` once the exporter has shut down."""
        return await self.receive_stream.receive()


class JsonlSink:
    """Appends each trajectory to a file as one line of ruvllm serde JSON (``read_jsonl`` reads it back).

    The file is opened on first use, in append mode, and flushed after every delivery round,
    so another process can tail it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}: {shown(path)}")
        self.path = os.fspath(path)
        self.name = f"jsonl:{self.path}"
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def send(self, trajectory: Trajectory) -> None:
        line = trajectory.to_json() + "\n"
        with self._lock:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115 - kept open across calls
            self._file.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            f, self._file = self._file, None
        if f is not None:
            f.close()
