"""The store interface that every backend implements, and the values it returns.

Callers (the exporter's sink, learning, the CLI) use only :class:`TrajectoryStore`, so a
second backend (PostgreSQL with pgvector is the planned one) can replace SQLite without
changing them. Nothing here knows about SQL.
"""

from __future__ import annotations

import abc
import builtins
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from uuid import UUID

from ..embedding import Embedder, embed_text
from ..exceptions import CorruptTrajectoryError, StoreError, TrajectoryNotFoundError
from ..model.lessons import CompressedTrajectory, KeyLesson
from ..model.trajectory import Trajectory
from ..model.verdict import VERDICT_KINDS, Verdict
from ..settings import settings
from ..validate import Embedding, check_count, check_embedding, check_opt_number, check_opt_str, check_opt_time, check_str, shown
from .credit import BASE_KEY, MemoryCredit, MemoryKey
from .overview import StoreOverview

__all__ = [
    "DEFAULT_DB_PATH",
    "ENV_DB",
    "VERDICT_KINDS",
    "CorruptTrajectoryError",
    "SimilarHit",
    "StoreError",
    "StoreStats",
    "TrajectoryFilter",
    "TrajectoryNotFoundError",
    "TrajectoryStore",
    "check_feedback",
    "check_verdict_kind",
    "resolve_db_path",
]

#: Environment variable that overrides the default database path.
ENV_DB = "TRAJECTORIES_DB"
#: The embedded default: a file in the current directory.
DEFAULT_DB_PATH = "trajectories.db"


_S = TypeVar("_S", bound="TrajectoryStore")


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> str:
    """The database path: the argument, else ``$TRAJECTORIES_DB``, else ``./trajectories.db``."""
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}: {shown(path)}")
        result = os.fspath(path)
    else:
        result = os.environ.get(ENV_DB) or DEFAULT_DB_PATH
    if not result:
        raise ValueError("path must not be empty")
    return result


def check_verdict_kind(argument: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, got {type(value).__name__}: {shown(value)}")
    kind = "recovered_via_reflection" if value == "recovered" else value
    if kind not in VERDICT_KINDS:
        raise ValueError(f"{argument} must be one of {', '.join(VERDICT_KINDS)}, got {shown(value)}")
    return kind


@dataclass(frozen=True, slots=True)
class TrajectoryFilter:
    """What a listing selects. Every field is optional; all given ones must match.

    ``name`` matches the trajectory name (``metadata.attributes["trajectory.name"]``, else
    the request type); quality and time bounds are inclusive; times compare ``started_at``.
    """

    name: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    verdict: str | None = None
    min_quality: float | None = None
    max_quality: float | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        check_opt_str("name", self.name)
        check_opt_str("session_id", self.session_id)
        check_opt_str("user_id", self.user_id)
        object.__setattr__(self, "verdict", check_verdict_kind("verdict", self.verdict))
        object.__setattr__(self, "min_quality", check_opt_number("min_quality", self.min_quality))
        object.__setattr__(self, "max_quality", check_opt_number("max_quality", self.max_quality))
        object.__setattr__(self, "since", check_opt_time("since", self.since))
        object.__setattr__(self, "until", check_opt_time("until", self.until))


@dataclass(frozen=True, slots=True)
class SimilarHit:
    """One result of a similarity search: the trajectory and its cosine similarity to the query."""

    trajectory: Trajectory
    similarity: float

    @property
    def id(self) -> int:
        return int(self.trajectory.id)


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What is in a store: counts by verdict, average quality, tokens, the most frequent actions."""

    total: int
    by_verdict: dict[str, int]
    avg_quality: float
    total_input_tokens: int
    total_output_tokens: int
    top_actions: builtins.list[tuple[str, int]] = field(default_factory=list)
    compressed: int = 0
    key_lessons: int = 0
    #: Spans that belonged to no trajectory, by reason, as ``serve`` and ``import`` counted them
    #: (``add_span_counts``; docs/frameworks.md lists the reasons).
    unrelated_spans: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_verdict": dict(self.by_verdict),
            "avg_quality": self.avg_quality,
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "top_actions": [{"action": a, "count": c} for a, c in self.top_actions],
            "compressed": self.compressed,
            "key_lessons": self.key_lessons,
            "unrelated_spans": dict(self.unrelated_spans),
        }


class TrajectoryStore(abc.ABC):
    """A place to keep trajectories and find them again.

    Adding is idempotent on ``Trajectory.id``: adding the same id again *replaces* the
    stored trajectory (the newest delivery wins), so a re-delivered or re-imported
    trajectory never appears twice. Implementations are safe to share between threads.
    """

    embedder: Embedder | None

    def query_embedding(self, query: Any) -> Embedding:
        """Turn a similarity query (text or vector) into a non-empty, non-zero float32 vector.

        Text is embedded by this store's ``embedder``, else the process-wide one (``configure``).
        """
        if isinstance(query, str):
            if not query.strip():
                raise ValueError("query text must not be empty")
            vec = embed_text(self.embedder or settings.embedder, query)
        else:
            vec = check_embedding("query embedding", query)
        if vec.size == 0:
            raise ValueError("query embedding must not be empty")
        if not vec.any():
            raise ValueError("query embedding must not be all zeros (cosine similarity is undefined)")
        return vec

    # -- writing -----------------------------------------------------------------
    @abc.abstractmethod
    def add_many(self, trajectories: Iterable[Trajectory]) -> int:
        """Store many trajectories in one transaction; returns how many were written."""

    def add(self, trajectory: Trajectory) -> None:
        """Store one trajectory (replacing one with the same id)."""
        if not isinstance(trajectory, Trajectory):
            raise TypeError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}: {shown(trajectory)}")
        self.add_many([trajectory])

    @abc.abstractmethod
    def delete(self, ids: Iterable[int]) -> int:
        """Delete the trajectories with these ids; returns how many existed."""

    # -- reading -----------------------------------------------------------------
    @abc.abstractmethod
    def get(self, id: int) -> Trajectory:
        """The trajectory with this id; :class:`TrajectoryNotFoundError` if none,
        :class:`CorruptTrajectoryError` if its row cannot be read."""

    @abc.abstractmethod
    def get_by_uuid(self, uuid: UUID | str) -> Trajectory:
        """The trajectory with this uuid (the trace id of its spans)."""

    @abc.abstractmethod
    def list(
        self, filter: TrajectoryFilter | None = None, *, limit: int | None = 50, offset: int = 0
    ) -> builtins.list[Trajectory]:
        """Trajectories matching *filter*, newest first (by ``started_at``), paged.
        Rows that cannot be read are skipped with a warning."""

    @abc.abstractmethod
    def count(self, filter: TrajectoryFilter | None = None) -> int:
        """How many stored trajectories match *filter*."""

    @abc.abstractmethod
    def iter_all(self, *, batch_size: int = 500) -> Iterator[Trajectory]:
        """Every readable trajectory, oldest first, read in batches (for export and distillation)."""

    @abc.abstractmethod
    def similar(
        self,
        query: str | Sequence[float] | Any,
        k: int = 5,
        *,
        min_quality: float | None = None,
        verdict: str | None = None,
        exclude: Iterable[int] = (),
        filter: TrajectoryFilter | None = None,
    ) -> builtins.list[SimilarHit]:
        """The *k* stored trajectories whose query embedding is most similar (cosine) to
        *query*: an embedding, or text that the store's embedder turns into one.

        Only trajectories that pass every given condition compete: *min_quality*, *verdict*,
        not in *exclude*, and matching *filter* (name, session, user, quality bounds, time);
        so up to *k* hits come back however selective the conditions are."""

    @abc.abstractmethod
    def add_span_counts(self, counts: Mapping[str, int]) -> None:
        """Add *counts* (reason -> spans) to the store's tally of spans that belonged to no
        trajectory, in one transaction: ``serve`` and ``import`` record what they could not place,
        and ``stats()`` shows the totals."""

    @abc.abstractmethod
    def stats(self, *, top_actions: int = 10) -> StoreStats:
        """Counts by verdict, average quality, token totals and the most frequent actions."""

    @abc.abstractmethod
    def overview(self, filter: TrajectoryFilter | None = None, *, buckets: int = 24, top: int = 10) -> StoreOverview:
        """Aggregates for a dashboard (see :class:`StoreOverview`), computed by the backend's
        queries over the trajectories matching *filter*: a timeline of at most *buckets* equal
        time buckets, verdicts, root causes, the *top* slowest and most failing actions and
        tools, tokens by model."""

    # -- the learning loop: feedback and credit ----------------------------------
    @abc.abstractmethod
    def feedback(self, id: int, verdict: Verdict, *, source: str = "api", at: datetime | None = None) -> Trajectory:
        """Give the stored trajectory *id* a later verdict, in one transaction: its quality is
        recomputed by ruvllm's formula, the verdict it replaces is kept in
        ``metadata.attributes["verdict.history"]`` (with *source* and *at*), and the credit of
        every memory it recalled moves by the difference. Returns the updated trajectory;
        :class:`TrajectoryNotFoundError` if there is none."""

    @abc.abstractmethod
    def memory_credit(self, keys: Iterable[MemoryKey]) -> dict[MemoryKey, MemoryCredit]:
        """The credit of these memories (``("trajectory", id)`` or ``("lesson", lesson id)``):
        uses, successes and summed quality of the stored runs that recalled them. Memories never
        recalled are absent. ``BASE_KEY`` gives the totals over every run that recalled anything."""

    @abc.abstractmethod
    def memory_credits(self, kind: str | None = None, *, limit: int | None = 50) -> builtins.list[tuple[MemoryKey, MemoryCredit]]:
        """Recalled memories with their credit, most used first (*kind*: ``"trajectory"``,
        ``"lesson"`` or None for both)."""

    def base_credit(self) -> MemoryCredit:
        """The totals over every stored run that recalled anything: the base rate effect ranking uses."""
        return self.memory_credit([BASE_KEY]).get(BASE_KEY, MemoryCredit())

    # -- distillation results ----------------------------------------------------
    @abc.abstractmethod
    def save_distillation(
        self, compressed: Sequence[CompressedTrajectory], lessons: Sequence[KeyLesson], *, prune_ids: Sequence[int] = ()
    ) -> None:
        """Store compressed trajectories and key lessons (and delete *prune_ids*) in one transaction."""

    @abc.abstractmethod
    def compressed(self) -> builtins.list[CompressedTrajectory]:
        """Every stored CompressedTrajectory."""

    @abc.abstractmethod
    def key_lessons(self) -> builtins.list[KeyLesson]:
        """Every stored KeyLesson, most important first."""

    # -- lifetime ----------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def check_feedback(verdict: object, source: object, at: object) -> None:
    """The arguments of ``feedback()``, checked at the call."""
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verdict must be a Verdict, got {type(verdict).__name__}: {shown(verdict)}")
    check_str("source", source)
    check_opt_time("at", at)


def span_count_rows(counts: Mapping[str, int]) -> builtins.list[tuple[str, int]]:
    """*counts* checked (str reasons, non-negative ints), as rows in reason order; zeros left out."""
    if not isinstance(counts, Mapping):
        raise TypeError(f"counts must be a mapping of reason to count, got {type(counts).__name__}: {shown(counts)}")
    rows = [(check_str("counts key", r), check_count(f"counts[{shown(r)}]", n)) for r, n in counts.items()]
    return sorted((r, n) for r, n in rows if n)
