"""Process-wide settings that ``configure()`` changes and the instrumentation reads.

Kept in one small mutable object so the hot path reads plain attributes, and so that
tests can change and restore it (see ``trajectories.testing``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .embedding import Embedder, HashingEmbedder

__all__ = ["Settings", "settings"]


@dataclass(slots=True)
class Settings:
    #: Put query/response/context embeddings on spans as float[] attributes.
    capture_embeddings: bool = True
    #: Turns ``query=`` text into a query embedding when none is given.
    embedder: Embedder = field(default_factory=HashingEmbedder)
    #: Record ``@step`` functions' arguments and return values (``trajectory.step.input``/``.output``).
    capture_content: bool = False
    #: The redaction hook captured content goes through (None: the default, ``redact_secrets``).
    redact: Callable[[Any], Any] | None = None
    #: The longest captured JSON text, in characters, per attribute.
    max_content_length: int = 4096


settings = Settings()
