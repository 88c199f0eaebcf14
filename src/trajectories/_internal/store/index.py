"""An in-memory cosine-similarity index: one float32 matrix of normalised rows per dimension.

A query is one matrix-vector product, a mask for the filters and an ``argpartition`` for the
top k — no rows are re-read from the database per query. The store keeps it in step by
applying changes (upserts and removals) as it learns of them; rows of a dimension other
than the query's are skipped (the store warns), empty or all-zero embeddings are not indexed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..model.verdict import VERDICT_KINDS

__all__ = ["EmbeddingIndex", "IndexHit"]

_VERDICT_CODE = {kind: i for i, kind in enumerate(VERDICT_KINDS)}


@dataclass(frozen=True, slots=True)
class IndexHit:
    id: int
    similarity: float


class _Block:
    """Rows of one dimension. Deleting swaps the last row into the hole, so rows stay dense."""

    __slots__ = ("codes", "dim", "ids", "matrix", "pos", "quality", "size")

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.size = 0
        cap = 64
        self.matrix = np.zeros((cap, dim), dtype=np.float32)
        self.ids = np.zeros(cap, dtype=np.int64)
        self.quality = np.zeros(cap, dtype=np.float32)
        self.codes = np.zeros(cap, dtype=np.int8)
        self.pos: dict[int, int] = {}

    def _grow(self) -> None:
        cap = max(64, len(self.ids) * 2)
        for name in ("matrix", "ids", "quality", "codes"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def put(self, id: int, unit: npt.NDArray[np.float32], quality: float, code: int) -> None:
        row = self.pos.get(id)
        if row is None:
            if self.size == len(self.ids):
                self._grow()
            row = self.size
            self.size += 1
            self.pos[id] = row
        self.matrix[row] = unit
        self.ids[row] = id
        self.quality[row] = quality
        self.codes[row] = code

    def remove(self, id: int) -> None:
        row = self.pos.pop(id, None)
        if row is None:
            return
        last = self.size - 1
        if row != last:
            moved = int(self.ids[last])
            self.matrix[row] = self.matrix[last]
            self.ids[row] = moved
            self.quality[row] = self.quality[last]
            self.codes[row] = self.codes[last]
            self.pos[moved] = row
        self.size = last


class EmbeddingIndex:
    """Not thread-safe by itself: the store serialises access with its own lock."""

    __slots__ = ("_blocks", "_dim_of")

    def __init__(self) -> None:
        self._blocks: dict[int, _Block] = {}
        self._dim_of: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._dim_of)

    def clear(self) -> None:
        self._blocks.clear()
        self._dim_of.clear()

    def put(self, id: int, embedding: npt.NDArray[np.float32], quality: float, verdict_kind: str) -> bool:
        """Index (or re-index) *id*. Returns False, and removes any old entry, for an empty,
        all-zero or non-finite embedding, which cannot take part in a cosine search."""
        self.remove(id)
        vec = np.asarray(embedding, dtype=np.float32).ravel()
        if vec.size == 0 or not np.isfinite(vec).all():
            return False
        norm = float(np.linalg.norm(vec))
        if norm == 0.0 or not np.isfinite(norm):
            return False
        block = self._blocks.get(vec.size)
        if block is None:
            block = self._blocks[vec.size] = _Block(vec.size)
        block.put(id, vec / np.float32(norm), quality, _VERDICT_CODE.get(verdict_kind, -1))
        self._dim_of[id] = vec.size
        return True

    def remove(self, id: int) -> None:
        dim = self._dim_of.pop(id, None)
        if dim is not None:
            self._blocks[dim].remove(id)

    def other_dimension_count(self, dim: int) -> int:
        """How many indexed rows have a dimension other than *dim* (and so cannot be compared)."""
        return sum(b.size for d, b in self._blocks.items() if d != dim)

    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        *,
        min_quality: float | None = None,
        verdict_kind: str | None = None,
        exclude: frozenset[int] = frozenset(),
    ) -> list[IndexHit]:
        """Top *k* rows by cosine similarity to *query* (which must be non-zero), best first."""
        q = np.asarray(query, dtype=np.float32).ravel()
        block = self._blocks.get(q.size)
        if block is None or block.size == 0 or k <= 0:
            return []
        q = q / np.float32(np.linalg.norm(q))
        n = block.size
        scores = block.matrix[:n] @ q
        if min_quality is None and verdict_kind is None and not exclude:
            # No filter: partition the scores as they are (no mask, no copies of n rows).
            candidates = np.argpartition(scores, n - k)[n - k :] if n > k else np.arange(n)
            cand_scores = scores[candidates]
        else:
            mask = np.ones(n, dtype=bool)
            if min_quality is not None:
                mask &= block.quality[:n] >= np.float32(min_quality)
            if verdict_kind is not None:
                mask &= block.codes[:n] == _VERDICT_CODE[verdict_kind]
            if exclude:
                mask &= ~np.isin(block.ids[:n], np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
            candidates = np.flatnonzero(mask)
            if candidates.size == 0:
                return []
            cand_scores = scores[candidates]
            if candidates.size > k:
                part = np.argpartition(-cand_scores, k - 1)[:k]
                candidates, cand_scores = candidates[part], cand_scores[part]
        # Best first; equal scores by id so results are deterministic.
        order = np.lexsort((block.ids[candidates], -cand_scores))
        return [IndexHit(int(block.ids[candidates[i]]), float(cand_scores[i])) for i in order]
