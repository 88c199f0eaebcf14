"""One membership: the pure ``assemble_trajectories`` and the streaming exporter give the same trajectories.

Random span trees shaped like real traces — trajectory roots, nested steps, foreign spans (GenAI
usage, models, tools) at any depth, children whose parent is remote, orphans, a second trace, a
second trajectory in a trace, missing roots, unrelated process parts — arrive shuffled in several
export batches. Within one process's part of a trace a span arrives after its children (spans end
children first, and batch processors keep that order); everything else is interleaved freely.
Then both paths must agree exactly. A second property drops the end-order constraint altogether:
nothing may be lost, and whatever differs must be accounted for as late.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trajectories import attributes as A
from trajectories.export import ListSink, SpanRecord, TrajectoryExporter, assemble_trajectories
from trajectories.model import Trajectory

_MASK = (1 << 63) - 1
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class _Trace:
    trace_id: int
    spans: list[SpanRecord] = field(default_factory=list)
    next_id: int = 1
    clock: int = 1_000_000_000

    def new_id(self) -> int:
        self.next_id += 1
        return self.trace_id * 1000 + self.next_id

    def tick(self) -> int:
        self.clock += 1_000_000
        return self.clock


def _usage(draw: st.DrawFn) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if draw(st.booleans()):
        attrs[A.GEN_AI_USAGE_INPUT_TOKENS] = draw(st.integers(0, 500))
        attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] = draw(st.integers(0, 500))
    if draw(st.booleans()):
        attrs[A.GEN_AI_REQUEST_MODEL] = draw(st.sampled_from(["gpt-4o", "claude", "llama"]))
    if draw(st.integers(0, 3)) == 0:
        attrs[A.GEN_AI_TOOL_NAME] = draw(st.sampled_from(["search", "calc"]))
    return attrs


def _span(
    tr: _Trace, span_id: int, parent: int | None, name: str, attrs: dict[str, Any], start: int, *, remote: bool = False
) -> SpanRecord:
    return SpanRecord(tr.trace_id, span_id, parent, name, start, start, attrs, (), 0, parent_is_remote=remote)


@st.composite
def traces(draw: st.DrawFn) -> tuple[list[SpanRecord], dict[int, int | None]]:
    """Spans of one or two traces, and each span's *local* parent (None for a process top)."""
    spans: list[SpanRecord] = []
    local_parent: dict[int, int | None] = {}
    for trace_no in range(1, draw(st.integers(1, 2)) + 1):
        tr = _Trace(trace_no)
        for _ in range(draw(st.integers(1, 2))):  # trajectories in this trace
            root_id = tr.new_id()
            tid = root_id & _MASK
            start = tr.tick()
            nodes: list[tuple[int, int | None]] = [(root_id, None)]  # (span id, step index or None)
            n_steps = 0
            body: list[SpanRecord] = []
            for _ in range(draw(st.integers(0, 6))):
                parent, parent_step = draw(st.sampled_from(nodes))
                span_id = tr.new_id()
                kind = draw(st.sampled_from(["step", "step", "foreign", "foreign", "remote", "orphan"]))
                if kind == "step":
                    attrs = {A.TRAJECTORY_ID: tid, A.STEP_INDEX: n_steps, A.STEP_ACTION: f"act{n_steps}"}
                    attrs.update({k: v for k, v in _usage(draw).items() if k != A.GEN_AI_TOOL_NAME})
                    if draw(st.booleans()):
                        attrs[A.STEP_OUTCOME] = "failure"
                        attrs[A.STEP_OUTCOME_ERROR] = "boom"
                    body.append(_span(tr, span_id, parent, f"act{n_steps}", attrs, tr.tick()))
                    nodes.append((span_id, n_steps))
                    local_parent[span_id] = parent
                    n_steps += 1
                elif kind == "foreign":
                    body.append(_span(tr, span_id, parent, "chat", _usage(draw), tr.tick()))
                    nodes.append((span_id, parent_step))
                    local_parent[span_id] = parent
                elif kind == "remote":  # another process's span under ours: the top of its own part
                    body.append(_span(tr, span_id, parent, "chat", _usage(draw), tr.tick(), remote=True))
                    nodes.append((span_id, None))
                    local_parent[span_id] = None
                else:  # its parent never arrives (dropped)
                    body.append(_span(tr, span_id, tr.new_id() + 500, "chat", _usage(draw), tr.tick()))
                    local_parent[span_id] = None
            root_attrs: dict[str, Any] = {
                A.TRAJECTORY_ID: tid,
                A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
                A.GEN_AI_AGENT_NAME: "agent",
                A.TRAJECTORY_STEP_COUNT: n_steps,
                A.TRAJECTORY_VERDICT: "success",
                A.GEN_AI_USAGE_INPUT_TOKENS: draw(st.integers(0, 50)),
            }
            if draw(st.integers(0, 4)) != 0:  # sometimes the root never arrives
                spans.append(_span(tr, root_id, None, "invoke_agent agent", root_attrs, start))
                local_parent[root_id] = None
            spans.extend(body)
        if draw(st.booleans()):  # an unrelated process part: an HTTP server span and a child
            top, child = tr.new_id(), tr.new_id()
            spans.append(_span(tr, top, None, "GET /", {}, tr.tick()))
            spans.append(_span(tr, child, top, "db", {}, tr.tick()))
            local_parent[top], local_parent[child] = None, top
    return spans, local_parent


def _end_order(spans: list[SpanRecord], local_parent: dict[int, int | None], rng: random.Random) -> list[SpanRecord]:
    """A random order in which every span comes after its local children (a random linear extension)."""
    by_id = {s.span_id: s for s in spans}
    waiting = {s.span_id: 0 for s in spans}
    for s in spans:
        parent = local_parent.get(s.span_id)
        if parent is not None and parent in waiting:
            waiting[parent] += 1
    ready = [sid for sid, n in waiting.items() if n == 0]
    out: list[SpanRecord] = []
    while ready:
        sid = ready.pop(rng.randrange(len(ready)))
        out.append(by_id[sid])
        parent = local_parent.get(sid)
        if parent is not None and parent in waiting:
            waiting[parent] -= 1
            if waiting[parent] == 0:
                ready.append(parent)
    assert len(out) == len(spans)
    return out


def _stream(order: list[SpanRecord], rng: random.Random) -> tuple[list[Trajectory], TrajectoryExporter]:
    sink = ListSink()
    exporter = TrajectoryExporter([sink], max_age=1e9)
    i = 0
    while i < len(order):
        n = rng.randint(1, 4)
        exporter.export_records(order[i : i + n])
        i += n
    exporter.shutdown()
    return sorted(sink.trajectories, key=lambda t: int(t.id)), exporter


@FAST
@given(traces(), st.integers(0, 2**32))
def test_the_exporter_and_the_pure_function_agree(data: tuple[list[SpanRecord], dict[int, int | None]], seed: int) -> None:
    spans, local_parent = data
    rng = random.Random(seed)
    order = _end_order(spans, local_parent, rng)
    pure = sorted(assemble_trajectories(spans), key=lambda t: int(t.id))
    streamed, exporter = _stream(order, rng)
    assert streamed == pure
    stats = exporter.stats
    assert stats.late_spans == 0
    assert stats.pending_spans == 0


@FAST
@given(traces(), st.integers(0, 2**32))
def test_any_arrival_order_loses_nothing_and_accounts_for_what_came_late(
    data: tuple[list[SpanRecord], dict[int, int | None]], seed: int
) -> None:
    spans, _ = data
    rng = random.Random(seed)
    order = list(spans)
    rng.shuffle(order)
    pure = {int(t.id): t for t in assemble_trajectories(spans)}
    streamed, exporter = _stream(order, rng)
    sdk_ids = {tid for s in spans if (tid := s.attributes.get(A.TRAJECTORY_ID)) is not None}
    got = [int(t.id) for t in streamed]
    assert len(got) == len(set(got))  # none twice
    assert sdk_ids <= set(got) <= set(pure)  # no SDK trajectory lost; nothing the spans do not make
    stats = exporter.stats
    late = stats.late_spans
    if set(got) != set(pure):
        # a framework part whose top came before its model call: counted, not silently dropped
        assert stats.late_spans + stats.unrelated_spans > 0
    for t in streamed:
        p = pure[int(t.id)]
        # SDK steps wait for their root's step count: only foreign spans (folds, or steps of their
        # own) can come too late, and then the exporter counted them as late
        ours = [(s.action, s.outcome) for s in t.steps if s.action.startswith("act")]
        assert ours == [(s.action, s.outcome) for s in p.steps if s.action.startswith("act")]
        assert len(t.steps) <= len(p.steps)
        assert t.metadata.total_input_tokens <= p.metadata.total_input_tokens
        if t != p:
            assert late > 0, (t, p)


def test_a_remote_child_of_a_step_is_not_folded_in_by_either_path() -> None:
    """The bug this module guards against: a ``chat`` span whose parent is a step, but remote."""
    tid = 7
    root = SpanRecord(
        1,
        7,
        None,
        "invoke_agent a",
        0,
        10,
        {A.TRAJECTORY_ID: tid, A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, A.TRAJECTORY_STEP_COUNT: 1},
    )
    step = SpanRecord(1, 8, 7, "s", 1, 9, {A.TRAJECTORY_ID: tid, A.STEP_INDEX: 0})
    chat = SpanRecord(
        1, 9, 8, "chat", 2, 3, {A.GEN_AI_USAGE_INPUT_TOKENS: 11, A.GEN_AI_REQUEST_MODEL: "m"}, parent_is_remote=True
    )
    pure, remote = assemble_trajectories([root, step, chat])
    streamed, exporter = _stream([chat, step, root], random.Random(0))
    assert streamed == sorted([pure, remote], key=lambda t: int(t.id))
    assert pure.metadata.total_input_tokens == 0
    assert pure.steps[0].metadata is None
    # the other process's model call is a trajectory of its own (rooted at its span)
    assert (int(remote.id), remote.metadata.total_input_tokens, [s.action for s in remote.steps]) == (9, 11, ["llm m"])
    assert exporter.stats.unrelated_spans == 0
    local = SpanRecord(1, 9, 8, "chat", 2, 3, {A.GEN_AI_USAGE_INPUT_TOKENS: 11, A.GEN_AI_REQUEST_MODEL: "m"})
    (folded,) = assemble_trajectories([root, step, local])  # the same span from this process folds in
    assert folded.metadata.total_input_tokens == 11
    assert folded.metadata.models_used == ("m",)
