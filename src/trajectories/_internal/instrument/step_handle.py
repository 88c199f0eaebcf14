"""The step handle: what a running step knows, and how it becomes a span and a TrajectoryStep."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ... import attributes as A
from ..diagnostics import report_internal_error
from ..model.cancellation import exception_text, is_cancellation
from ..model.outcome import FailureOutcome, StepOutcome
from ..model.trajectory import StepMetadata
from ..settings import settings
from ..validate import Embedding, check_embedding, check_int, check_str, check_str_seq, check_unit
from .content import Binder, redact_secrets, render_content
from .context import CURRENT_STEP, CURRENT_TRAJECTORY, get_tracer, restore_context
from .registry import StepRecord
from .spans import step_end_attributes, step_span_name, step_start_attributes

if TYPE_CHECKING:
    from .trajectory_handle import TrajectoryHandle

__all__ = ["StepCall", "StepHandle", "StepOptions", "begin_step"]

_logger = logging.getLogger(__name__)

_CANCELLED = StepOutcome.skipped("cancelled")
_SUCCESS = StepOutcome.success()


@dataclass(slots=True)
class StepOptions:
    """What a ``step(...)`` call fixed in advance.

    Everything a call of an unchanged step writes is built here once: the span name, the
    start attributes, and for a step that ends normally without its handle being touched,
    the end attributes and the :class:`StepMetadata` (a call then copies no dict).
    """

    action: str
    rationale: str = ""
    confidence: float = 1.0
    tool: str | None = None
    model: str | None = None
    tags: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    tracer_provider: trace.TracerProvider | None = None
    #: Content capture for this step: None follows ``configure(capture_content=...)``.
    capture: bool | None = None
    span_name: str = ""
    start_attributes: dict[str, Any] = field(default_factory=dict)
    success_metadata: StepMetadata | None = None
    success_end_attributes: dict[str, Any] = field(default_factory=dict)
    #: The start attributes followed by the success end attributes, for a step outside any trajectory:
    #: a step that ends as it started (untouched, successful) then needs no second attribute write.
    plain_start_attributes: dict[str, Any] = field(default_factory=dict)
    #: Whether the start may carry the success end attributes (not when a captured content key
    #: could take an attribute's place at the end: then the attribute must never be written).
    prewrite: bool = True
    #: :meth:`start_attributes_in`'s dict with the trajectory id and index still 0: a copy with
    #: those two set has every key in its place.
    in_trajectory_template: dict[str, Any] = field(default_factory=dict)
    # The last (provider, tracer) pair this step resolved: a call whose provider is the same
    # object skips the lookup. Reassigned as a whole tuple, so threads never see half of it.
    tracer_cache: tuple[object, trace.Tracer] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.span_name = step_span_name(self.action, self.tool)
        self.start_attributes = step_start_attributes(self.action, self.tool, self.model)
        if self.tool is not None or self.model is not None or self.tags or self.attributes:
            self.success_metadata = StepMetadata(
                tool_used=self.tool, model=self.model, tags=self.tags, attributes=dict(self.attributes)
            )
        self.success_end_attributes = step_end_attributes(_SUCCESS, self.rationale, self.confidence, self.success_metadata)
        self.plain_start_attributes = with_end_attributes(self.start_attributes, self.success_end_attributes)
        self.prewrite = A.STEP_INPUT_ATTRIBUTE not in self.attributes and A.STEP_OUTPUT_ATTRIBUTE not in self.attributes
        self.in_trajectory_template = with_end_attributes(
            {**self.start_attributes, A.TRAJECTORY_ID: 0, A.STEP_INDEX: 0}, self.success_end_attributes
        )

    def start_attributes_in(self, trajectory_id: int, index: int) -> dict[str, Any]:
        """What a step in a trajectory starts with, its success end attributes included: the start
        attributes, its trajectory's id and its index, then what it ends with if it succeeds untouched."""
        attrs = self.in_trajectory_template.copy()
        attrs[A.TRAJECTORY_ID] = trajectory_id  # keys already there keep their places
        attrs[A.STEP_INDEX] = index
        return attrs

    def tracer(self, provider: trace.TracerProvider | None) -> trace.Tracer:
        if provider is None:
            provider = trace.get_tracer_provider()
        cached = self.tracer_cache
        if cached is not None and cached[0] is provider:
            return cached[1]
        tracer = get_tracer(provider)
        self.tracer_cache = (provider, tracer)
        return tracer


def with_end_attributes(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """*start* then *end*, a repeated key moved to its place in *end*: the attributes, in the order,
    that a span started with *start* has after ``set_attributes(end)`` (which re-inserts a key it sets)."""
    out = dict(start)
    for key, value in end.items():
        out.pop(key, None)
        out[key] = value
    return out


class StepHandle:
    """The running step. Get it from ``with step(...) as s`` or :func:`current_step`.

    Setters validate their arguments and raise at the call; after the step has ended
    they are ignored (with a debug log), since the span is already gone.
    """

    __slots__ = (
        "_attributes",
        "_content",
        "_context_embedding",
        "_done",
        "_input_tokens",
        "_lock",
        "_model",
        "_options",
        "_outcome",
        "_output_tokens",
        "_prewritten",
        "_tags",
        "_tool",
        "_touched",
        "_trajectory",
        "action",
        "confidence",
        "index",
        "is_generator",
        "parent_index",
        "rationale",
        "span",
        "start_ns",
    )

    def __init__(self, options: StepOptions, trajectory: TrajectoryHandle | None, parent_index: int | None) -> None:
        self.action = options.action
        self.rationale = options.rationale
        self.confidence = options.confidence
        self._options = options
        self._tool = options.tool
        self._model = options.model
        # Copied from the options on first change only; until then the options' own.
        self._tags: list[str] | None = None
        self._attributes: dict[str, str] | None = None
        # Whether anything but the outcome changed since the step started: an untouched step
        # that succeeds ends with the end attributes and metadata its options built once.
        self._touched = False
        self._outcome: StepOutcome | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._context_embedding: Embedding | None = None
        self._content: dict[str, str] | None = None
        self._trajectory = trajectory
        # Whether the span started with the success end attributes (then an untouched step that
        # succeeds writes nothing more at its end).
        self._prewritten = False
        self._done = False
        self._lock = threading.Lock()
        self.is_generator = False
        self.parent_index = parent_index
        self.index: int | None = None
        self.span: Span = trace.INVALID_SPAN
        self.start_ns = 0

    # ---------------------------------------------------------------- public setters

    @property
    def trajectory(self) -> TrajectoryHandle | None:
        """The trajectory this step belongs to (None for a step outside any trajectory)."""
        return self._trajectory

    @property
    def outcome(self) -> StepOutcome | None:
        """The outcome set explicitly so far (None: it will be decided when the step ends)."""
        return self._outcome

    def succeed(self) -> None:
        self._set_outcome(StepOutcome.success())

    def partial(self, achieved: str, missing: str) -> None:
        self._set_outcome(StepOutcome.partial(check_str("achieved", achieved), check_str("missing", missing)))

    def fail(self, error: str) -> None:
        self._set_outcome(StepOutcome.failure(check_str("error", error)))

    def skip(self, reason: str) -> None:
        self._set_outcome(StepOutcome.skipped(check_str("reason", reason)))

    def retry(self, reason: str, suggestions: Sequence[str] = ()) -> None:
        self._set_outcome(StepOutcome.needs_retry(check_str("reason", reason), check_str_seq("suggestions", suggestions)))

    def set_confidence(self, confidence: float) -> None:
        value = check_unit("confidence", confidence)
        if self._live("set_confidence"):
            self.confidence = value
            self._touched = True

    def set_rationale(self, rationale: str) -> None:
        value = check_str("rationale", rationale)
        if self._live("set_rationale"):
            self.rationale = value
            self._touched = True

    def add_tokens(self, input: int = 0, output: int = 0) -> None:
        check_int("input", input)
        check_int("output", output)
        if self._live("add_tokens"):
            with self._lock:
                self._input_tokens = (self._input_tokens or 0) + input
                self._output_tokens = (self._output_tokens or 0) + output
                self._touched = True

    def set_model(self, model: str) -> None:
        value = check_str("model", model)
        if self._live("set_model"):
            self._model = value
            self._touched = True

    def set_tool(self, tool: str) -> None:
        value = check_str("tool", tool)
        if self._live("set_tool"):
            self._tool = value
            self._touched = True

    def add_tag(self, tag: str) -> None:
        value = check_str("tag", tag)
        if self._live("add_tag"):
            if self._tags is None:
                self._tags = list(self._options.tags)
            self._tags.append(value)
            self._touched = True

    def set_attribute(self, key: str, value: str) -> None:
        check_str("key", key)
        check_str("value", value)
        if self._live("set_attribute"):
            if self._attributes is None:
                self._attributes = dict(self._options.attributes)
            self._attributes[key] = value
            self._touched = True

    def set_context_embedding(self, embedding: Any) -> None:
        value = check_embedding("embedding", embedding)
        if self._live("set_context_embedding"):
            self._context_embedding = value
            self._touched = True

    def __repr__(self) -> str:
        return f"StepHandle(action={self.action!r}, index={self.index!r}, done={self._done})"

    def capture_content(self, key: str, value: Any) -> None:
        """Record captured content (``input``/``output``): redacted, length-limited JSON. Never raises.

        The step decorators call it when content capture is on (``configure(capture_content=True)``
        or ``@step(capture=True)``)."""
        try:
            text = render_content(value, settings.redact or redact_secrets, settings.max_content_length)
            if text is None or not self._live("capturing content"):
                return
            if self._content is None:
                self._content = {}
            self._content[key] = text
            self._touched = True  # the metadata built at decoration has no content: build this step's own
            self.span.set_attribute(A.STEP_INPUT if key == A.STEP_INPUT_ATTRIBUTE else A.STEP_OUTPUT, text)
        except Exception:
            report_internal_error("capturing a step's content", logger=_logger)

    # ---------------------------------------------------------------- internals

    def _set_outcome(self, outcome: StepOutcome) -> None:
        if self._live("setting the outcome"):
            self._outcome = outcome

    def _live(self, what: str) -> bool:
        if self._done:
            _logger.debug("%s on step %r after it ended is ignored", what, self.action)
            return False
        return True

    def activate(self) -> tuple[object, object] | None:
        """Make this step current (OTel span and our handle). Pair with :meth:`deactivate` in the same frame."""
        try:
            otel_token = otel_context.attach(trace.set_span_in_context(self.span))
        except Exception:
            report_internal_error("attaching a step's context", logger=_logger)
            return None
        return otel_token, CURRENT_STEP.set(self)

    def deactivate(self, tokens: tuple[object, object] | None) -> None:
        if tokens is not None:
            otel_token, step_token = tokens
            restore_context(otel_token, ((CURRENT_STEP, step_token),), "step", self.action)  # type: ignore[arg-type]

    def finish(self, exc: BaseException | None, *, end_ns: int | None = None, outcome: StepOutcome | None = None) -> None:
        """End the span and hand the finished step to its trajectory. Idempotent; never raises."""
        with self._lock:
            if self._done:
                return
            self._done = True
        try:
            self._finish(exc, time.time_ns() if end_ns is None else end_ns, outcome)
        except Exception:
            report_internal_error("ending a step", logger=_logger)

    def _finish(self, exc: BaseException | None, end_ns: int, forced: StepOutcome | None) -> None:
        failed = False
        if forced is not None:
            outcome = forced
        elif exc is None:
            outcome = self._outcome if self._outcome is not None else _SUCCESS
        elif is_cancellation(exc):
            outcome = _CANCELLED
        else:
            failed = True
            outcome = self._outcome if isinstance(self._outcome, FailureOutcome) else StepOutcome.failure(exception_text(exc))
        # The common case, a step that succeeded and whose handle nobody touched, writes
        # what its options built at decoration time.
        plain = not self._touched and self.parent_index is None and outcome is _SUCCESS
        metadata = self._options.success_metadata if plain else self._metadata()
        span = self.span
        try:
            if not plain:  # what the span started with is overwritten: the same keys, re-inserted
                span.set_attributes(
                    step_end_attributes(
                        outcome,
                        self.rationale,
                        self.confidence,
                        metadata,
                        content=self._content,
                        context_embedding=self._context_embedding,
                        capture_embeddings=settings.capture_embeddings,
                    )
                )
            elif not self._prewritten:
                span.set_attributes(self._options.success_end_attributes)
            if self._tool != self._options.tool:
                span.update_name(f"{A.OPERATION_EXECUTE_TOOL} {self._tool}")
            if failed and exc is not None:
                span.record_exception(exc, escaped=True)
                span.set_status(Status(StatusCode.ERROR, exception_text(exc)))
        except Exception:
            report_internal_error("setting a step span's attributes", logger=_logger)
        try:
            span.end(end_time=end_ns)
        except Exception:
            report_internal_error("ending a step span", logger=_logger)
        if self._trajectory is not None:
            index = self.index
            # Values checked when they were set (step(), the handle's setters); the TrajectoryStep
            # is built from them when the trajectory's result is first read.
            record: StepRecord | None = None
            if index is not None:
                record = StepRecord._make(
                    (
                        index,
                        span.get_span_context().span_id,
                        self.start_ns,
                        end_ns,
                        self.action,
                        self.rationale,
                        outcome,
                        self.confidence,
                        self._context_embedding,
                        metadata,
                    )
                )
            self._trajectory.registry.finished(index, record)

    def _metadata(self) -> StepMetadata | None:
        tags = self._options.tags if self._tags is None else self._tags
        attrs = dict(self._options.attributes if self._attributes is None else self._attributes)
        if self.parent_index is not None:
            attrs[A.STEP_PARENT_ATTRIBUTE] = str(self.parent_index)
        if self._content is not None:
            attrs.update(self._content)
        if (
            self._tool is None
            and self._model is None
            and self._input_tokens is None
            and self._output_tokens is None
            and not tags
            and not attrs
        ):
            return None
        return StepMetadata(
            tool_used=self._tool,
            input_tokens=self._input_tokens,
            output_tokens=self._output_tokens,
            model=self._model,
            tags=tuple(tags),
            attributes=attrs,
        )


def begin_step(options: StepOptions) -> StepHandle:
    """Start a step span under the current trajectory (if any).

    Never raises: if the span cannot be started, the handle works without one.
    """
    trajectory = CURRENT_TRAJECTORY.get()
    if trajectory is not None and trajectory.registry.closed:
        trajectory = None  # a task that outlived its trajectory: record a plain span
    parent = CURRENT_STEP.get()
    parent_index = parent.index if parent is not None and trajectory is not None and parent.trajectory is trajectory else None
    handle = StepHandle(options, trajectory, parent_index)
    handle.start_ns = start_ns = time.time_ns()
    try:
        provider = options.tracer_provider
        # A top-level step starts with what it ends with if it succeeds untouched (one attribute
        # write instead of two); a step that ends otherwise overwrites those keys at its end.
        handle._prewritten = prewrite = options.prewrite and parent_index is None
        if trajectory is None:
            # The SDK copies the dict into the span's own attributes.
            attrs = options.plain_start_attributes if prewrite else options.start_attributes
        else:
            if provider is None:
                provider = trajectory.tracer_provider
            handle.index = index = trajectory.registry.register(handle)
            if prewrite:
                attrs = options.start_attributes_in(trajectory.id_int, index)
            else:
                attrs = {**options.start_attributes, A.TRAJECTORY_ID: trajectory.id_int, A.STEP_INDEX: index}
        handle.span = options.tracer(provider).start_span(
            options.span_name, kind=SpanKind.INTERNAL, attributes=attrs, start_time=start_ns
        )
    except Exception:
        report_internal_error("starting a step", logger=_logger)
    return handle


class StepCall:
    """One call of a decorated function as a step: started (and current) when made; the wrapper
    then reports how the call ended. Shared by every kind of wrapper (sync, coroutine, generators)."""

    __slots__ = ("capturing", "handle", "tokens")

    def __init__(
        self,
        options: StepOptions,
        binder: Binder | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        generator: bool = False,
    ) -> None:
        self.handle = handle = begin_step(options)
        handle.is_generator = generator
        # Content capture off (the default): this one test is all it costs.
        self.capturing = settings.capture_content if options.capture is None else options.capture
        if self.capturing and binder is not None:
            handle.capture_content(A.STEP_INPUT_ATTRIBUTE, binder(args, kwargs))
        self.tokens = handle.activate()

    def failed(self, exc: BaseException) -> None:
        """The call raised *exc* (which the wrapper re-raises unchanged)."""
        self.handle.deactivate(self.tokens)
        self.handle.finish(exc)

    def returned(self, result: Any) -> None:
        """The call returned *result*."""
        handle = self.handle
        handle.deactivate(self.tokens)
        if self.capturing:
            handle.capture_content(A.STEP_OUTPUT_ATTRIBUTE, result)
        handle.finish(None)

    def paused(self) -> None:
        """A generator handed its creator the generator object, or its consumer an item: not current now."""
        self.handle.deactivate(self.tokens)

    def resume(self) -> None:
        """A generator's body runs again: current again until :meth:`paused` or it ends."""
        self.tokens = self.handle.activate()

    def ended(self, exc: BaseException | None) -> None:
        """A generator finished (*exc* None: returned or was closed early) or raised."""
        self.handle.deactivate(self.tokens)
        self.handle.finish(exc)
