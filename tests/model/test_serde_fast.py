"""The fast path for reading a whole trajectory against the exact reader.

``fast_trajectory`` must read every document our writer writes (else it saves nothing), and on
anything it reads must agree with ``exact_trajectory``: equal values of the same types, arrays
read-only float32. On a damaged document it must decline (None), so that the exact reader
reports the error in serde's words: ``from_dict`` gives the same value or the same error with
the fast path as without it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.serde import golden_files, simple_trajectory, trajectories
from trajectories._internal.model.serde import from_dict, to_dict
from trajectories._internal.model.serde import read as read_module
from trajectories._internal.model.serde.fast import fast_trajectory
from trajectories._internal.model.serde.read import exact_trajectory
from trajectories.model import JSONFormatError, Trajectory


class Text(str):
    """A str subclass: the exact reader keeps it, the fast path declines it."""


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Equal, and of the same types all the way down (a tuple is not a list, arrays alike)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype == np.float32, where
        assert a.shape == b.shape, where
        assert not a.flags.writeable, where
        assert not b.flags.writeable, where
        assert np.array_equal(a, b), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"
        if hasattr(a, "tzinfo"):
            assert a.tzinfo is b.tzinfo, where


@contextlib.contextmanager
def without_fast_path() -> Iterator[None]:
    saved = vars(read_module)["fast_trajectory"]
    setattr(read_module, "fast_trajectory", lambda value: None)  # noqa: B010 (not exported)
    try:
        yield
    finally:
        setattr(read_module, "fast_trajectory", saved)  # noqa: B010


def outcome_of(doc: Any) -> tuple[str, Any]:
    """from_dict's value or its error message."""
    try:
        return "value", from_dict(Trajectory, doc)
    except JSONFormatError as exc:
        return "error", (str(exc), exc.path)


@settings(max_examples=200, deadline=None)
@given(trajectories())
def test_every_document_the_writer_writes_takes_the_fast_path(t: Trajectory) -> None:
    doc = json.loads(json.dumps(to_dict(t)))
    fast = fast_trajectory(doc)
    assert fast is not None
    assert_same(fast, exact_trajectory(doc))
    assert fast == t


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_rust_written_golden_files_take_the_fast_path(path: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    fast = fast_trajectory(doc)
    assert fast is not None
    assert_same(fast, exact_trajectory(doc))


_ODD_VALUES = [
    None,
    True,
    -1,
    0,
    1 << 64,
    1.5,
    1e39,
    "x",
    Text("x"),
    Text("Success"),
    "",
    [],
    ["a", 1],
    {},
    {"a": 1},
    "Success",
    {"Failure": {"error": "e"}},
    {"Success": None},
    "2026-01-01T00:00:00+05:30",
    "2026-01-01t00:00:00.5z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00.123456789Z",
    "not-a-uuid",
    "{a594db16-c5a1-49e4-a286-3a2924ff7f3b}",
    [1.0, 2.0],
    [1e39],
    [True],
]
_DELETE = object()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the document a value sits (keys of dicts, indexes of lists)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):  # embeddings are long: their first few places do
            yield (*prefix, i)
            yield from _paths(item, (*prefix, i))


def _damaged(doc: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if replacement is _DELETE:
        if isinstance(parent, dict):
            del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(replacement)
    return doc


def _check_agreement(doc: Any) -> str:
    with without_fast_path():
        expected = outcome_of(copy.deepcopy(doc))
    fast = fast_trajectory(copy.deepcopy(doc))
    if expected[0] == "error":
        assert fast is None, f"the fast path read a document the exact reader refuses: {expected[1]}"
    elif fast is not None:
        assert_same(fast, expected[1])
    got = outcome_of(doc)
    assert got[0] == expected[0]
    if got[0] == "error":
        assert got[1] == expected[1]
    else:
        assert_same(got[1], expected[1])
    return expected[0]


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_every_damage_at_every_place_gives_what_the_exact_reader_gives(path: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    seen = set()
    for place in _paths(doc):
        for replacement in [*_ODD_VALUES, _DELETE]:
            seen.add(_check_agreement(_damaged(doc, place, replacement)))
    assert seen == {"value", "error"}  # both kinds happened


@settings(max_examples=200, deadline=None)
@given(trajectories(), st.data())
def test_on_doubly_damaged_documents_the_fast_path_agrees_or_declines(t: Trajectory, data: st.DataObject) -> None:
    doc = json.loads(json.dumps(to_dict(t)))
    for _ in range(2):
        paths = list(_paths(doc))
        if not paths:
            break
        doc = _damaged(doc, data.draw(st.sampled_from(paths)), data.draw(st.sampled_from([*_ODD_VALUES, _DELETE])))
    _check_agreement(doc)


def test_times_with_an_offset_are_read_exactly_and_str_subclasses_by_the_exact_reader() -> None:
    doc = json.loads(json.dumps(to_dict(simple_trajectory())))
    doc["started_at"] = "2026-01-01T05:30:00+05:30"  # not the writer's form: parse_time reads it
    fast = fast_trajectory(doc)
    assert fast is not None
    assert fast.started_at.isoformat() == "2026-01-01T00:00:00+00:00"
    doc["steps"][0]["action"] = Text("act")  # a str subclass, as a caller's own dict may hold
    assert fast_trajectory(doc) is None
    t = from_dict(Trajectory, doc)
    assert type(t.steps[0].action) is Text
    assert t.steps[0].action == "act"


def test_scores_f32_has_seen_read_the_same_and_one_beyond_float32_is_still_refused() -> None:
    from trajectories._internal.validate import F32_MEMO, f32

    doc = json.loads(json.dumps(to_dict(simple_trajectory())))
    F32_MEMO.clear()
    fresh = fast_trajectory(copy.deepcopy(doc))  # f32 computes the decimals, and remembers them
    assert fresh is not None
    assert F32_MEMO
    _check_agreement(doc)  # read again from the memo: the same values as the exact reader's
    assert f32(1e39) == float("inf")  # now remembered: 1e39 -> inf
    doc["quality"] = 1e39
    assert fast_trajectory(doc) is None
    with pytest.raises(JSONFormatError, match="expected a finite f32"):
        from_dict(Trajectory, doc)
