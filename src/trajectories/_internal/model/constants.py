"""Constants and time conversions that the model, the instrumentation and the assembly share."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final

import numpy as np

from ..validate import Embedding

__all__ = [
    "EMPTY_EMBEDDING",
    "EPOCH",
    "ID_MASK",
    "MAX_NS",
    "U32_MAX",
    "U64_MAX",
    "elapsed_ms",
    "ns_to_datetime",
]

#: 1970-01-01T00:00:00Z: span times are nanoseconds since then.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: A trajectory id is a span id with its top bit cleared, so it fits OTLP's signed 64-bit integers.
ID_MASK: Final = (1 << 63) - 1
U64_MAX: Final = (1 << 64) - 1
U32_MAX: Final = (1 << 32) - 1
#: The latest time a datetime can hold (9999-12-31), in epoch ns: times from untrusted input are clamped to it.
MAX_NS: Final = (datetime(9999, 12, 31, tzinfo=timezone.utc) - EPOCH) // timedelta(microseconds=1) * 1000

#: The query embedding of a trajectory without one: empty and read-only, shared.
EMPTY_EMBEDDING: Embedding = np.zeros(0, dtype=np.float32)
EMPTY_EMBEDDING.flags.writeable = False


def ns_to_datetime(ns: int) -> datetime:
    """Epoch nanoseconds as an aware UTC datetime (microsecond precision), in integer arithmetic.

    The instrumentation and the assembly both use it, so a span's start time becomes exactly the
    same datetime on either side. Times outside what a datetime holds (from a malformed payload)
    are clamped to 1970..9999.
    """
    if 0 <= ns <= MAX_NS:  # the common case: one comparison chain, a positional timedelta
        return EPOCH + timedelta(0, 0, ns // 1000)
    return EPOCH + timedelta(0, 0, min(max(ns, 0), MAX_NS) // 1000)


def elapsed_ms(start_ns: int, end_ns: int) -> int:
    """Whole milliseconds from *start_ns* to *end_ns*: never negative, at most a u64."""
    return min(U64_MAX, max(0, (end_ns - start_ns) // 1_000_000))
