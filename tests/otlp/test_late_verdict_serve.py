"""``serve``: an evaluation result posted after its trajectory updates the stored verdict; after
a restart (a new receiver over the same store) too; /health counts them."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers.late import Recorded
from tests.helpers.otlp import json_body, protobuf_body
from trajectories import attributes as A
from trajectories._internal.cli.otlp_cmds import stats_line
from trajectories._internal.model.feedback import verdict_history
from trajectories._internal.otlp.server import running_in_thread
from trajectories.export import ExporterStats, TrajectoryExporter, receiver_app
from trajectories.store import SQLiteTrajectoryStore, StoreSink


def _post(url: str, body: bytes, content_type: str = "application/x-protobuf") -> None:
    r = httpx.post(f"{url}/v1/traces", content=body, headers={"content-type": content_type})
    assert r.status_code == 200


def test_serve_applies_a_late_evaluation_and_keeps_applying_after_a_restart(tmp_path: Path) -> None:
    store = SQLiteTrajectoryStore(tmp_path / "t.db")
    run = Recorded()
    first = TrajectoryExporter([StoreSink(store)], dead_letter_path=tmp_path / "dead.jsonl")
    with running_in_thread(receiver_app(first)) as url:
        _post(url, protobuf_body(run.spans))
        _post(url, json_body([run.evaluation()]), "application/json")
        health = httpx.get(f"{url}/health").json()
    assert (health["late_verdicts"], health["late_verdicts_applied"], health["late_verdicts_unmatched"]) == (1, 1, 0)
    assert store.get(run.result.id).verdict.kind == "failure"

    final: list[ExporterStats] = []
    restarted = TrajectoryExporter([StoreSink(store)], dead_letter_path=tmp_path / "dead.jsonl")
    with running_in_thread(receiver_app(restarted, on_stop=final.append)) as url:
        event = {A.GEN_AI_EVALUATION_NAME: "support_review", A.GEN_AI_EVALUATION_SCORE_LABEL: "resolved"}
        _post(url, protobuf_body([run.evaluation(event)]))  # its trace is unknown here: it waits
        assert httpx.get(f"{url}/health").json()["pending_spans"] == 1
    # the server stopped: the trace is given up, the evaluation read and applied before the store sink closes
    assert final[0].late_verdicts_applied == 1
    assert stats_line(final[0]).endswith(", 1 late verdict (1 applied, 0 unmatched, 0 dead-lettered)")  # serve's stop line
    stored = store.get(run.result.id)
    assert stored.verdict.is_success
    assert [h["source"] for h in verdict_history(stored)] == ["evaluation:user_feedback", "evaluation:support_review"]
    store.close()
