"""Content capture: off by default; when on, redacted and length-limited JSON that never breaks user code.

docs/security.md states these rules; each test here checks one of them.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers.otlp import protobuf_body
from trajectories import REDACTED, configure, redact_secrets, step, trajectory
from trajectories import attributes as A
from trajectories._internal.diagnostics import internal_errors
from trajectories._internal.export.assembly import assemble_trajectories
from trajectories._internal.instrument import step_handle
from trajectories._internal.instrument.content import fit, render_content, to_json_values
from trajectories._internal.otlp.decode import decode_protobuf
from trajectories._internal.records import record_from_span
from trajectories._internal.settings import settings as sdk_settings
from trajectories.config import content_counters

pytestmark = pytest.mark.anyio

SECRET = "hunter2-SECRET-VALUE"
FAST = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _restore_settings() -> Iterator[None]:
    saved = (sdk_settings.capture_content, sdk_settings.redact, sdk_settings.max_content_length)
    yield
    sdk_settings.capture_content, sdk_settings.redact, sdk_settings.max_content_length = saved


def all_text(spans: list[ReadableSpan]) -> str:
    """Every attribute value, event attribute and span name, as one string to search."""
    parts: list[str] = []
    for span in spans:
        parts.append(span.name)
        parts.extend(f"{k}={v!r}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            parts.extend(f"{k}={v!r}" for k, v in (event.attributes or {}).items())
    return "\n".join(parts)


def step_span(spans: list[ReadableSpan], action: str) -> ReadableSpan:
    return next(s for s in spans if (s.attributes or {}).get(A.STEP_ACTION) == action)


def text_of(span: ReadableSpan, key: str) -> str:
    value = (span.attributes or {})[key]
    assert isinstance(value, str)
    return value


# --------------------------------------------------------------------------- off by default


def test_content_capture_is_off_by_default(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    assert sdk_settings.capture_content is False
    assert inspect.signature(configure).parameters["capture_content"].default is False

    @step
    def login(user: str, password: str) -> dict[str, str]:
        return {"session": SECRET}

    with trajectory("agent", query="what is " + SECRET, tracer_provider=tracer_provider) as t:
        login("alice", SECRET)
    spans = list(span_exporter.get_finished_spans())
    assert SECRET not in all_text(spans)  # not the arguments, not the return value, not the query text
    assert t.result is not None
    assert SECRET not in t.result.to_json()
    assert not any(A.STEP_INPUT in (s.attributes or {}) or A.STEP_OUTPUT in (s.attributes or {}) for s in spans)


async def test_off_path_never_renders_content(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("content rendered while capture is off")

    monkeypatch.setattr(step_handle, "render_content", forbidden)

    @step
    def f(x: int) -> int:
        return x

    @step
    async def g(x: int) -> int:
        return x

    @step
    def gen(n: int) -> Iterator[int]:
        yield from range(n)

    with trajectory("t", tracer_provider=tracer_provider):
        assert f(1) == 1
        assert await g(2) == 2
        assert list(gen(2)) == [0, 1]


# --------------------------------------------------------------------------- on: what is recorded


def test_configure_turns_capture_on_and_default_redaction_masks_secrets(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    config = configure(tracer_provider=tracer_provider, store=False, batch=False, capture_content=True)
    try:

        @step
        def call_api(query: str, api_key: str, headers: dict[str, str], *, retries: int = 3) -> dict[str, Any]:
            return {"answer": 42, "token": SECRET, "echo": query}

        with trajectory("agent", tracer_provider=tracer_provider) as t:
            call_api("weather", SECRET, {"Authorization": f"Bearer {SECRET}", "Accept": "json"})
    finally:
        config.shutdown()
    spans = list(span_exporter.get_finished_spans())
    call = step_span(spans, "call_api")
    attrs = call.attributes or {}
    assert json.loads(text_of(call, A.STEP_INPUT)) == {
        "query": "weather",
        "api_key": REDACTED,
        "headers": {"Authorization": REDACTED, "Accept": "json"},
    }
    assert json.loads(text_of(call, A.STEP_OUTPUT)) == {"answer": 42, "token": REDACTED, "echo": "weather"}
    assert SECRET not in all_text(spans)
    # the trajectory carries them as step metadata attributes, the same in-process and from spans
    assert t.result is not None
    meta = t.result.steps[0].metadata
    assert meta is not None
    assert meta.attributes[A.STEP_INPUT_ATTRIBUTE] == attrs[A.STEP_INPUT]
    assert meta.attributes[A.STEP_OUTPUT_ATTRIBUTE] == attrs[A.STEP_OUTPUT]
    (assembled,) = assemble_trajectories([record_from_span(s) for s in spans])
    assert assembled.steps[0].metadata == meta
    (over_otlp,) = assemble_trajectories(decode_protobuf(protobuf_body(spans)).spans)
    assert over_otlp.steps[0].metadata == meta
    # and the user attributes are not duplicated under trajectory.step.attributes.*
    assert f"{A.STEP_ATTRIBUTES_PREFIX}input" not in attrs


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_passwd",
        "user_pass",
        "PASS",
        "client_secret",
        "token",
        "access_token",
        "authToken",
        "X-CSRF-Token",
        "api_key",
        "apiKey",
        "x-api-key",
        "Authorization",
        "oauth",
        "auth",
        "credentials",
        "private_key",
        "Cookie",
        "signature",
    ],
)
def test_default_redaction_masks_secret_looking_keys(key: str) -> None:
    assert redact_secrets({key: SECRET}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["max_tokens", "tokens", "input_tokens", "author", "passage", "compass", "query", "session_id"])
def test_default_redaction_leaves_ordinary_keys(key: str) -> None:
    assert redact_secrets({key: "v"}) == {key: "v"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Settings(api_key='{SECRET}', model='m')", f"Settings(api_key='{REDACTED}', model='m')"),
        (f"https://h/?access_token={SECRET}&q=1", f"https://h/?access_token={REDACTED}&q=1"),
        (f'{{"password": "{SECRET}"}}', f'{{"password": "{REDACTED}"}}'),
        (f"client_secret = {SECRET}", f"client_secret = {REDACTED}"),
        ("max_tokens=5, tokens: 7, author=me, passage: p", "max_tokens=5, tokens: 7, author=me, passage: p"),
    ],
)
def test_secret_assignments_inside_strings_are_masked(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def test_dataclass_fields_are_redacted_by_name(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    sdk_settings.capture_content = True

    @dataclass
    class Config:
        model: str
        api_key: str

    @step
    def connect(config: Config) -> str:
        return "ok"

    with trajectory("t", tracer_provider=tracer_provider):
        connect(Config("gpt", SECRET))
    text = text_of(step_span(list(span_exporter.get_finished_spans()), "connect"), A.STEP_INPUT)
    assert json.loads(text) == {"config": {"model": "gpt", "api_key": REDACTED}}


def test_bearer_credentials_inside_strings_are_masked() -> None:
    assert redact_secrets(f"curl -H 'Authorization: Bearer {SECRET}'") == f"curl -H 'Authorization: Bearer {REDACTED}'"
    assert redact_secrets(f"authorization:basic\t{SECRET}") == f"authorization:basic {REDACTED}"
    assert redact_secrets({"nested": [{"client_secret": SECRET, "Passwd": SECRET, "ok": 1}]}) == {
        "nested": [{"client_secret": REDACTED, "Passwd": REDACTED, "ok": 1}]
    }


async def test_per_step_override_beats_the_global_setting(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    @step(capture=True)
    async def on(x: int) -> int:
        return x + 1

    @step(capture=False)
    def off(x: int) -> int:
        return x + 1

    with trajectory("t", tracer_provider=tracer_provider):
        await on(1)
        off(SECRET_LEN)
        sdk_settings.capture_content = True
        off(SECRET_LEN)
    spans = list(span_exporter.get_finished_spans())
    assert json.loads(text_of(step_span(spans, "on"), A.STEP_INPUT)) == {"x": 1}
    assert json.loads(text_of(step_span(spans, "on"), A.STEP_OUTPUT)) == 2
    assert all(A.STEP_INPUT not in (s.attributes or {}) for s in spans if s.name == "off")


SECRET_LEN = len(SECRET)


def test_signature_is_read_once_at_decoration(monkeypatch: pytest.MonkeyPatch, tracer_provider: TracerProvider) -> None:
    calls = [0]
    real = inspect.signature

    def counting(obj: Any, *args: Any, **kwargs: Any) -> inspect.Signature:
        calls[0] += 1
        return real(obj, *args, **kwargs)

    monkeypatch.setattr("trajectories._internal.instrument.content.inspect.signature", counting)
    sdk_settings.capture_content = True

    @step
    def f(a: int, b: int = 2) -> int:
        return a + b

    assert calls[0] == 1
    with trajectory("t", tracer_provider=tracer_provider):
        for i in range(50):
            f(i, b=i)
    assert calls[0] == 1  # not per call

    @step(capture=False)
    def never(a: int) -> int:
        return a

    assert calls[0] == 1  # capture=False: no signature needed at all


async def test_generators_record_their_arguments_only(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    sdk_settings.capture_content = True

    @step
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    @step
    async def letters(s: str) -> Any:
        for c in s:
            yield c

    with trajectory("t", tracer_provider=tracer_provider):
        assert list(numbers(3)) == [0, 1, 2]
        assert [c async for c in letters("ab")] == ["a", "b"]
    spans = list(span_exporter.get_finished_spans())
    assert json.loads(text_of(step_span(spans, "numbers"), A.STEP_INPUT)) == {"n": 3}
    assert json.loads(text_of(step_span(spans, "letters"), A.STEP_INPUT)) == {"s": "ab"}
    assert all(A.STEP_OUTPUT not in (s.attributes or {}) for s in spans)


def test_methods_do_not_record_self(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    sdk_settings.capture_content = True

    class Agent:
        def __repr__(self) -> str:
            return f"Agent(key={SECRET})"

        @step
        def act(self, goal: str) -> str:
            return goal

    with trajectory("t", tracer_provider=tracer_provider):
        Agent().act("g")
    assert json.loads(text_of(step_span(list(span_exporter.get_finished_spans()), "act"), A.STEP_INPUT)) == {"goal": "g"}


# --------------------------------------------------------------------------- never breaks user code


@dataclass
class Point:
    x: int
    y: int


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class BadLen(list[int]):
    def __len__(self) -> int:
        raise RuntimeError("no len")

    def __iter__(self) -> Iterator[int]:
        raise RuntimeError("no iter")


def _cyclic() -> list[Any]:
    a: list[Any] = [1]
    a.append(a)
    return a


HOSTILE_VALUES: list[Any] = [
    BadRepr(),
    BadLen(),
    _cyclic(),
    {"k": _cyclic()},
    float("nan"),
    float("-inf"),
    10**5000,
    b"\x00\xff bytes",
    {1, 2, 3},
    frozenset({"a"}),
    Point(1, 2),
    object(),
    "x" * 1_000_000,
    "\ud800 lone surrogate",
    {("tuple", "key"): 1, None: 2, 3.5: "f"},
    list(range(10_000)),
    type,
    print,
]


def test_hostile_arguments_and_results_never_reach_user_code(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    sdk_settings.capture_content = True
    sdk_settings.max_content_length = 512
    before = internal_errors.value

    @step
    def echo(value: Any, *rest: Any, **extra: Any) -> Any:
        return value

    with trajectory("t", tracer_provider=tracer_provider):
        for value in HOSTILE_VALUES:
            assert echo(value, value, key=value) is value
        with pytest.raises(TypeError, match="missing 1 required"):  # the function's own error, unchanged
            echo()  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="multiple values"):
            echo(1, value=2)  # type: ignore[misc]
    spans = [s for s in span_exporter.get_finished_spans() if s.name == "echo"]
    for span in spans:
        for key in (A.STEP_INPUT, A.STEP_OUTPUT):
            text = (span.attributes or {}).get(key)
            if text is not None:
                assert isinstance(text, str)
                assert SECRET not in text
                assert len(text) <= 512
                json.loads(text)  # valid JSON, always
                text.encode("utf-8")  # and valid UTF-8 for OTLP
    assert internal_errors.value == before


def test_a_failing_redaction_hook_drops_the_content(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    sdk_settings.capture_content = True

    def broken(value: Any) -> Any:
        raise ValueError(f"cannot redact {value!r}")

    sdk_settings.redact = broken
    content_counters.reset()

    @step
    def f(password: str) -> str:
        return "ok"

    with caplog.at_level(logging.DEBUG), trajectory("t", tracer_provider=tracer_provider):
        assert f(SECRET) == "ok"  # the user's code runs on
    attrs = step_span(list(span_exporter.get_finished_spans()), "f").attributes or {}
    assert A.STEP_INPUT not in attrs  # dropped, never recorded unredacted
    assert A.STEP_OUTPUT not in attrs
    assert content_counters.redaction_failures == 2  # counted
    assert "redaction hook raised ValueError" in caplog.text  # logged...
    assert SECRET not in caplog.text  # ...without the content


def test_a_custom_redaction_hook_sees_whole_values_before_truncation(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    sdk_settings.capture_content = True
    sdk_settings.max_content_length = 64
    seen: list[Any] = []

    def redact(value: Any) -> Any:
        seen.append(value)
        return json.loads(json.dumps(value).replace(SECRET, "***"))

    sdk_settings.redact = redact
    long_text = "a" * 1000 + SECRET

    @step
    def f(text: str) -> int:
        return 0

    with trajectory("t", tracer_provider=tracer_provider):
        f(long_text)
    assert seen[0] == {"text": long_text}  # whole: a secret past the cut is still redacted
    text = text_of(step_span(list(span_exporter.get_finished_spans()), "f"), A.STEP_INPUT)
    assert SECRET not in text
    assert len(text) <= 64
    assert json.loads(text)["text"].endswith("chars]")  # the cut is marked


def test_capture_arguments_are_checked_at_the_call() -> None:
    with pytest.raises(TypeError, match="capture"):
        step(capture="yes")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="redact"):
        configure(store=False, redact="not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_content_length"):
        configure(store=False, max_content_length=10)
    with pytest.raises(TypeError, match="capture_content"):
        configure(store=False, capture_content=1)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- length limits keep JSON valid

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda children: st.lists(children, max_size=30) | st.dictionaries(st.text(max_size=40), children, max_size=30),
    max_leaves=120,
)


def test_truncation_always_gives_valid_json_within_the_limit() -> None:
    n = [0]
    cut = [0]

    @FAST
    @given(json_like, st.integers(64, 3000))
    def prop(value: Any, limit: int) -> None:
        n[0] += 1
        text = render_content(value, lambda v: v, limit)  # (redaction aside: this is about the limit)
        assert text is not None
        assert len(text) <= limit
        decoded = json.loads(text)
        full = fit(to_json_values(value, 10**9), 10**9)
        if len(full) <= limit:
            assert text == full
            assert decoded == json.loads(full)
        else:
            cut[0] += 1

    prop()
    print(f"[security] content truncation: {n[0]} values, {cut[0]} cut to fit, all valid JSON within the limit")
    assert n[0] >= 200


def test_huge_and_wide_values_cost_bounded_work() -> None:
    """The work is bounded by the limit, not by the value: a value 100 times larger (in leaves or
    characters) costs about the same. (A ratio of two runs in the same process, so that the
    machine's load cancels out; proportional work would give ~100.)"""
    import time

    def cost(value: object) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            text = render_content(value, redact_secrets, 4096)
            best = min(best, time.perf_counter() - start)
            assert text is not None
            assert len(text) <= 4096
            json.loads(text)
        return best

    def wide(n: int) -> dict[str, object]:
        return {f"k{i}": {f"j{j}": list(range(100)) for j in range(100)} for i in range(n)}

    small, large = cost(wide(1)), cost(wide(100))  # 10^4 and 10^6 leaves
    assert large < 10 * small + 0.05, (small, large)
    small, large = cost("y" * 500_000 + SECRET), cost("y" * 50_000_000 + SECRET)
    assert large < 10 * small + 0.05, (small, large)
    huge = "y" * 50_000_000 + SECRET
    assert cost([huge] * 10) < 3 * large + 0.05  # ten of them: still bounded by the limit
    cut = json.loads(render_content("z" * 10_000, redact_secrets, 100) or "null")
    assert cut.endswith(f"…[+{10_000 - len(cut.split('…')[0])} chars]")  # the count is of the original string
