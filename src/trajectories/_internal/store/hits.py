"""Decoding the rows a similarity search returns, the query embedding taken from its BLOB column.

A stored row holds its trajectory's query embedding twice: in the ruvllm JSON (a list of
float32 decimals, most of the text) and as the float32 BLOB the index is built from, both
written from the same array. Reading the JSON's list is most of the cost of decoding a hit, so
:func:`decode_hit` cuts that list out of the text before parsing it and takes the embedding
from the BLOB: the same float32 values (the decimals are the shortest that read back to them).
Anything unexpected (another layout, a BLOB that does not match ``dim``, a non-finite value)
falls back to decoding the whole JSON; a row whose JSON is damaged outside that list is reported
as ever. (Damage inside the list itself goes unseen: the BLOB, what the search ranked by, is used.)
"""

from __future__ import annotations

import sys

import numpy as np

from ..model.serde.read import fast_loads
from ..model.trajectory import Trajectory
from .codec import blob_to_embedding, decode_row

__all__ = ["decode_hit"]

_LITTLE_ENDIAN = sys.byteorder == "little"

#: How the JSON the store writes (compact separators) opens the trajectory's query embedding. A
#: string value cannot contain it (its quotes would be escaped), and no other list is so named.
_OPEN = '"query_embedding":['


def decode_hit(db_id: int, text: str | bytes, blob: bytes | None, dim: int) -> Trajectory:
    """The trajectory of row *db_id*, like :func:`~.codec.decode_row` (and the same
    :class:`CorruptTrajectoryError` for a damaged row), with its query embedding read from *blob*."""
    if dim <= 0 or not isinstance(text, str):
        return decode_row(db_id, text)
    start = text.find(_OPEN)
    if start < 0 or text.find(_OPEN, start + 1) >= 0:
        return decode_row(db_id, text)
    body = start + len(_OPEN)
    end = text.find("]", body)
    if end < 0:
        return decode_row(db_id, text)
    if type(blob) is not bytes or len(blob) != 4 * dim:
        return decode_row(db_id, text)
    if _LITTLE_ENDIAN:  # a view of the immutable bytes: read-only already, nothing copied
        embedding = np.frombuffer(blob, dtype=np.float32)
    else:  # pragma: no cover - big-endian machines
        embedding = blob_to_embedding(blob, dim)
        embedding.flags.writeable = False
    if not np.isfinite(embedding).all():
        return decode_row(db_id, text)
    emptied = text[:body] + text[end:]  # the list emptied: the rest is read as ever
    trajectory = fast_loads(emptied)
    if trajectory is None:  # not the usual document: read exactly, and reported if damaged
        trajectory = decode_row(db_id, emptied)
    # The frozen class's one field the emptied list left out, set once to the checked array.
    object.__setattr__(trajectory, "query_embedding", embedding)
    return trajectory
