"""The default text embedder: deterministic feature hashing, numpy only, no downloads.

It is not a language model: it maps words and character trigrams to buckets of a fixed
vector (signed, so collisions cancel rather than pile up), which is enough for "find past
requests that used similar words". Plug in a real model for semantic similarity; any
callable ``str -> 1-D array`` works (see docs/store.md).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .validate import Embedding, check_embedding, shown

__all__ = ["DEFAULT_DIMENSION", "Embedder", "HashingEmbedder", "embed_text"]

#: A text embedder: any callable from a string to a one-dimensional vector.
Embedder = Callable[[str], Any]

DEFAULT_DIMENSION = 256
_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Feature-hashing embedder: words (weight 1) and character trigrams (weight 0.5).

    The same text gives the same vector in every process and on every machine (crc32,
    not Python's salted ``hash``). Vectors are L2-normalised, so a dot product is the
    cosine similarity.
    """

    __slots__ = ("dimension",)

    def __init__(self, dimension: int = DEFAULT_DIMENSION) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 8:
            raise ValueError(f"dimension must be an int >= 8, got {shown(dimension)}")
        self.dimension = dimension

    def __call__(self, text: str) -> Embedding:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}: {shown(text)}")
        vec = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            self._add(vec, "w:" + word, 1.0)
            padded = f"#{word}#"
            for i in range(len(padded) - 2):
                self._add(vec, "t:" + padded[i : i + 3], 0.5)
        norm = float(np.linalg.norm(vec))
        if norm > 0.0:
            vec /= norm
        vec.flags.writeable = False
        return vec

    def _add(self, vec: Embedding, feature: str, weight: float) -> None:
        h = zlib.crc32(feature.encode("utf-8"))
        vec[h % self.dimension] += weight if (h >> 31) & 1 else -weight

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimension={self.dimension})"


def embed_text(embedder: Embedder, text: str) -> Embedding:
    """Run *embedder* on *text* and check what it returns (1-D, finite, as float32)."""
    return check_embedding("embedding of query text", embedder(text))
