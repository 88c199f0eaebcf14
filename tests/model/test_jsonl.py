"""JSON lines: one trajectory per line, streamed in constant memory, errors by line number."""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.serde import golden_files, simple_trajectory
from trajectories.model import JSONFormatError, Trajectory, iter_jsonl_lines, read_jsonl, write_jsonl


def _golden() -> list[Trajectory]:
    return [Trajectory.from_json(p.read_text(encoding="utf-8")) for p in golden_files()]


def test_write_then_read_a_path(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    trajectories = _golden()
    assert write_jsonl(path, trajectories) == 12
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # every line ends with a newline
    assert len(lines) == 13
    assert all("\n" not in line and ": " not in line.replace('": "', "") for line in lines)  # compact
    assert json.loads(lines[0])["id"] == int(trajectories[0].id)
    assert list(read_jsonl(path)) == trajectories
    assert list(read_jsonl(str(path))) == trajectories


def test_write_truncates_unless_append(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    one = simple_trajectory()
    write_jsonl(path, [one, one])
    write_jsonl(path, [one])
    assert len(list(read_jsonl(path))) == 1
    assert write_jsonl(path, iter([one, one]), append=True) == 2
    assert len(list(read_jsonl(path))) == 3


def test_open_text_files_are_used_and_left_open() -> None:
    buf = io.StringIO()
    t = simple_trajectory(lessons=["日本語"])
    assert write_jsonl(buf, [t, t]) == 2
    assert not buf.closed
    buf.seek(0)
    assert list(read_jsonl(buf)) == [t, t]
    assert not buf.closed


def test_blank_lines_are_ignored_and_line_numbers_count_them() -> None:
    t = simple_trajectory()
    text = f"\n{t.to_json()}\n   \n{{}}\n\n{t.to_json()}\n"
    items = list(iter_jsonl_lines(io.StringIO(text)))
    assert [n for n, _ in items] == [2, 4, 6]
    assert items[0][1] == t
    err = items[1][1]
    assert isinstance(err, JSONFormatError)
    assert str(err) == "line 4: missing field `id`"
    assert err.line == 4
    assert err.reason == "missing field `id`"
    assert err.path == ""
    assert items[2][1] == t


def test_read_raises_the_first_bad_line_with_its_number() -> None:
    good = simple_trajectory().to_json()
    bad = json.loads(good)
    bad["steps"][1]["confidence"] = "high"
    text = "\n".join([good, good, good, good, good, good, json.dumps(bad), good]) + "\n"
    reader = read_jsonl(io.StringIO(text))
    assert len([next(reader) for _ in range(6)]) == 6
    with pytest.raises(
        JSONFormatError, match=r'^line 7: invalid type: expected f32, got string "high" at steps\[1\]\.confidence$'
    ):
        next(reader)


def test_read_skip_logs_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    good = simple_trajectory().to_json()
    text = f"{good}\nnot json\n{good}\n"
    with caplog.at_level(logging.WARNING, logger="trajectories.jsonl"):
        got = list(read_jsonl(io.StringIO(text), errors="skip"))
    assert len(got) == 2
    assert "line 2: invalid JSON" in caplog.text


def test_bad_arguments_fail_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"errors must be 'raise' or 'skip', got 'ignore'"):
        read_jsonl(io.StringIO(), errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"src must be a path or an open text file, got int"):
        read_jsonl(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"src must be a path or an open text file"):
        iter_jsonl_lines(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"dest must be a path or an open text file"):
        write_jsonl(3.5, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"trajectories must be an iterable of Trajectory, got Trajectory"):
        write_jsonl(io.StringIO(), simple_trajectory())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"trajectories\[1\] must be a Trajectory, got dict"):
        write_jsonl(io.StringIO(), [simple_trajectory(), {}])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"append must be a bool"):
        write_jsonl(io.StringIO(), [], append="yes")  # type: ignore[arg-type]


def test_a_missing_file_fails_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        read_jsonl(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError):
        iter_jsonl_lines(str(tmp_path / "missing.jsonl"))


def _open_fds() -> int:
    return len(os.listdir("/dev/fd"))  # Linux and macOS


def test_closing_the_reader_early_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, [simple_trajectory()] * 3)
    before = _open_fds()
    reader = read_jsonl(path)
    next(reader)
    assert _open_fds() == before + 1  # the file is open while the reader is suspended
    reader.close()
    assert _open_fds() == before  # closing the generator closed it
    list(read_jsonl(path))
    assert _open_fds() == before  # and reading to the end closes it too


LINES = 2_500


def test_reading_and_writing_many_lines_takes_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    t = simple_trajectory(n_steps=1, query_embedding=[0.25] * 16, lessons=["x" * 5_000])

    def many() -> Iterator[Trajectory]:
        return itertools.repeat(t, LINES)

    tracemalloc.start()
    try:
        assert write_jsonl(path, many()) == LINES
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        count = 0
        for got in read_jsonl(path):
            count += 1
            last = got
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert count == LINES
    assert last == t
    assert size > 10_000_000  # the whole file in memory would show in the peaks below
    assert write_peak < 500_000, write_peak
    assert read_peak < 500_000, read_peak
    print(f"{LINES} lines, {size} bytes: peak {write_peak} B writing, {read_peak} B reading")


def test_a_line_that_is_not_utf8_is_an_error_of_that_line_only(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = simple_trajectory().to_json().encode("utf-8")
    path.write_bytes(good + b"\n" + b'{"id": "\xff\xfe"}\n' + good + b"\r\n")
    items = list(iter_jsonl_lines(path))
    assert [n for n, _ in items] == [1, 2, 3]
    err = items[1][1]
    assert isinstance(err, JSONFormatError)
    assert str(err).startswith("line 2: invalid JSON: not valid UTF-8")
    assert items[2][1] == items[0][1]  # a CRLF line ending reads too


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(JSONFormatError, match="nested too deeply"):
        Trajectory.from_json(text)
    items = list(iter_jsonl_lines(io.StringIO(text + "\n")))
    assert isinstance(items[0][1], JSONFormatError)
