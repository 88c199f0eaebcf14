"""Argument checks shared by the model and the recording API.

Every check raises at the call that received the bad value, naming the field and the
value, so that a user sees their own mistake and not a failure deep inside the SDK.
"""

from __future__ import annotations

import math
import uuid as uuid_mod
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

Embedding = npt.NDArray[np.float32]


def shown(value: object, limit: int = 200) -> str:
    """``repr(value)`` for an error message: at most *limit* characters, and never raising.

    A bad argument must fail with the TypeError/ValueError that names it, not with whatever
    its ``__repr__`` raises, nor with a message the size of a 100 MB string.
    """
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"
    if not isinstance(text, str):
        return f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[:limit] + "…"


#: f32's results by value. Confidences and scores repeat (an agent's few confidence levels, the
#: qualities of short trajectories), and the decimal costs a numpy scalar and its str each time.
#: The result depends on the value alone (equal numbers, of any type, hash alike), so a hit is
#: exact; cleared when full, so it stays small whatever the values.
F32_MEMO: dict[float, float] = {}
F32_MEMO_LIMIT = 4096


def f32(value: float) -> float:
    """Round *value* to float32 and return the shortest decimal that reads back to it.

    ruvllm keeps scores in ``f32`` and serde writes the shortest text that reads back to
    the same ``f32``; storing that decimal makes our JSON match serde's digits exactly.
    """
    if value == 1.0 or value == 0.0:  # exact in float32, and the commonest confidences and scores
        return float(value)
    memo = F32_MEMO
    result = memo.get(value)
    if result is not None:
        return result
    if -3.4e38 < value < 3.4e38:  # the common case, without errstate's cost
        result = float(str(np.float32(value)))
    else:
        with np.errstate(over="ignore"):  # beyond float32's range: infinity, without a warning
            result = float(str(np.float32(value)))
    if len(memo) >= F32_MEMO_LIMIT:
        memo.clear()
    memo[value] = result
    return result


def check_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, got {type(value).__name__}: {shown(value)}")
    return value


def check_opt_str(field: str, value: object) -> str | None:
    return None if value is None else check_str(field, value)


U64_MAX = (1 << 64) - 1


def check_int(field: str, value: object, *, minimum: int = 0, maximum: int = U64_MAX) -> int:
    """An int (not a bool) in [minimum, maximum]: by default what a Rust u64 can hold."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}: {shown(value)}")
    if value < minimum:
        raise ValueError(f"{field} must be >= {minimum}, got {shown(value)}")
    if value > maximum:
        what = " (it is an unsigned 64-bit integer)" if maximum == U64_MAX else ""
        raise ValueError(f"{field} must be <= {maximum}{what}, got {shown(value)}")
    return value


def check_opt_int(field: str, value: object) -> int | None:
    return None if value is None else check_int(field, value)


def check_float(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{field} must be a number, got {type(value).__name__}: {shown(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{field} must be finite, got {shown(result)}")
    return result


def check_f32(field: str, value: object) -> float:
    """A finite number that stays finite as float32 (1e39 would become infinity)."""
    result = f32(check_float(field, value))
    if not math.isfinite(result):
        raise ValueError(f"{field} must fit a float32, got {shown(value)}")
    return result


def check_unit(field: str, value: object) -> float:
    """A number in [0, 1]: confidences. Out of range is an error, not clamped."""
    result = check_float(field, value)
    if not 0.0 <= result <= 1.0:
        raise ValueError(f"{field} must be within [0, 1], got {shown(result)}")
    return f32(result)


def clamp_unit(field: str, value: object) -> float:
    """A number clamped to [0, 1]: ratios and qualities, as ruvllm's constructors do."""
    return f32(min(1.0, max(0.0, check_float(field, value))))


def check_str_seq(field: str, values: object) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{field} must be a sequence of str, got {type(values).__name__}: {shown(values)}")
    out = tuple(values)
    for i, item in enumerate(out):
        check_str(f"{field}[{i}]", item)
    return out


def check_str_map(field: str, values: object) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise TypeError(f"{field} must be a mapping of str to str, got {type(values).__name__}: {shown(values)}")
    out: dict[str, str] = {}
    for key, item in values.items():
        check_str(f"{field} key", key)
        out[key] = check_str(f"{field}[{shown(key)}]", item)
    return out


def check_embedding(field: str, value: Any) -> Embedding:
    """A one-dimensional, finite vector, returned as a read-only float32 array."""
    if (
        type(value) is np.ndarray
        and value.size == 0
        and value.ndim == 1
        and value.dtype == np.float32
        and not value.flags.writeable
    ):
        return value  # the empty embedding every trajectory without one carries: already what we return
    if type(value) is np.ndarray and value.ndim == 1 and value.dtype == np.float32 and value.size:
        # A float32 vector already (a query, an embedder's output): only its values to check.
        if not np.isfinite(value).all():
            raise ValueError(f"{field} must be finite, got non-finite values at {_non_finite(value)}")
        arr: Embedding = value.copy()
        arr.flags.writeable = False
        return arr
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{field} must be a sequence of numbers, got {type(value).__name__}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise TypeError(f"{field} must be a sequence of numbers: {exc}") from None
    if raw.dtype.kind not in "fiu":  # numpy would quietly turn "1.5" or True into a number
        raise TypeError(f"{field} must be a sequence of numbers, got elements of type {raw.dtype}")
    with np.errstate(over="ignore"):  # too large for float32: infinity, refused below
        arr = raw.astype(np.float32, copy=False)
    if arr.ndim != 1:
        raise ValueError(f"{field} must be one-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{field} must be finite, got non-finite values at {_non_finite(arr)}")
    if arr is value or arr.base is not None:
        arr = arr.copy()
    arr.flags.writeable = False
    return arr


def _non_finite(arr: npt.NDArray[Any]) -> list[int]:
    """The first five positions of non-finite values, for the error message."""
    positions: list[int] = np.flatnonzero(~np.isfinite(arr)).tolist()[:5]
    return positions


def check_opt_embedding(field: str, value: Any) -> Embedding | None:
    return None if value is None else check_embedding(field, value)


def embeddings_equal(a: Embedding | None, b: Embedding | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b))


def check_opt_number(field: str, value: object) -> float | None:
    """None, or a number that is not NaN (infinities allowed: a bound such as ``min_quality``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{field} must be a number, got {type(value).__name__}: {shown(value)}")
    if math.isnan(value):
        raise ValueError(f"{field} must not be NaN")
    return float(value)


def check_opt_time(field: str, value: object) -> datetime | None:
    """None, or a timezone-aware datetime, returned in UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime, got {type(value).__name__}: {shown(value)}")
    if value.tzinfo is None:
        raise ValueError(f"{field} must be timezone-aware, got naive {shown(value)}")
    return value.astimezone(timezone.utc)


def check_positive(field: str, value: object) -> float:
    """A number > 0 (a timeout, an age, in seconds)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{field} must be a positive number, got {shown(value)}")
    return float(value)


I64_MAX = (1 << 63) - 1


def check_count(field: str, value: object) -> int:
    """A non-negative int that a signed 64-bit database integer holds (a limit, an offset, k)."""
    return check_int(field, value, maximum=I64_MAX)


def check_id(field: str, value: object) -> int:
    """A trajectory id: an int in the unsigned 64-bit range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int trajectory id, got {type(value).__name__}: {shown(value)}")
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"{field} must be an unsigned 64-bit trajectory id, got {shown(value)}")
    return value


def check_uuid(field: str, value: object) -> uuid_mod.UUID:
    """A ``uuid.UUID``, or its text form."""
    if isinstance(value, str):
        try:
            return uuid_mod.UUID(value)
        except ValueError:
            raise ValueError(f"{field} must be a UUID, got {shown(value)}") from None
    if not isinstance(value, uuid_mod.UUID):
        raise TypeError(f"{field} must be a uuid.UUID or str, got {type(value).__name__}: {shown(value)}")
    return value
