"""Faults inside the SDK's own pipeline, in process: sinks that raise, block or are slow; a store
that cannot be written (unreachable, read-only, full); a dead-letter file on a full disk; an
OTLP endpoint that is down.

In each case the application's calls return their own values and raise their own exception
objects, and every trajectory is delivered, queued for retry, or in the dead-letter file:
the counts add up. (Shutdown, exit and fork run in subprocesses: test_faults_process.py.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.helpers.faults import STEPS, dead_letter_ids, ids, run_app
from trajectories.config import Configuration, TrajectorySpanProcessor, configure
from trajectories.export import CallbackSink, ListSink, TrajectoryExporter
from trajectories.model import Trajectory
from trajectories.store import SQLiteTrajectoryStore, StoreSink

N = 50


def pipeline(
    sinks: list[object], dead: Path, **exporter_options: object
) -> tuple[TracerProvider, TrajectorySpanProcessor, TrajectoryExporter, Configuration]:
    exporter = TrajectoryExporter(sinks, dead_letter_path=dead, **exporter_options)  # type: ignore[arg-type]
    provider = TracerProvider()
    processor = TrajectorySpanProcessor(exporter, schedule_delay_millis=50)
    provider.add_span_processor(processor)
    return provider, processor, exporter, Configuration(exporter, provider, processor, None, False)


def stored_ids(store: SQLiteTrajectoryStore) -> list[int]:
    return ids(store.iter_all())


# ----------------------------------------------------------------------------- sinks


def test_a_sink_that_always_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="trajectories")
    store = SQLiteTrajectoryStore(tmp_path / "t.db")

    def broken(t: Trajectory) -> None:
        raise RuntimeError("sink is down")

    dead = tmp_path / "dead.jsonl"
    provider, _, exporter, config = pipeline([CallbackSink(broken, name="broken"), StoreSink(store)], dead)
    run = run_app(provider, N)
    config.flush()
    mid = exporter.stats
    # while running: each failed delivery is retried or already dead-lettered, none vanishes
    assert mid.retries_pending + mid.dead_lettered == N
    config.shutdown()

    run.check_untouched(N)
    stats = exporter.stats
    assert sorted(stored_ids(store)) == sorted(run.produced)  # the other sink is not affected
    assert sorted(dead_letter_ids(dead)) == sorted(run.produced)  # the broken sink's copies
    assert (stats.dead_lettered, stats.retries_pending, stats.dead_letter_failures) == (N, 0, 0)
    assert stats.sink_failures_by_sink["broken"] == stats.sink_failures >= N
    assert stats.sink_failures_by_sink["store"] == 0
    assert any("sink broken failed" in r.getMessage() for r in caplog.records)
    store.close()


def test_a_sink_that_fails_for_a_while_gets_every_trajectory_by_retry(tmp_path: Path) -> None:
    got = ListSink()
    failures = {"left": 20}

    def flaky(t: Trajectory) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OSError("temporarily unavailable")
        got.send(t)

    dead = tmp_path / "dead.jsonl"
    provider, _, exporter, config = pipeline([CallbackSink(flaky, name="flaky")], dead, retry_attempts=5)
    run = run_app(provider, N)
    config.flush()
    config.flush()  # the retries' next attempts
    config.shutdown()

    run.check_untouched(N)
    assert sorted(ids(got)) == sorted(run.produced)
    assert len(ids(got)) == N  # each exactly once
    assert dead_letter_ids(dead) == []
    assert exporter.stats.sink_failures == 20
    assert exporter.stats.dead_lettered == 0


def test_a_slow_sink_does_not_slow_the_application(tmp_path: Path) -> None:
    got = ListSink()

    def slow(t: Trajectory) -> None:
        time.sleep(0.02)
        got.send(t)

    provider, _, exporter, config = pipeline([CallbackSink(slow, name="slow")], tmp_path / "dead.jsonl")
    t0 = time.perf_counter()
    run = run_app(provider, N)
    app_time = time.perf_counter() - t0
    assert config.flush()
    config.shutdown()

    run.check_untouched(N)
    assert app_time < N * 0.02 / 2, f"the application waited for the sink: {app_time:.2f} s"
    assert sorted(ids(got)) == sorted(run.produced)
    assert exporter.stats.sink_failures == 0


def test_a_sink_that_blocks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A sink that does not return: the application runs on, flush() returns False on time
    instead of hanging (it delivers around the blocked sink and says that it could not deliver
    everything), other sinks keep getting trajectories... and once it returns, nothing was lost."""
    caplog.set_level(logging.WARNING, logger="trajectories")
    gate = threading.Event()
    entered = threading.Event()
    blocked_got = ListSink()

    def blocking(t: Trajectory) -> None:
        entered.set()
        gate.wait(30)
        blocked_got.send(t)

    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    dead = tmp_path / "dead.jsonl"
    provider, _, exporter, config = pipeline([CallbackSink(blocking, name="blocking"), StoreSink(store)], dead, sink_timeout=0.2)
    try:
        first = run_app(provider, N)
        assert entered.wait(10)
        t0 = time.perf_counter()
        second = run_app(provider, N)  # the exporter's thread is stuck; the application is not
        app_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert config.flush(timeout_millis=300) is False
        flush_time = time.perf_counter() - t0
    finally:
        gate.set()
    assert app_time < 2.0
    assert flush_time < 2.0
    # Either the flush found the sink already counted as blocked and delivered around it, or it
    # called into the sink just before that and gave up after its 300 ms: both say so.
    said = [r.getMessage() for r in caplog.records]
    assert any("sink blocking is blocked" in m or "flush did not finish within 300 ms" in m for m in said), said
    # Released, the exporter's thread is still delivering its backlog to the sink; a flush that
    # meets one of those calls in progress counts the sink as busy and says so (False), and its
    # retry waits for the next flush. Once the backlog is through, a flush delivers everything.
    deadline = time.monotonic() + 20
    while not config.flush() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert config.flush()
    config.shutdown()

    first.check_untouched(N)
    second.check_untouched(N)
    produced = sorted(first.produced + second.produced)
    stats = exporter.stats
    # The sink returned in the end: each trajectory reached it, or was dead-lettered for it
    # (skipped while it was blocked, after its retries); the store got every one.
    reached = ids(blocked_got)
    lettered = dead_letter_ids(dead)
    assert sorted(reached + lettered) == produced
    assert stats.dead_lettered == len(lettered)
    assert stats.retries_pending == 0
    assert sorted(stored_ids(store)) == produced
    store.close()


# ----------------------------------------------------------------------------- the store


def test_store_unreachable_everything_is_dead_lettered_and_importable(tmp_path: Path) -> None:
    """The database's directory disappears and a file takes its place (a volume unmounted,
    a path replaced by a deploy): every write fails; every trajectory is in the dead-letter file,
    and importing it restores them exactly."""
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    store = SQLiteTrajectoryStore(db_dir / "t.db")  # opened by this thread; the exporter's thread opens its own
    shutil.rmtree(db_dir)
    db_dir.write_text("not a directory\n")
    dead = tmp_path / "dead.jsonl"
    got = ListSink()
    provider, _, exporter, config = pipeline([StoreSink(store), got], dead)
    run = run_app(provider, N)
    config.shutdown()

    run.check_untouched(N)
    stats = exporter.stats
    assert stats.sink_failures_by_sink["store"] >= N
    assert sorted(dead_letter_ids(dead)) == sorted(run.produced)
    assert (stats.dead_lettered, stats.dead_letter_failures, stats.retries_pending) == (N, 0, 0)
    repaired = SQLiteTrajectoryStore(tmp_path / "repaired.db")
    from trajectories import read_jsonl

    repaired.add_many(read_jsonl(dead))
    assert {t.id: t for t in repaired.iter_all()} == {t.id: t for t in got}  # exactly what was delivered elsewhere
    for t in repaired.iter_all():
        assert len(t.steps) == STEPS
    repaired.close()
    store.close()


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real, small tmpfs mounted at *path* (needs root with CAP_SYS_ADMIN).

    A developer's machine without root skips these two tests; CI (``CI`` set) runs as root
    and fails rather than skips, so a lost capability cannot turn the suite silently green.
    """
    path.mkdir()
    give_up = pytest.fail if os.environ.get("CI") else pytest.skip
    if os.geteuid() != 0 or shutil.which("mount") is None:
        give_up("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        give_up(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def opened_elsewhere(path: Path) -> SQLiteTrajectoryStore:
    """A store whose schema is written but which holds no open connection (each thread opens
    its own, and closes it when the thread ends): so that a filesystem can be remounted."""
    box: list[SQLiteTrajectoryStore] = []
    thread = threading.Thread(target=lambda: box.append(SQLiteTrajectoryStore(path)))
    thread.start()
    thread.join()
    return box[0]


def test_store_on_a_filesystem_that_turns_read_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """What ext4 does on an I/O error (errors=remount-ro): here a real tmpfs remounted read-only.
    (As root, chmod does not stop writes; a read-only mount does.)"""
    caplog.set_level(logging.WARNING, logger="trajectories")
    with tmpfs(tmp_path / "mnt", "8m") as mnt:
        store = opened_elsewhere(mnt / "t.db")
        remount = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
        assert remount.returncode == 0, remount.stderr
        dead = tmp_path / "dead.jsonl"  # elsewhere: the dead-letter file must be writable
        provider, _, exporter, config = pipeline([StoreSink(store)], dead)
        run = run_app(provider, N)
        config.shutdown()

        run.check_untouched(N)
        stats = exporter.stats
        assert sorted(dead_letter_ids(dead)) == sorted(run.produced)
        assert (stats.dead_lettered, stats.retries_pending, stats.dead_letter_failures) == (N, 0, 0)
        assert stats.sink_failures_by_sink["store"] >= N
        messages = " ".join(r.getMessage() for r in caplog.records)
        assert "readonly" in messages or "read-only" in messages or "unable to open" in messages, messages[:500]
        store.close()
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
        with SQLiteTrajectoryStore(mnt / "t.db") as again:
            assert again.count() == 0  # nothing half-written


def test_store_on_a_full_disk(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A real ENOSPC: the store on a small tmpfs that a filler file has filled up."""
    caplog.set_level(logging.WARNING, logger="trajectories")
    with tmpfs(tmp_path / "mnt", "2m") as mnt:
        store = SQLiteTrajectoryStore(mnt / "t.db")
        dead = tmp_path / "dead.jsonl"
        provider, _, exporter, config = pipeline([StoreSink(store)], dead)
        with contextlib.suppress(OSError), open(mnt / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        run = run_app(provider, N)
        config.shutdown()

        run.check_untouched(N)
        stats = exporter.stats
        lettered = dead_letter_ids(dead)
        stored = stored_ids(store)
        # SQLite may fit a few into pages it already had; everything else is dead-lettered.
        assert sorted(stored + lettered) == sorted(run.produced)
        assert len(lettered) > 0
        assert (stats.dead_lettered, stats.retries_pending, stats.dead_letter_failures) == (len(lettered), 0, 0)
        assert any("full" in r.getMessage() for r in caplog.records)
        store.close()


def test_dead_letter_file_on_a_full_disk_is_a_loss_that_is_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The last resort fails too (/dev/full: every write is ENOSPC). Nothing can be kept, but
    the loss is not silent: counted in dead_letter_failures and logged at ERROR with the count."""
    caplog.set_level(logging.WARNING, logger="trajectories")

    def broken(t: Trajectory) -> None:
        raise RuntimeError("down")

    provider, _, exporter, config = pipeline([CallbackSink(broken, name="broken")], Path("/dev/full"), retry_attempts=1)
    run = run_app(provider, N)
    config.shutdown()

    run.check_untouched(N)
    stats = exporter.stats
    assert (stats.dead_lettered, stats.dead_letter_failures, stats.retries_pending) == (0, N, 0)
    lost = [r for r in caplog.records if r.levelno == logging.ERROR and "LOST" in r.getMessage()]
    assert sum(int(r.getMessage().split("LOST ")[1].split()[0]) for r in lost) == N


# ----------------------------------------------------------------------------- OTLP


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is: nothing listens there


def test_otlp_endpoint_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")  # its retries give up after 2 s, not 10
    caplog.set_level(logging.WARNING)
    provider = TracerProvider()
    store_path = tmp_path / "t.db"
    config = configure(
        tracer_provider=provider,
        store=store_path,
        otlp_endpoint=f"http://127.0.0.1:{closed_port()}",
        dead_letter_path=tmp_path / "dead.jsonl",
    )
    try:
        assert config.otlp_processor is not None
        t0 = time.perf_counter()
        run = run_app(provider, N)
        app_time = time.perf_counter() - t0
        config.flush(timeout_millis=10_000)
        # The trajectories are in the store right after the trajectory exporter's flush,
        # whatever the OTLP exporter is still retrying.
        assert config.store is not None
        assert sorted(ids(config.store.iter_all())) == sorted(run.produced)
    finally:
        t0 = time.perf_counter()
        config.shutdown()
        shutdown_time = time.perf_counter() - t0
    run.check_untouched(N)
    assert app_time < 2.0
    assert shutdown_time < 15.0
    assert config.exporter.stats.sink_failures == 0
    assert dead_letter_ids(tmp_path / "dead.jsonl") == []
    otlp_logs = [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    assert otlp_logs, "the OTLP exporter did not report the failure"


def test_shutdown_takes_over_from_a_sink_that_never_returns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The worker thread is stuck in a sink for good. shutdown() does not wait for it forever:
    what the stuck delivery holds goes to the sink that works and to the dead-letter file."""
    caplog.set_level(logging.WARNING, logger="trajectories")
    gate = threading.Event()
    entered = threading.Event()

    def never(t: Trajectory) -> None:
        entered.set()
        gate.wait(60)

    got = ListSink()
    dead = tmp_path / "dead.jsonl"
    exporter = TrajectoryExporter([CallbackSink(never, name="never"), got], dead_letter_path=dead, sink_timeout=0.1)
    provider = TracerProvider()
    processor = TrajectorySpanProcessor(exporter, schedule_delay_millis=50, max_export_batch_size=8)
    provider.add_span_processor(processor)
    config = Configuration(exporter, provider, processor, None, False)
    config.exit_timeout_millis = 300
    try:
        run = run_app(provider, N)
        assert entered.wait(10)
        time.sleep(0.1)
        assert exporter.stats.spans_seen < N * (STEPS + 1)  # the rest is queued behind the stuck worker
        # Some spans may still be queued in the batch processor, behind the stuck worker: the
        # processor's own shutdown would drop them after waiting 30 s. The configuration's does not.
        t0 = time.perf_counter()
        config.shutdown()
        elapsed = time.perf_counter() - t0
        run.check_untouched(N)
        assert elapsed < 5
        assert sorted(ids(got)) == sorted(run.produced)  # the working sink got every one
        assert sorted(dead_letter_ids(dead)) == sorted(run.produced)  # and the dead-letter file the blocked one's
        assert exporter.stats.dead_lettered == N
        assert any("an export is stuck" in r.getMessage() for r in caplog.records)
    finally:
        gate.set()
        provider.shutdown()
    assert len(got) == N  # the stuck round, once released, does not deliver its taken-over work again


@pytest.mark.anyio
async def test_flush_inside_the_event_loop_still_feeds_a_stream_sink() -> None:
    """The bounded flush runs in a helper thread, except in an event loop's own thread: a stream
    sink must be fed by its loop, which a waiting flush would block."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from trajectories.export import StreamSink

    sink = StreamSink(max_buffer_size=1)
    exporter = TrajectoryExporter([sink])
    provider = TracerProvider()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    config = Configuration(exporter, provider, processor, None, False)
    run = run_app(provider, 2)  # the second finds the stream full: a failure, queued for retry
    assert exporter.stats.retries_pending == 1
    first = await sink.receive()
    t0 = time.perf_counter()
    assert config.flush(timeout_millis=5_000)  # the retry is sent from this thread, to this loop
    assert time.perf_counter() - t0 < 1
    second = await sink.receive()
    assert sorted(ids([first, second])) == sorted(run.produced)
    exporter.shutdown()
