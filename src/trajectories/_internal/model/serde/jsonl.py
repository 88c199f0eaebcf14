"""JSON lines of trajectories: one compact ruvllm-serde JSON object per line, streamed.

Reading and writing go one line at a time, so a file of a million trajectories costs the
memory of one: the readers are generators over the file's lines, and the writer consumes
any iterable (a generator included) without collecting it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Literal

from ...exceptions import JSONFormatError
from ...validate import shown
from ..trajectory import Trajectory
from .read import loads

__all__ = ["iter_jsonl_lines", "read_jsonl", "write_jsonl"]

_log = logging.getLogger(__name__)

PathOrFile = str | os.PathLike[str] | IO[str]


@contextmanager
def _opened_for_writing(target: object, mode: str) -> Iterator[IO[str]]:
    if isinstance(target, (str, os.PathLike)):
        with open(target, mode, encoding="utf-8", newline="\n") as f:
            yield f
    elif hasattr(target, "write"):
        yield target  # type: ignore[misc]  # a caller's open text file: theirs to close
    else:
        raise TypeError(f"dest must be a path or an open text file, got {type(target).__name__}: {shown(target)}")


def write_jsonl(dest: PathOrFile, trajectories: Iterable[Trajectory], *, append: bool = False) -> int:
    """Write *trajectories* to *dest* (a path, or a text file left open), one JSON per line.

    A path is truncated first unless ``append=True``. Returns how many were written. A
    value that is not a Trajectory is a TypeError naming its position; one that cannot be
    written (NaN) a JSONFormatError: the lines before it are already written.
    """
    if not isinstance(append, bool):
        raise TypeError(f"append must be a bool, got {type(append).__name__}: {shown(append)}")
    if isinstance(trajectories, (str, bytes, Trajectory)) or not isinstance(trajectories, Iterable):
        raise TypeError(f"trajectories must be an iterable of Trajectory, got {type(trajectories).__name__}")
    count = 0
    with _opened_for_writing(dest, "a" if append else "w") as f:
        for i, t in enumerate(trajectories):
            if not isinstance(t, Trajectory):
                raise TypeError(f"trajectories[{i}] must be a Trajectory, got {type(t).__name__}: {shown(t)}")
            f.write(t.to_json())
            f.write("\n")
            count += 1
    return count


def iter_jsonl_lines(src: PathOrFile) -> Generator[tuple[int, Trajectory | JSONFormatError], None, None]:
    """Yield ``(line_number, trajectory or error)`` for each non-blank line of *src*.

    For callers that report bad lines and carry on (an import command): an invalid line
    yields its :class:`JSONFormatError` (message prefixed ``line N: ``) instead of raising.
    Line numbers start at 1 and count blank lines too, as an editor does.
    """
    _check_source(src)
    return _iter_lines(src)


def _check_source(src: object) -> None:
    """Fail at the call, not at the first ``next()``: the readers are lazy generators."""
    if isinstance(src, (str, os.PathLike)):
        os.stat(src)  # a missing file is FileNotFoundError now; the file itself is opened on first next()
    elif not hasattr(src, "readline"):
        raise TypeError(f"src must be a path or an open text file, got {type(src).__name__}: {shown(src)}")


def _iter_lines(src: PathOrFile) -> Generator[tuple[int, Trajectory | JSONFormatError], None, None]:
    if isinstance(src, (str, os.PathLike)):
        # Bytes, decoded line by line: a bad UTF-8 sequence is then an error of its line,
        # not an exception that ends the whole read.
        with open(src, "rb") as f:
            yield from _parse_lines(f)
    else:
        yield from _parse_lines(src)


def _parse_lines(lines: Iterable[str | bytes]) -> Generator[tuple[int, Trajectory | JSONFormatError], None, None]:
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield line_no, loads(Trajectory, line)
        except JSONFormatError as exc:
            yield line_no, exc.with_line(line_no)


def read_jsonl(src: PathOrFile, *, errors: Literal["raise", "skip"] = "raise") -> Generator[Trajectory, None, None]:
    """Stream the trajectories in a JSON-lines file (a path, or a text file left open).

    ``errors="raise"`` (the default) raises the first bad line's JSONFormatError, its
    message starting ``line N: ``; ``errors="skip"`` logs a warning for each bad line and
    goes on. Blank lines are ignored.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {shown(errors)}")
    _check_source(src)
    return _read(src, errors)


def _read(src: PathOrFile, errors: str) -> Generator[Trajectory, None, None]:
    for _, item in _iter_lines(src):
        if isinstance(item, JSONFormatError):
            if errors == "raise":
                raise item
            _log.warning("skipping invalid trajectory: %s", item)
            continue
        yield item
