"""Sinks: callback, list, anyio stream (asyncio and trio), JSON lines; failing sinks and dead letters."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import anyio
import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from trajectories._internal.model.serde.jsonl import read_jsonl
from trajectories.export import CallbackSink, JsonlSink, ListSink, StreamSink, TrajectoryExporter
from trajectories.instrument import TrajectoryHandle, step, trajectory
from trajectories.model import Trajectory


def provider_with(processor: SpanProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def agent(provider: TracerProvider, name: str = "agent") -> TrajectoryHandle:
    with trajectory(name, tracer_provider=provider) as t:
        with step("one"):
            pass
        with step("two") as s:
            s.partial("some", "rest")
    return t


def result(handle: TrajectoryHandle) -> Trajectory:
    assert handle.result is not None
    return handle.result


class Flaky:
    """Fails the first *failures* sends, then works."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.got: list[Trajectory] = []

    def send(self, trajectory: Trajectory) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"down ({self.calls})")
        self.got.append(trajectory)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_callback_and_list_sinks_get_every_trajectory(tmp_path: Path) -> None:
    seen: list[Trajectory] = []
    lst = ListSink()
    exporter = TrajectoryExporter([seen.append, CallbackSink(seen.append, name="second"), lst], dead_letter_path=tmp_path / "d")
    provider = provider_with(SimpleSpanProcessor(exporter))
    handles = [agent(provider, f"a{i}") for i in range(3)]
    assert seen == [result(h) for h in handles for _ in range(2)]
    assert list(lst) == [result(h) for h in handles]
    assert len(lst) == 3
    assert lst[0] == result(handles[0])
    lst.clear()
    assert len(lst) == 0


def test_jsonl_sink_writes_ruvllm_json_lines_that_read_back(tmp_path: Path) -> None:
    path = tmp_path / "out" / "t.jsonl"
    path.parent.mkdir()
    exporter = TrajectoryExporter([JsonlSink(path)], dead_letter_path=tmp_path / "d")
    provider = provider_with(SimpleSpanProcessor(exporter))
    handles = [agent(provider, f"a{i}") for i in range(3)]
    assert list(read_jsonl(path)) == [result(h) for h in handles]  # flushed after every delivery
    exporter.shutdown()
    assert len(path.read_text().splitlines()) == 3
    with pytest.raises(TypeError, match="path"):
        JsonlSink(3)  # type: ignore[arg-type]


def test_a_failing_sink_stops_neither_others_nor_the_app_and_ends_in_the_dead_letter_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(t: Trajectory) -> None:
        raise RuntimeError("sink down")

    lst = ListSink()
    dead = tmp_path / "dead.jsonl"
    exporter = TrajectoryExporter([broken, lst], dead_letter_path=dead, retry_attempts=3)
    provider = provider_with(SimpleSpanProcessor(exporter))
    with caplog.at_level(logging.WARNING, logger="trajectories"):
        first = agent(provider, "first")
        with pytest.raises(KeyError) as raised, trajectory("user error", tracer_provider=provider):
            raise KeyError("mine")  # the user's exception is untouched by the sink's
    assert raised.value.args == ("mine",)
    assert [t.id for t in lst] == [result(first).id, lst[1].id]
    stats = exporter.stats
    assert stats.sink_failures == 2 + 1  # two sends, then one retry of the first during the second export
    assert stats.retries_pending == 2
    assert not dead.exists()
    exporter.force_flush()  # third attempt for the first: dead-lettered; second attempt for the other
    assert list(read_jsonl(dead)) == [result(first)]
    exporter.shutdown()  # the last one gets its final try, then the dead-letter file
    assert [t.id for t in read_jsonl(dead)] == [result(first).id, lst[1].id]
    stats = exporter.stats
    assert stats.dead_lettered == 2
    assert stats.retries_pending == 0
    assert stats.sink_failures_by_sink == {
        "callback:test_a_failing_sink_stops_neither_others_nor_the_app_and_ends_in_the_dead_letter_file.<locals>.broken": 6,
        "list": 0,
    }
    assert "sink down" in caplog.text
    assert "dead-letter" in caplog.text


def test_a_flaky_sink_gets_the_trajectory_on_retry(tmp_path: Path) -> None:
    flaky = Flaky(failures=1)
    exporter = TrajectoryExporter([flaky], dead_letter_path=tmp_path / "dead.jsonl")
    provider = provider_with(SimpleSpanProcessor(exporter))
    handle = agent(provider)
    assert flaky.got == []
    assert exporter.force_flush()
    assert flaky.got == [result(handle)]
    assert exporter.stats.sink_failures_by_sink == {"flaky": 1}
    assert exporter.stats.dead_lettered == 0
    exporter.shutdown()
    assert not (tmp_path / "dead.jsonl").exists()


def test_an_unwritable_dead_letter_file_is_logged_at_error_with_the_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = TrajectoryExporter([Flaky(failures=100)], dead_letter_path=tmp_path, retry_attempts=1)  # a directory
    provider = provider_with(SimpleSpanProcessor(exporter))
    with caplog.at_level(logging.ERROR, logger="trajectories"):
        agent(provider)
        agent(provider)
    assert exporter.stats.dead_letter_failures == 2
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and "LOST 1 trajectories" in r.getMessage()]


@pytest.mark.anyio
async def test_stream_sink_in_the_event_loop_thread() -> None:
    sink = StreamSink()
    exporter = TrajectoryExporter([sink])
    provider = provider_with(SimpleSpanProcessor(exporter))
    handles = [agent(provider, f"a{i}") for i in range(3)]
    got = [await sink.receive() for _ in range(3)]
    assert got == [result(h) for h in handles]
    exporter.shutdown()
    assert [t async for t in sink] == []  # closed: the consumer's loop ends


@pytest.mark.anyio
async def test_stream_sink_fed_from_a_batch_processor_thread() -> None:
    sink = StreamSink(max_buffer_size=100)
    exporter = TrajectoryExporter([sink])
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    provider = provider_with(processor)
    handles = [agent(provider, f"a{i}") for i in range(5)]
    got: list[Trajectory] = []

    async def consume() -> None:
        async for t in sink:
            got.append(t)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            flushed = await anyio.to_thread.run_sync(processor.force_flush)
            await anyio.to_thread.run_sync(provider.shutdown)  # closes the stream from the worker thread
    assert flushed
    assert got == [result(h) for h in handles]
    assert exporter.stats.sink_failures == 0


@pytest.mark.anyio
async def test_a_full_stream_is_a_failure_retried_once_the_consumer_catches_up(tmp_path: Path) -> None:
    sink = StreamSink(max_buffer_size=1)
    exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "d.jsonl")
    provider = provider_with(SimpleSpanProcessor(exporter))
    handles = [agent(provider, f"a{i}") for i in range(2)]
    assert exporter.stats.sink_failures == 1
    assert await sink.receive() == result(handles[0])
    exporter.force_flush()
    assert await sink.receive() == result(handles[1])
    assert exporter.stats.dead_lettered == 0


def test_stream_sink_needs_an_event_loop() -> None:
    with pytest.raises(RuntimeError):
        StreamSink()


def test_sinks_are_called_outside_the_exporter_lock(tmp_path: Path) -> None:
    exporter: TrajectoryExporter
    stats_seen: list[int] = []

    def reads_stats(t: Trajectory) -> None:  # would deadlock if called under the lock
        done = threading.Event()

        def read() -> None:
            stats_seen.append(exporter.stats.spans_seen)
            done.set()

        threading.Thread(target=read).start()
        assert done.wait(5)

    exporter = TrajectoryExporter([reads_stats], dead_letter_path=tmp_path / "d")
    agent(provider_with(SimpleSpanProcessor(exporter)))
    assert stats_seen == [3]


class Batching:
    """A sink that takes batches (as the store does) and refuses any batch holding a poisoned name."""

    def __init__(self, poison: str | None = None) -> None:
        self.poison = poison
        self.batches: list[list[str]] = []
        self.singles: list[str] = []

    def _name(self, t: Trajectory) -> str:
        return t.metadata.attributes["trajectory.name"]

    def send_many(self, trajectories: list[Trajectory]) -> None:
        names = [self._name(t) for t in trajectories]
        if self.poison in names:
            raise OSError("disk says no")
        self.batches.append(names)

    def send(self, trajectory: Trajectory) -> None:
        if self._name(trajectory) == self.poison:
            raise OSError("disk says no")
        self.singles.append(self._name(trajectory))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _batch_of_four(exporter: TrajectoryExporter) -> None:
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    provider = provider_with(processor)
    for i in range(4):
        agent(provider, f"a{i}")
    provider.force_flush()
    provider.shutdown()


def test_a_batching_sink_gets_one_batch_per_delivery(tmp_path: Path) -> None:
    sink = Batching()
    exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "dead.jsonl")
    _batch_of_four(exporter)
    assert sink.batches == [["a0", "a1", "a2", "a3"]]
    assert sink.singles == []
    assert exporter.stats.sink_failures == 0


def test_a_failed_batch_falls_back_to_one_by_one_so_only_the_bad_one_fails(tmp_path: Path) -> None:
    sink = Batching(poison="a2")
    dead = tmp_path / "dead.jsonl"
    exporter = TrajectoryExporter([sink], dead_letter_path=dead, retry_attempts=1)
    _batch_of_four(exporter)
    assert sink.batches == []
    assert sink.singles == ["a0", "a1", "a3"]
    assert exporter.stats.sink_failures == 1
    assert [t.metadata.attributes["trajectory.name"] for t in read_jsonl(dead)] == ["a2"]
