"""The trajectory handle: a root span, the steps started under it, and the scored result."""

from __future__ import annotations

import logging
import threading
import time
import uuid as uuid_mod
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from ... import attributes as A
from ..diagnostics import report_internal_error
from ..embedding import embed_text
from ..foreign import merge_foreign
from ..model.aggregate import totals
from ..model.cancellation import is_cancellation
from ..model.constants import EMPTY_EMBEDDING, ID_MASK, elapsed_ms, ns_to_datetime
from ..model.outcome import StepOutcome
from ..model.recall import QUERY_ATTRIBUTE, RECALLED_ATTRIBUTE, RecalledMemory, decode_recalled, encode_recalled
from ..model.trajectory import (
    ScoredStep,
    Trajectory,
    TrajectoryId,
    TrajectoryMetadata,
    TrajectoryStep,
    compute_quality,
    new_trajectory_id,
)
from ..model.verdict import FailureVerdict, RootCause, Verdict
from ..records import SdkSpanView
from ..settings import settings
from ..validate import (
    Embedding,
    check_embedding,
    check_int,
    check_opt_str,
    check_str,
    check_str_map,
    check_str_seq,
    clamp_unit,
    shown,
)
from .content import redact_secrets, render_text
from .context import CURRENT_STEP, CURRENT_TRAJECTORY, get_tracer, restore_context
from .observer import track, untrack
from .registry import StepRecord, StepRegistry, build_steps, sdk_steps
from .rules import decide_verdict
from .spans import evaluation_event, root_end_attributes, root_start_attributes

__all__ = ["TrajectoryHandle"]

_logger = logging.getLogger(__name__)
_ABANDONED = StepOutcome.skipped("trajectory ended")
#: The ids of a handle whose span has not started (immutable: one of each serves every handle).
_NO_ID = TrajectoryId(0)
_NO_UUID = uuid_mod.UUID(int=0)


class TrajectoryHandle:
    """One trajectory in progress: ``with trajectory(...) as t`` / ``async with``.

    After the block, :attr:`result` holds the scored :class:`Trajectory` it recorded
    (the same one the exporter assembles from its spans).
    """

    def __init__(
        self,
        name: str,
        *,
        query: str | None = None,
        query_embedding: Any = None,
        session_id: str | None = None,
        user_id: str | None = None,
        request_type: str | None = None,
        tags: Sequence[str] = (),
        attributes: Mapping[str, str] | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.name = check_str("name", name)
        self._query = check_opt_str("query", query)
        self._query_embedding = None if query_embedding is None else check_embedding("query_embedding", query_embedding)
        self._session_id = check_opt_str("session_id", session_id)
        self._user_id = check_opt_str("user_id", user_id)
        self._request_type = check_opt_str("request_type", request_type)
        # The defaults (no tags, no attributes) need no checks.
        self._tags = [] if type(tags) is tuple and not tags else list(check_str_seq("tags", tags))
        self._attributes = {} if attributes is None else check_str_map("attributes", attributes)
        if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
            raise TypeError(f"tracer_provider must be an opentelemetry TracerProvider, got {type(tracer_provider).__name__}")
        self.tracer_provider = tracer_provider
        self._response_embedding: Embedding | None = None
        self._verdict: Verdict | None = None
        self._lessons: list[str] = []
        self._models: list[str] = []
        self._tools: list[str] = []
        self._input_tokens = 0
        self._output_tokens = 0
        self._lock = threading.Lock()
        #: The steps started under this trajectory (the instrumentation's bookkeeping).
        self.registry = StepRegistry()
        self._recalled: list[RecalledMemory] = []  # what lessons_for() gave this run (record_recall)
        self._captured_query: str | None = None  # the request text, with content capture on
        self._foreign: list[SdkSpanView] = []  # spans the SDK did not make, ended in this trajectory's trace
        self._traced = False  # registered with the observer (a real span started)
        self._sdk_steps = 0
        self._entered = False
        self._result: Trajectory | None = None  # see the result property
        self._pending_steps: list[StepRecord] | None = None  # the records its steps are built from
        self.span: Span = trace.INVALID_SPAN
        self.id = _NO_ID
        self.id_int = 0  # int(self.id), for the step spans' trajectory.id
        self.uuid = _NO_UUID
        self._start_ns = 0
        self._tokens: tuple[object, object, object] | None = None

    # ---------------------------------------------------------------- verdict

    def set_verdict(self, verdict: Verdict) -> None:
        """Set the verdict explicitly; it wins over the automatic rules."""
        if not isinstance(verdict, Verdict):
            raise TypeError(f"verdict must be a Verdict, got {type(verdict).__name__}: {shown(verdict)}")
        self._verdict = verdict

    def succeed(self) -> None:
        self.set_verdict(Verdict.success())

    def fail(self, cause: RootCause | str) -> None:
        """Failure with *cause*; a plain string becomes ``RootCause.unknown(cause)``."""
        if isinstance(cause, str):
            cause = RootCause.unknown(cause)
        if not isinstance(cause, RootCause):
            raise TypeError(f"cause must be a RootCause or str, got {type(cause).__name__}: {shown(cause)}")
        self.set_verdict(Verdict.failure(cause))

    def partial(self, completion_ratio: float) -> None:
        self.set_verdict(Verdict.partial(clamp_unit("completion_ratio", completion_ratio)))

    def recovered(self, original_failure: RootCause, reflection_attempts: int, final_quality: float) -> None:
        if not isinstance(original_failure, RootCause):
            raise TypeError(
                f"original_failure must be a RootCause, got {type(original_failure).__name__}: {shown(original_failure)}"
            )
        check_int("reflection_attempts", reflection_attempts)
        self.set_verdict(Verdict.recovered(original_failure, reflection_attempts, clamp_unit("final_quality", final_quality)))

    @property
    def verdict(self) -> Verdict | None:
        """The verdict set explicitly so far (or, after the block, the final one)."""
        return self._result.verdict if self._result is not None else self._verdict

    # ---------------------------------------------------------------- facts

    def add_lesson(self, lesson: str) -> None:
        self._lessons.append(check_str("lesson", lesson))

    def add_tokens(self, input: int = 0, output: int = 0) -> None:
        """Tokens not attributed to any step (a step's own tokens count automatically)."""
        check_int("input", input)
        check_int("output", output)
        with self._lock:
            self._input_tokens += input
            self._output_tokens += output

    def record_model(self, model: str) -> None:
        self._models.append(check_str("model", model))

    def record_tool(self, tool: str) -> None:
        self._tools.append(check_str("tool", tool))

    def add_tag(self, tag: str) -> None:
        self._tags.append(check_str("tag", tag))

    def set_attribute(self, key: str, value: str) -> None:
        self._attributes[check_str("key", key)] = check_str("value", value)

    def set_query_embedding(self, embedding: Any) -> None:
        self._query_embedding = check_embedding("embedding", embedding)

    def set_response_embedding(self, embedding: Any) -> None:
        self._response_embedding = check_embedding("embedding", embedding)

    def add_foreign(self, span: SdkSpanView) -> None:
        """A span the SDK did not make ended in this trajectory's trace (the observer's call)."""
        with self._lock:
            if not self.registry.closed:
                self._foreign.append(span)

    def add_recalled(self, memories: Sequence[RecalledMemory]) -> None:
        """Memories a recall gave this run (``record_recall``'s call); kept until the end."""
        with self._lock:
            if not self.registry.closed:
                self._recalled.extend(memories)

    @property
    def closed(self) -> bool:
        """Whether the trajectory has ended (steps started afterwards are plain spans)."""
        return self.registry.closed

    def __repr__(self) -> str:
        return f"TrajectoryHandle(name={self.name!r}, id={self.id!r}, closed={self.closed})"

    # ---------------------------------------------------------------- context manager

    def __enter__(self) -> TrajectoryHandle:
        if self._entered:
            raise RuntimeError("a trajectory handle can only be entered once; call trajectory(...) again")
        self._entered = True
        self._start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._end(exc)

    async def __aenter__(self) -> TrajectoryHandle:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._end(exc)

    def _start(self) -> None:
        # Each phase fails on its own: a span processor that raises in on_start must not
        # cost the trajectory its ids, its context or its steps.
        self._start_ns = time.time_ns()
        try:
            if settings.capture_content and self._query is not None:
                self._captured_query = render_text(self._query, settings.redact or redact_secrets, settings.max_content_length)
        except Exception:
            report_internal_error("capturing the query text", logger=_logger)
        try:
            if self._query_embedding is None and self._query is not None and settings.embedder is not None:
                self._query_embedding = embed_text(settings.embedder, self._query)
        except Exception:
            report_internal_error("embedding the query text", logger=_logger)
        try:
            self._start_span()
        except Exception:
            report_internal_error("starting a trajectory span", logger=_logger)
        if self.uuid.int == 0:  # the span failed to start: random ids all the same
            self._random_ids()
        try:
            otel_token = otel_context.attach(trace.set_span_in_context(self.span))
            self._tokens = (otel_token, CURRENT_TRAJECTORY.set(self), CURRENT_STEP.set(None))
        except Exception:
            report_internal_error("attaching a trajectory's context", logger=_logger)

    def _start_span(self) -> None:
        attrs = root_start_attributes(self.name, self._session_id, self._user_id, self._request_type)
        # A trajectory is the root of its own trace (so that its uuid, the trace id, is
        # unique even when trajectories nest or share a request); a link keeps the way
        # back to whatever span was current when it started.
        current = trace.get_current_span().get_span_context()
        links = [Link(current)] if current.is_valid else None
        span = get_tracer(self.tracer_provider).start_span(
            f"{A.OPERATION_INVOKE_AGENT} {self.name}",
            context=otel_context.Context(),
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            links=links,
            start_time=self._start_ns,
        )
        self.span = span
        sc = span.get_span_context()
        if sc.is_valid:  # the span's ids; otherwise (no SDK provider) random ones
            self.id = TrajectoryId._trusted(sc.span_id & ID_MASK)  # masked: always in range
            self.uuid = uuid_mod.UUID(int=sc.trace_id)
            self.id_int = int(self.id)
        else:
            self._random_ids()
        span.set_attribute(A.TRAJECTORY_ID, self.id_int)
        if sc.is_valid:
            track(sc.trace_id, self)
            self._traced = True

    def _random_ids(self) -> None:
        self.id = new_trajectory_id()
        self.id_int = int(self.id)
        self.uuid = uuid_mod.uuid4()

    def _end(self, exc: BaseException | None) -> None:
        tokens, self._tokens = self._tokens, None
        if tokens is not None:
            self._detach(tokens)
        try:
            self._finish(exc)
        except Exception:
            self.registry.close()
            report_internal_error("ending a trajectory", logger=_logger)

    def _detach(self, tokens: tuple[object, object, object]) -> None:
        otel_token, traj_token, step_token = tokens
        resets = [(CURRENT_STEP, step_token), (CURRENT_TRAJECTORY, traj_token)]
        restore_context(otel_token, resets, "trajectory", self.name)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- the end

    def _finish(self, exc: BaseException | None) -> None:
        end_ns = time.time_ns()
        for step in self.registry.still_open():  # abandoned generators (Success) or tasks that outlived us
            step.finish(None, end_ns=end_ns, outcome=StepOutcome.success() if step.is_generator else _ABANDONED)
        recorded = self.registry.close()
        if self._traced:
            untrack(self.uuid.int)
        with self._lock:
            foreign, self._foreign = self._foreign, []
            recalled = list(self._recalled)
        step_models: tuple[str, ...] | None = None
        step_tools: tuple[str, ...] | None = None
        steps: tuple[TrajectoryStep, ...] = ()
        scored: Sequence[ScoredStep]
        pending: list[StepRecord] | None = None
        if foreign:  # framework spans are merged among the steps: build them now
            built = build_steps(recorded)
            merged = merge_foreign(sdk_steps(recorded, built), (self.span.get_span_context().span_id,), foreign, self.name)
            scored = steps = merged.steps
            step_models, step_tools = merged.models, merged.tools
        else:  # scored as recorded (totals() reads their models and tools); built when t.result is read
            scored = pending = recorded
        self._sdk_steps = len(recorded)
        cancelled = exc is not None and is_cancellation(exc)
        verdict = decide_verdict(self._verdict, exc, scored, cancelled=cancelled)
        with self._lock:
            total = totals(
                scored,
                input_tokens=self._input_tokens,
                output_tokens=self._output_tokens,
                models=self._models,
                tools=self._tools,
                step_models=step_models,
                step_tools=step_tools,
            )
        attributes = self._final_attributes(recalled)
        # Every value was checked where it came in (the constructor, the setters, the steps'
        # setters) and the totals keep them valid, so the model's constructor checks would only
        # repeat them (the span assembly builds its trajectories the same way).
        metadata = TrajectoryMetadata._trusted(
            session_id=self._session_id,
            user_id=self._user_id,
            request_type=self._request_type,
            total_input_tokens=total.input_tokens,
            total_output_tokens=total.output_tokens,
            models_used=total.models,
            tools_invoked=total.tools,
            tags=tuple(self._tags),
            attributes={A.TRAJECTORY_NAME_ATTRIBUTE: self.name, **attributes},
        )
        result = Trajectory._trusted(
            id=self.id,
            uuid=self.uuid,
            query_embedding=self._query_embedding if self._query_embedding is not None else EMPTY_EMBEDDING,
            response_embedding=self._response_embedding,
            steps=steps,  # () while the steps are pending: filled in by the result property
            verdict=verdict,
            quality=compute_quality(scored, verdict),
            total_latency_ms=elapsed_ms(self._start_ns, end_ns),
            started_at=ns_to_datetime(self._start_ns),
            completed_at=ns_to_datetime(end_ns),
            metadata=metadata,
            lessons=tuple(self._lessons),
        )
        with self._lock:
            self._result, self._pending_steps = result, pending
        self._write_root_span(result, attributes, exc, cancelled, end_ns)

    @property
    def result(self) -> Trajectory | None:
        """The scored :class:`Trajectory` this block recorded (None until it has ended).

        Its steps are built the first time it is read: a trajectory whose result nobody reads
        does not pay for them.
        """
        if self._pending_steps is not None:
            with self._lock:
                pending, self._pending_steps = self._pending_steps, None
                if pending is not None and self._result is not None:
                    try:
                        # Before anyone holds it: the frozen result's one field left empty at the end.
                        object.__setattr__(self._result, "steps", build_steps(pending))
                    except Exception:
                        self._result = None
                        report_internal_error("building a trajectory's steps", logger=_logger)
        return self._result

    def _final_attributes(self, recalled: list[RecalledMemory]) -> dict[str, str]:
        """The user's attributes, with the captured request text and what the run recalled, *recalled*
        (the user's own ``query`` attribute wins; recalled memories merge with a ``recalled`` one)."""
        out = dict(self._attributes)
        if self._captured_query is not None:
            out.setdefault(QUERY_ATTRIBUTE, self._captured_query)
        if recalled:
            out[RECALLED_ATTRIBUTE] = encode_recalled([*decode_recalled(out.get(RECALLED_ATTRIBUTE)), *recalled])
        return out

    def _write_root_span(
        self, result: Trajectory, attributes: Mapping[str, str], exc: BaseException | None, cancelled: bool, end_ns: int
    ) -> None:
        span = self.span
        try:
            span.set_attributes(
                root_end_attributes(
                    result,
                    attributes,
                    sdk_steps=self._sdk_steps,
                    own_tokens=(self._input_tokens, self._output_tokens),
                    cancelled=cancelled,
                    capture_embeddings=settings.capture_embeddings,
                )
            )
            name, event = evaluation_event(result)
            span.add_event(name, event, timestamp=end_ns)
            if exc is not None and not cancelled:
                span.record_exception(exc, escaped=True)
            if isinstance(result.verdict, FailureVerdict):
                span.set_status(Status(StatusCode.ERROR, str(result.verdict.cause)))
        except Exception:
            report_internal_error("writing a trajectory's root span", logger=_logger)
        try:
            span.end(end_time=end_ns)
        except Exception:
            report_internal_error("ending a trajectory's root span", logger=_logger)
