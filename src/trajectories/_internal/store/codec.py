"""Row encoding shared by the store backends: ruvllm JSON text, float32 BLOBs, times, ids."""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ... import attributes
from ..exceptions import CorruptTrajectoryError
from ..model import serde
from ..model.constants import EPOCH
from ..model.trajectory import Trajectory

__all__ = [
    "decode_row",
    "read_json_rows",
    "blob_to_embedding",
    "decode_json",
    "embedding_to_blob",
    "encode_json",
    "from_db_id",
    "from_micros",
    "to_db_id",
    "to_micros",
    "trajectory_name",
]

_logger = logging.getLogger(__name__)

_I63 = 1 << 63
_U64 = 1 << 64


def encode_json(trajectory: Trajectory) -> str:
    """The ruvllm serde JSON of *trajectory* (what ``export`` writes and Rust reads back)."""
    return serde.dumps(trajectory)


def decode_json(text: str | bytes) -> Trajectory:
    """Read a stored row back; raises ``JSONFormatError`` (a ValueError) when it is damaged."""
    return serde.loads(Trajectory, text)


def decode_row(db_id: int, text: str | bytes) -> Trajectory:
    """The trajectory stored in row *db_id*; :class:`CorruptTrajectoryError` when its JSON is damaged."""
    try:
        return decode_json(text)
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptTrajectoryError(f"stored trajectory traj-{from_db_id(db_id)} cannot be read: {exc}") from exc


def dumps_plain(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def embedding_to_blob(embedding: npt.NDArray[np.float32] | None) -> bytes:
    if embedding is None or embedding.size == 0:
        return b""
    return np.ascontiguousarray(embedding, dtype="<f4").tobytes()


def blob_to_embedding(blob: bytes | None, dim: int) -> npt.NDArray[np.float32]:
    """Decode a stored embedding; raises ValueError when the BLOB does not hold *dim* floats."""
    data = blob or b""
    if len(data) != 4 * dim:
        raise ValueError(f"embedding BLOB has {len(data)} bytes, expected {4 * dim} for dimension {dim}")
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def to_micros(value: datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def to_db_id(id: int) -> int:
    """SQLite integers are signed 64-bit: ids at or above 2^63 wrap to negative numbers."""
    return id - _U64 if id >= _I63 else id


def from_db_id(id: int) -> int:
    return id + _U64 if id < 0 else id


def trajectory_name(trajectory: Trajectory) -> str | None:
    """The trajectory's name: ``metadata.attributes["trajectory.name"]``, else its request type."""
    return trajectory.metadata.attributes.get(attributes.TRAJECTORY_NAME_ATTRIBUTE) or trajectory.metadata.request_type


_R = TypeVar("_R")


def read_json_rows(texts: Iterable[str], reader: Callable[[Any], _R], what: str) -> tuple[builtins.list[_R], int]:
    """Each row's JSON read by *reader* (``CompressedTrajectory.from_dict``, ...); a damaged row is
    skipped with a warning naming *what* it was. Returns the values and how many were skipped."""
    out: builtins.list[_R] = []
    skipped = 0
    for text in texts:
        try:
            out.append(reader(json.loads(text)))
        except (ValueError, TypeError, KeyError) as exc:
            skipped += 1
            _logger.warning("skipping a damaged %s: %s", what, exc)
    return out, skipped
