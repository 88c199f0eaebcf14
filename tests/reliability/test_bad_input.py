"""Bad input, property-based: only the documented error escapes, and nothing is lost.

- The ruvllm JSON reader, given arbitrary and mutated documents, returns a Trajectory or
  raises ``JSONFormatError`` (with a reason and a path), never anything else.
- The OTLP decoders, given random, truncated and mutated payloads, return spans (rejecting
  bad ones, counted) or raise ``OTLPDecodeError``.
- The span assembly, given spans with missing, mistyped and contradictory trajectory
  attributes, never raises: every trajectory id in the input comes out (flagged incomplete
  when its root is missing), and the exporter counts no assembly or internal error.
- The public API, given arbitrary values, raises ``TypeError``/``ValueError`` at the call
  (with a message) or accepts them; the SDK keeps recording afterwards.

Every property counts the examples it ran and prints ``[bad-input] <name>: <n> examples``
(``pytest -s`` shows them; docs/reliability.md quotes them). Example counts are bounded so
the whole file runs in seconds.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.otlp import otlp_json, protobuf_body
from tests.helpers.serde import GOLDEN_DIR
from trajectories import Trajectory, TrajectoryExporter, analyze, distill, lessons_for, step, trajectory
from trajectories import attributes as A
from trajectories._internal.diagnostics import internal_errors
from trajectories._internal.export.assembly import assemble_trajectories
from trajectories._internal.export.trace import trajectory_id_of
from trajectories._internal.otlp.decode import decode_json, decode_protobuf
from trajectories._internal.records import SpanRecord
from trajectories.exceptions import OTLPDecodeError
from trajectories.export import ListSink
from trajectories.model import JSONFormatError, iter_jsonl_lines, read_jsonl
from trajectories.store import SQLiteTrajectoryStore, TrajectoryFilter, TrajectoryNotFoundError

FAST = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
GOLDEN = sorted(GOLDEN_DIR.glob("*.json"))
GOLDEN_TEXTS = [p.read_text(encoding="utf-8") for p in GOLDEN]


def run_counted(name: str, prop: Callable[[], None], counter: list[int], minimum: int) -> None:
    prop()
    print(f"[bad-input] {name}: {counter[0]} examples")
    assert counter[0] >= minimum  # hypothesis really ran them


# --------------------------------------------------------------------------- JSON values

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*path, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*path, i)))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        copy = dict(node)
        if delete and not rest:
            del copy[head]
        else:
            copy[head] = _replace(node[head], rest, value, delete=delete)
        return copy
    copy_list = list(node)
    if delete and not rest:
        del copy_list[head]
    else:
        copy_list[head] = _replace(node[head], rest, value, delete=delete)
    return copy_list


@st.composite
def mutated_documents(draw: st.DrawFn, texts: list[str]) -> Any:
    """A valid document with one node replaced by a random JSON value, or deleted."""
    doc = json.loads(draw(st.sampled_from(texts)))
    path = draw(st.sampled_from(_paths(doc)))
    if path and draw(st.booleans()):
        return _replace(doc, path, None, delete=True)
    return _replace(doc, path, draw(json_values))


@st.composite
def mangled_texts(draw: st.DrawFn, texts: list[str]) -> str | bytes:
    """A valid document's text, truncated, with bytes flipped or junk inserted."""
    raw = draw(st.sampled_from(texts)).encode()
    how = draw(st.sampled_from(["truncate", "flip", "insert"]))
    at = draw(st.integers(0, len(raw) - 1))
    if how == "truncate":
        return raw[:at]
    if how == "flip":
        return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]


def _read_or_format_error(text: str | bytes) -> None:
    error: JSONFormatError | None = None
    try:
        result = Trajectory.from_json(text)
    except JSONFormatError as exc:  # the one documented error; anything else fails the test
        error = exc
    if error is not None:
        assert error.reason  # a useful message: what is wrong...
        assert str(error)
        assert isinstance(error.path, str)  # ...and where ("" for the top level)
    else:
        assert isinstance(result, Trajectory)
        Trajectory.from_json(result.to_json())  # what was read writes back as valid JSON


def test_json_reader_on_arbitrary_documents() -> None:
    n = [0]

    @FAST
    @given(json_values)
    def prop(doc: Any) -> None:
        n[0] += 1
        _read_or_format_error(json.dumps(doc))

    run_counted("json reader, arbitrary documents", prop, n, 200)


def test_json_reader_on_mutated_documents() -> None:
    n = [0]

    @settings(FAST, max_examples=600)
    @given(mutated_documents(GOLDEN_TEXTS))
    def prop(doc: Any) -> None:
        n[0] += 1
        _read_or_format_error(json.dumps(doc))

    run_counted("json reader, mutated golden documents", prop, n, 600)


def test_json_reader_on_mangled_text() -> None:
    n = [0]

    @settings(FAST, max_examples=400)
    @given(mangled_texts(GOLDEN_TEXTS) | st.binary(max_size=64) | st.text(max_size=64))
    def prop(text: str | bytes) -> None:
        n[0] += 1
        _read_or_format_error(text)

    run_counted("json reader, truncated/flipped/junk text", prop, n, 400)


def test_json_reader_nesting_and_non_finite_numbers() -> None:
    for text in ("[" * 100_000, '{"a":' * 50_000, '{"id": NaN}', '{"id": Infinity}', "1" * 5000, "\ud800", b"\xff\xfe"):
        with pytest.raises(JSONFormatError):
            Trajectory.from_json(text)


def test_jsonl_reader_skips_bad_lines_by_number(tmp_path: Path) -> None:
    n = [0]

    @settings(FAST, max_examples=100)
    @given(st.lists(mangled_texts(GOLDEN_TEXTS) | st.sampled_from([t.encode() for t in GOLDEN_TEXTS]), max_size=6))
    def prop(lines: list[str | bytes]) -> None:
        n[0] += 1
        raw = [line if isinstance(line, bytes) else line.encode() for line in lines]
        path = tmp_path / "in.jsonl"
        path.write_bytes(b"\n".join(x.replace(b"\n", b" ").replace(b"\r", b" ") for x in raw) + b"\n")
        items = list(iter_jsonl_lines(path))
        good = [t for _, t in items if isinstance(t, Trajectory)]
        for line_no, item in items:
            assert isinstance(item, (Trajectory, JSONFormatError))
            if isinstance(item, JSONFormatError):
                assert item.line == line_no
                assert str(item).startswith(f"line {line_no}: ")
        assert list(read_jsonl(path, errors="skip")) == good

    run_counted("jsonl reader, files of mangled lines", prop, n, 100)


# --------------------------------------------------------------------------- OTLP decoding


def _sample_spans(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> list[Any]:
    @step(tool="search")
    def search(q: str) -> str:
        return q

    with trajectory("agent", query="q", session_id="s", tracer_provider=tracer_provider) as t:
        search("x")
        with step("think") as s:
            s.partial("a", "b")
        t.add_lesson("l")
    return list(span_exporter.get_finished_spans())


def _decode_pb_or_error(body: bytes) -> list[SpanRecord]:
    message = "no error"
    try:
        return decode_protobuf(body).spans
    except OTLPDecodeError as exc:
        message = str(exc)
    assert message
    return []


def _decode_json_or_error(document: Any) -> list[SpanRecord]:
    message = "no error"
    try:
        return decode_json(document).spans
    except OTLPDecodeError as exc:
        message = str(exc)
    assert message
    return []


def test_protobuf_decoder_on_random_truncated_and_flipped_bodies(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    valid = protobuf_body(_sample_spans(tracer_provider, span_exporter))
    truncated = 0
    for cut in range(len(valid)):  # every prefix of a real request
        assemble_trajectories(_decode_pb_or_error(valid[:cut]))
        truncated += 1
    print(f"[bad-input] protobuf decoder, every truncation of a {len(valid)}-byte request: {truncated} bodies")
    n = [0]

    @settings(FAST, max_examples=400)
    @given(st.binary(max_size=300) | st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255), st.binary(max_size=4)))
    def prop(what: bytes | tuple[int, int, bytes]) -> None:
        n[0] += 1
        if isinstance(what, bytes):
            body = what
        else:
            at, xor, junk = what
            body = valid[:at] + bytes([valid[at] ^ xor]) + junk + valid[at + 1 :]
        assemble_trajectories(_decode_pb_or_error(body))

    run_counted("protobuf decoder, random and flipped bodies", prop, n, 400)


def test_json_decoder_on_random_and_mutated_documents(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    valid = json.dumps(otlp_json(_sample_spans(tracer_provider, span_exporter)))
    n = [0]

    @settings(FAST, max_examples=500)
    @given(json_values | mutated_documents([valid]))
    def prop(document: Any) -> None:
        n[0] += 1
        assemble_trajectories(_decode_json_or_error(document))

    run_counted("OTLP JSON decoder, random and mutated documents", prop, n, 500)


# --------------------------------------------------------------------------- assembly

_OUR_KEYS = sorted(
    {
        getattr(A, name)
        for name in A.__all__
        if not name.endswith(("_PREFIX", "_ATTRIBUTE"))
        and not name.startswith(("OPERATION_", "EVENT_", "QUALITY_"))
        and isinstance(getattr(A, name), str)
    }
    | {A.TRAJECTORY_ATTRIBUTES_PREFIX + "k", A.STEP_ATTRIBUTES_PREFIX + "parent_step"}
    # the agent frameworks' conventions (docs/frameworks.md): kinds, names and token counts of any type
    | {
        "openinference.span.kind",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.model_name",
        "tool.name",
        "agent.name",
        "traceloop.span.kind",
        "traceloop.entity.name",
        "llm.request.type",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "error.type",
    }
)
_I64 = st.integers(-(1 << 63), (1 << 63) - 1)
_attr_scalars = (
    st.none()
    | st.booleans()
    | _I64
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "success",
            "failure",
            "partial",
            "skipped",
            "needs_retry",
            "recovered_via_reflection",
            "invoke_agent",
            "execute_tool",
            '{"Unknown":{"details":"x"}}',
            '{"ToolFailure":{"tool":1}}',
            "[" * 3000,
            "null",
            "{}",
            "chat",
            "LLM",
            "TOOL",
            "AGENT",
            "CHAIN",
            "agent",
            "workflow",
            "tool",
        ]
    )
)
_attr_values = _attr_scalars | st.lists(_attr_scalars, max_size=4).map(tuple)


@st.composite
def hostile_spans(draw: st.DrawFn) -> SpanRecord:
    """Spans of a few traces and trajectories, with any of our attributes set to anything."""
    attrs: dict[str, Any] = draw(st.dictionaries(st.sampled_from(_OUR_KEYS), _attr_values, max_size=10))
    role = draw(st.sampled_from(["root", "step", "other", "foreign", "free"]))
    if role != "free":
        attrs.pop(A.TRAJECTORY_ID, None)
    if role in ("root", "step", "other"):
        attrs[A.TRAJECTORY_ID] = draw(st.sampled_from([1, 2, 3, (1 << 63) - 1]))
    if role == "root":
        attrs[A.GEN_AI_OPERATION_NAME] = A.OPERATION_INVOKE_AGENT
    elif role == "step":
        attrs.setdefault(A.STEP_INDEX, draw(_I64 | st.text(max_size=2)))
    start = draw(st.integers(0, (1 << 64) - 1))
    return SpanRecord(
        draw(st.integers(1, 2)),
        draw(st.integers(1, 12)),
        draw(st.none() | st.integers(1, 12)),
        draw(st.text(max_size=6)),
        start,
        max(start, draw(st.integers(0, (1 << 64) - 1))),
        attrs,
        (),
        draw(st.integers(0, 2)),
        parent_is_remote=draw(st.booleans()),
        size=draw(st.integers(0, 1000)),
    )


def test_assembly_never_raises_and_loses_no_trajectory(tmp_path: Path) -> None:
    n = [0]
    trajectories_out = [0]

    @settings(FAST, max_examples=300)
    @given(st.lists(hostile_spans(), max_size=10), st.integers(1, 8), st.booleans())
    def prop(spans: list[SpanRecord], batch: int, small: bool) -> None:
        n[0] += 1
        expected = {tid for s in spans if (tid := trajectory_id_of(s.attributes)) is not None}
        # spans without trajectory.id may make framework trajectories of their own, rooted at one of them
        foreign = {s.span_id & ((1 << 63) - 1) for s in spans if trajectory_id_of(s.attributes) is None}
        pure = assemble_trajectories(spans)  # the pure function
        pure_ids = [int(t.id) for t in pure]
        assert expected <= set(pure_ids)
        assert set(pure_ids) - expected <= foreign
        for t in pure:
            json.loads(t.to_json())  # and each one writes valid ruvllm JSON
            assert 0.0 <= t.quality <= 1.0
            assert math.isfinite(t.quality)
        sink = ListSink()  # the exporter, in batches, with small caps so eviction happens too
        caps = {"max_pending_spans": 3, "max_pending_bytes": 1500} if small else {}
        exporter = TrajectoryExporter([sink], dead_letter_path=tmp_path / "dead.jsonl", **caps)  # type: ignore[arg-type]
        for i in range(0, len(spans), batch):
            exporter.export_records(spans[i : i + batch])
        exporter.shutdown()
        stats = exporter.stats
        assert (stats.assembly_errors, stats.internal_errors, stats.sink_failures) == (0, 0, 0)
        # Nothing lost: every trajectory comes out, except one whose every span reused the id of
        # an earlier span of its trace (malformed input; those spans are counted as duplicates).
        seen: set[tuple[int, int]] = set()
        firsts = set()
        for s in spans:
            if (s.trace_id, s.span_id) not in seen and (tid := trajectory_id_of(s.attributes)) is not None:
                firsts.add(tid)
            seen.add((s.trace_id, s.span_id))
        emitted = {int(t.id) for t in sink}
        assert firsts <= emitted
        assert emitted - expected <= foreign
        if len(seen) == len(spans):
            assert expected <= emitted
            assert stats.duplicate_spans == 0
        assert stats.spans_seen == len(spans)
        assert stats.pending_spans == 0
        assert stats.pending_bytes == 0
        trajectories_out[0] += len(sink)

    run_counted("assembly and exporter, hostile spans", prop, n, 300)
    print(f"[bad-input] assembly: {trajectories_out[0]} trajectories emitted from hostile spans, 0 lost")


def test_assembly_regressions_that_used_to_lose_the_trajectory() -> None:
    def root(**attrs: Any) -> SpanRecord:
        return SpanRecord(
            1, 1, None, "r", 0, 10, {A.TRAJECTORY_ID: 5, A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, **attrs}
        )

    cases = [
        root(**{A.TRAJECTORY_VERDICT: "recovered_via_reflection", A.TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS: 1 << 40}),
        root(**{A.TRAJECTORY_VERDICT: "failure", A.TRAJECTORY_VERDICT_ROOT_CAUSE: "[" * 100_000}),
        SpanRecord(1, 1, None, "r", -(10**30), 10**30, {A.TRAJECTORY_ID: 5, A.GEN_AI_OPERATION_NAME: "invoke_agent"}),
        root(**{A.STEP_INDEX: 1 << 70}),
    ]
    for case in cases:
        (t,) = assemble_trajectories([case])
        assert int(t.id) == 5
    tokens = [root(**{A.GEN_AI_USAGE_INPUT_TOKENS: (1 << 63) - 1})] + [
        SpanRecord(1, i, 1, "chat", 0, 1, {A.GEN_AI_USAGE_INPUT_TOKENS: (1 << 63) - 1}) for i in (2, 3, 4)
    ]
    (t,) = assemble_trajectories(tokens)
    assert t.metadata.total_input_tokens == (1 << 64) - 1  # saturated, not an exception


# --------------------------------------------------------------------------- public API arguments


class _Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    __hash__ = object.__hash__


anything = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=4)
    | st.lists(st.floats() | st.text(max_size=3), max_size=3)
    | st.dictionaries(st.text(max_size=3) | st.integers(), st.text(max_size=3) | st.integers(), max_size=2)
    | st.just(np.array([1.0, np.nan]))
    | st.just(np.zeros((2, 2)))
    | st.builds(_Hostile)
    | st.builds(object)
)


def _accepts_or_rejects(call: Callable[[], Any]) -> bool:
    message = None
    try:
        call()
    except (TypeError, ValueError) as exc:
        message = str(exc)
    assert message != ""  # a rejection comes with a message that names the argument
    return message is None


def test_public_api_rejects_bad_arguments_at_the_call(tracer_provider: TracerProvider, tmp_path: Path) -> None:
    n = [0]
    rejected = [0]
    before = internal_errors.value
    store = SQLiteTrajectoryStore(tmp_path / "api.db")
    with trajectory("stored", tracer_provider=tracer_provider) as stored:
        pass
    assert stored.result is not None
    store.add(stored.result)

    @settings(FAST, max_examples=300)
    @given(anything)
    def prop(value: Any) -> None:
        n[0] += 1
        calls: list[Callable[[], Any]] = [
            lambda: step(confidence=value),
            lambda: step(action=value),
            lambda: step(rationale=value),
            lambda: step(tags=value),
            lambda: step(attributes=value),
            lambda: step(capture=value),
            lambda: step(tool=value, model=value),
            lambda: trajectory(value),
            lambda: trajectory("t", query=value),
            lambda: trajectory("t", query_embedding=value),
            lambda: trajectory("t", session_id=value, user_id=value, request_type=value),
            lambda: trajectory("t", tags=value),
            lambda: trajectory("t", attributes=value),
            lambda: TrajectoryExporter(value),
            lambda: store.list(value),
            lambda: store.list(limit=value),
            lambda: store.list(offset=value),
            lambda: store.count(value),
            lambda: store.get_by_uuid(value),
            lambda: store.similar(value),
            lambda: store.similar([1.0], k=value, min_quality=value),
            lambda: store.similar([1.0], exclude=value),
            lambda: store.delete(value),
            lambda: store.add(value),
            lambda: store.add_many(value),
            lambda: store.stats(top_actions=value),
            lambda: store.iter_all(batch_size=value),
            lambda: TrajectoryFilter(name=value),
            lambda: TrajectoryFilter(min_quality=value, max_quality=value),
            lambda: TrajectoryFilter(since=value, verdict=value),
            lambda: lessons_for(value, store=store),
            lambda: analyze(value),
            lambda: distill(value),
        ]
        with contextlib.suppress(TrajectoryNotFoundError):  # the documented "no such id"
            rejected[0] += not _accepts_or_rejects(lambda: store.get(value))
        with trajectory("api", tracer_provider=tracer_provider) as t:
            with step("s") as s:
                calls += [
                    lambda: s.set_confidence(value),
                    lambda: s.add_tokens(value, value),
                    lambda: s.set_context_embedding(value),
                    lambda: s.partial(value, value),
                    lambda: s.fail(value),
                    lambda: s.retry("r", value),
                    lambda: s.set_attribute("k", value),
                    lambda: s.add_tag(value),
                ]
                calls += [
                    lambda: t.add_lesson(value),
                    lambda: t.add_tokens(value, value),
                    lambda: t.set_query_embedding(value),
                    lambda: t.set_attribute(value, "v"),
                    lambda: t.record_model(value),
                ]
                for call in calls:
                    rejected[0] += not _accepts_or_rejects(call)
            t.partial(0.5) if not _accepts_or_rejects(lambda: t.partial(value)) else None
        assert isinstance(t.result, Trajectory)  # the SDK still records after every bad call

    run_counted("public API, arbitrary argument values", prop, n, 300)
    assert store.count() == 1  # the store took no bad value
    store.close()
    print(f"[bad-input] public API: {rejected[0]} calls rejected with TypeError/ValueError, 0 other exceptions")
    assert internal_errors.value == before
