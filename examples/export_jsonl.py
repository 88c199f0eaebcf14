"""Record a few agent runs and get them as scored trajectories in a JSON-lines file (ruvllm form).

    python examples/export_jsonl.py [out.jsonl]

configure() wires the tracer provider and the trajectory exporter; every trajectory that
finishes is assembled from its spans, scored, and appended to the file as one line of the
JSON that ruvllm's serde reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from trajectories.config import configure
from trajectories.instrument import current_step, step, trajectory
from trajectories.model import RootCause, read_jsonl


@step(action="search", rationale="Need context before answering")
def search(query: str) -> list[str]:
    hits = [doc for doc in ("otel spans", "ruvllm trajectories", "anyio streams") if any(w in doc for w in query.split())]
    if len(hits) < 2:
        s = current_step()
        if s is not None:
            s.partial(achieved=f"{len(hits)} hits", missing="2 hits")
    return hits


@step(tool="calculator")
def calculate(expression: str) -> float:
    left, right = expression.split("+")
    return float(left) + float(right)


def answer(question: str, session: str) -> None:
    with trajectory("answer", query=question, session_id=session, request_type="qa") as t:
        docs = search(question)
        if "sum" in question:
            calculate("2+3")
        if not docs:
            t.fail(RootCause.insufficient_context(["documents"]))
        t.add_lesson("Search before answering")


def main(out: Path) -> int:
    out.unlink(missing_ok=True)
    config = configure("export-example", jsonl_path=out, dead_letter_path=out.with_suffix(".deadletter.jsonl"))
    for i, question in enumerate(["otel spans and ruvllm trajectories", "anyio sum", "weather"]):
        answer(question, session=f"s-{i}")
    config.shutdown()  # flush and close the file (also done at interpreter exit)
    for t in read_jsonl(out):
        print(f"{t.id}  {t.verdict.description:<32} quality={t.quality:.3f}  steps={[s.action for s in t.steps]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("trajectories.jsonl")))
