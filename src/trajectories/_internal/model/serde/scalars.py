"""Reading the leaves of serde JSON: strings, integers, f32, embeddings, times, uuids,
structs and externally tagged enums, each failing with serde's words and the value's path.
"""

from __future__ import annotations

import json
import math
import re
import uuid as uuid_mod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import numpy as np

from ...exceptions import JSONFormatError
from ...exceptions import join_path as _join
from ...validate import Embedding, f32

__all__ = [
    "NO_OPTIONAL",
    "Struct",
    "describe",
    "invalid_type",
    "parse_time",
    "read_embedding",
    "read_f32",
    "read_opt_embedding",
    "read_opt_str",
    "read_opt_uint",
    "read_seq",
    "read_str",
    "read_str_list",
    "read_str_map",
    "read_time",
    "read_uint",
    "read_uuid",
    "variant",
]

T = TypeVar("T")
_U64 = 1 << 64
_U32 = 1 << 32
_NUMBER_TYPES = frozenset({float, int})


def describe(value: object) -> str:
    """What serde calls the JSON value it found (``string "x"``, ``integer `5```, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, (list, tuple)):
        return "sequence"
    return type(value).__name__


def invalid_type(expected: str, value: object, path: str) -> JSONFormatError:
    return JSONFormatError(f"invalid type: expected {expected}, got {describe(value)}", path)


def read_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise invalid_type("a string", value, path)
    return value


def read_opt_str(value: object, path: str) -> str | None:
    return None if value is None else read_str(value, path)


def read_uint(value: object, path: str, rust: str = "u64") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(rust, value, path)
    if not 0 <= value < (_U32 if rust == "u32" else _U64):
        raise JSONFormatError(f"invalid value: integer `{value}`, expected {rust}", path)
    return int(value)


def read_opt_uint(value: object, path: str) -> int | None:
    return None if value is None else read_uint(value, path)


def read_f32(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_type("f32", value, path)
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or not math.isfinite(v := f32(v)):
        raise JSONFormatError(f"invalid value: {describe(value)}, expected a finite f32", path)
    return v


def read_seq(value: object, path: str, expected: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise invalid_type(expected, value, path)
    return value


def read_str_list(value: object, path: str) -> tuple[str, ...]:
    items = read_seq(value, path, "a sequence of strings")
    return tuple(read_str(item, f"{path}[{i}]") for i, item in enumerate(items))


def read_str_map(value: object, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise invalid_type("a map of strings", value, path)
    out: dict[str, str] = {}
    for key, item in value.items():
        out[read_str(key, path)] = read_str(item, f"{path}[{json.dumps(key, ensure_ascii=False)}]")
    return out


def read_embedding(value: object, path: str) -> Embedding:
    items = read_seq(value, path, "a sequence of f32")
    if not set(map(type, items)) <= _NUMBER_TYPES:  # one C-level pass; bools and strings fall through
        for i, x in enumerate(items):
            read_f32(x, f"{path}[{i}]")
    try:
        with np.errstate(over="ignore"):
            arr = np.asarray(items, dtype=np.float32)
    except OverflowError:  # an integer too large even for a double
        arr = np.full(len(items), np.inf, dtype=np.float32)
    if arr.ndim != 1:
        raise invalid_type("a sequence of f32", value, path)
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise JSONFormatError(f"invalid value: {describe(items[i])}, expected a finite f32", f"{path}[{i}]")
    arr.flags.writeable = False
    return arr


def read_opt_embedding(value: object, path: str) -> Embedding | None:
    return None if value is None else read_embedding(value, path)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_time(value: str) -> datetime:
    """An RFC 3339 time (``Z`` or an offset, any number of fractional digits) as aware UTC.

    Python keeps microseconds: digits beyond the sixth are truncated. Raises ValueError.
    """
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError("the form is YYYY-MM-DDTHH:MM:SS[.fraction] then Z or +HH:MM")
    year, month, day, hour, minute, second, frac, z, sign, oh, om = m.groups()
    micro = int((frac or "")[:6].ljust(6, "0"))
    if z:
        tz = timezone.utc
    else:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-offset if sign == "-" else offset)
    dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    return dt.astimezone(timezone.utc)


def read_time(value: object, path: str) -> datetime:
    text = read_str(value, path)
    try:
        return parse_time(text)
    except (ValueError, OverflowError) as exc:
        raise JSONFormatError(f"invalid value: {describe(text)}, expected an RFC 3339 date-time: {exc}", path) from None


def read_uuid(value: object, path: str) -> uuid_mod.UUID:
    text = read_str(value, path)
    try:
        return uuid_mod.UUID(text)
    except ValueError:
        raise JSONFormatError(f"invalid value: {describe(text)}, expected a UUID", path) from None


class Struct:
    """A JSON object being read as a Rust struct: field access with serde's errors."""

    __slots__ = ("data", "path")

    def __init__(self, value: object, path: str, name: str, fields: Sequence[str], optional: frozenset[str]) -> None:
        if not isinstance(value, Mapping):
            raise invalid_type(f"struct {name}", value, path)
        for field in fields:  # serde reports the first missing field in declaration order
            if field not in value and field not in optional:
                raise JSONFormatError(f"missing field `{field}`", path)
        self.data: Mapping[str, Any] = value
        self.path = path

    def get(self, field: str, reader: Callable[[Any, str], T]) -> T:
        return reader(self.data.get(field), _join(self.path, field))


def variant(value: object, path: str, enum: str, variants: Sequence[str], unit: Sequence[str] = ()) -> tuple[str, Any, str]:
    """Split an externally tagged enum value into (variant, content, content path).

    *variants* are all variant names in Rust declaration order (error messages list them
    in that order, as serde does); *unit* the ones without fields, written as bare strings.
    """
    expected = ", ".join(f"`{n}`" for n in variants)
    if isinstance(value, str):
        if value in unit:
            return value, None, path
        if value in variants:
            raise JSONFormatError(f"invalid type: unit variant `{value}`, expected a variant with fields ({enum})", path)
        raise JSONFormatError(f"unknown variant `{value}`, expected one of {expected}", path)
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise JSONFormatError(f"invalid type: map with {len(value)} entries, expected enum {enum} (a single key)", path)
        ((name, content),) = value.items()
        if name in unit:
            if content is None:
                return name, None, path
            raise JSONFormatError(f"invalid type: {describe(content)}, expected unit variant {enum}::{name}", _join(path, name))
        if name in variants:
            return name, content, _join(path, name)
        raise JSONFormatError(f"unknown variant `{name}`, expected one of {expected}", path)
    raise invalid_type(f"enum {enum}", value, path)


NO_OPTIONAL: frozenset[str] = frozenset()
