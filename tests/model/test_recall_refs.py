"""The ``recalled`` attribute: encoding, decoding of untrusted text, and stable lesson ids."""

from __future__ import annotations

import json

import pytest

from trajectories._internal.model.recall import (
    RECALLED_ATTRIBUTE,
    RecalledMemory,
    decode_recalled,
    encode_recalled,
    lesson_id,
    recalled_of,
)


def test_round_trip_keeps_kind_id_similarity_and_lesson() -> None:
    items = [RecalledMemory("trajectory", 2**64 - 1, 0.91), RecalledMemory("lesson", lesson_id("Avoid: x"), 0.5, "Avoid: x")]
    assert decode_recalled(encode_recalled(items)) == tuple(items)


def test_each_memory_once_with_its_highest_similarity() -> None:
    text = encode_recalled(
        [RecalledMemory("trajectory", 7, 0.2), RecalledMemory("trajectory", 7, 0.8), RecalledMemory("lesson", 7, 0.1)]
    )
    assert [(m.kind, m.id, m.similarity) for m in decode_recalled(text)] == [("trajectory", 7, 0.8), ("lesson", 7, 0.1)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{}",
        '[-1, true, "x"]',
        '[{"kind": "bogus", "id": 1}]',
        '[{"id": -1}]',
        '[{"id": 1, "similarity": "x"}]',
        '[{"id": true}]',
    ],
)
def test_unreadable_values_and_items_are_left_out(text: str) -> None:
    assert decode_recalled(text) == ()


def test_mixed_list_keeps_the_readable_items_and_reads_traj_prefix() -> None:
    text = json.dumps([{"id": "traj-5", "similarity": 0.3}, "junk", {"kind": "lesson", "id": 9, "similarity": 1}, 12, "traj-13"])
    assert decode_recalled(text) == (
        RecalledMemory("trajectory", 5, 0.3),
        RecalledMemory("lesson", 9, 1.0),
        RecalledMemory("trajectory", 12, 0.0),
        RecalledMemory("trajectory", 13, 0.0),
    )
    assert recalled_of({RECALLED_ATTRIBUTE: text}) == decode_recalled(text)


def test_lesson_id_is_stable_63_bit_and_content_sensitive() -> None:
    a = lesson_id("Prefer the refund tool")
    assert a == lesson_id("Prefer the refund tool")
    assert 0 <= a < 2**63
    assert a != lesson_id("Prefer the refund tool.")
    with pytest.raises(TypeError, match="content"):
        lesson_id(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("other", 1, 0.1), ValueError, "kind"),
        (("lesson", 2**64, 0.1), ValueError, "id"),
        (("lesson", 1, float("nan")), ValueError, "similarity"),
        (("lesson", 1, "0.1"), TypeError, "similarity"),
    ],
)
def test_bad_references_are_refused_by_name(args: tuple[object, ...], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        RecalledMemory(*args)  # type: ignore[arg-type]
