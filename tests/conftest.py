"""Shared fixtures. Async tests run under asyncio and trio via anyio's own pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import step, trajectory


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A real SDK provider exporting synchronously to memory; pass it as ``tracer_provider=``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def search_spans(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> list[Any]:
    """The finished spans of one valid trajectory with one tool step: a request body the receiver accepts."""

    @step(tool="search")
    def search(q: str) -> str:
        return q

    with trajectory("agent", query="q", tracer_provider=tracer_provider):
        search("x")
    return list(span_exporter.get_finished_spans())


@pytest.fixture(autouse=True)
def _isolated_database(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """``configure()`` and the CLI default to ``$TRAJECTORIES_DB``: never let a test touch ./trajectories.db."""
    monkeypatch.setenv("TRAJECTORIES_DB", str(tmp_path_factory.mktemp("db") / "trajectories.db"))


_GUARDED = ("trajectories.db", "trajectories-deadletter.jsonl")


def _snapshot(directory: Path) -> dict[str, float | None]:
    return {name: (directory / name).stat().st_mtime if (directory / name).exists() else None for name in _GUARDED}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_CWD_KEY] = (Path.cwd(), _snapshot(Path.cwd()), _snapshot(Path.home()))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test may write into the working directory or home: the default database and dead-letter
    file there must be exactly as they were (a subprocess that calls configure() with the default
    store once left an ``at-exit`` trajectory in ./trajectories.db)."""
    cwd, before_cwd, before_home = session.config.stash[_CWD_KEY]
    after = (_snapshot(cwd), _snapshot(Path.home()))
    if after != (before_cwd, before_home):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nERROR: tests wrote {list(_GUARDED)} in {cwd} or {Path.home()}: {before_cwd, before_home} -> {after}")


_CWD_KEY = pytest.StashKey[tuple[Path, dict[str, float | None], dict[str, float | None]]]()
