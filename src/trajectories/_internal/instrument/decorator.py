"""``step``: a decorator (bare or with arguments) and a context manager.

Everything constant about a step (its name, action, tool, start attributes) is prepared
once, when the function is decorated; a call only reads the current trajectory, takes an
index and starts a span. ``functools.wraps`` and the ParamSpec overloads keep the wrapped
signature for ``inspect`` and for type checkers.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from opentelemetry import trace

from ..validate import check_opt_str, check_str, check_str_map, check_str_seq, check_unit, shown
from .content import Binder, make_binder
from .context import CURRENT_STEP
from .generators import wrap_async_generator, wrap_generator
from .step_handle import StepCall, StepHandle, StepOptions, begin_step

__all__ = ["StepSpec", "step"]

P = ParamSpec("P")
R = TypeVar("R")


class StepSpec:
    """What ``step(...)`` returns: decorate a function with it, or use it as a context manager.

    As a context manager each entry is a new step. The same object may be entered
    concurrently from several tasks (a module-level ``SEARCH = step("search")``): each
    exit finds its own step through the task's current step.
    """

    __slots__ = ("_active", "_kwargs")

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._active: dict[int, tuple[StepHandle, tuple[object, object] | None]] = {}

    def _options(self, default_action: str | None) -> StepOptions:
        kwargs = dict(self._kwargs)
        if kwargs.get("action") is None:
            if default_action is None:
                raise TypeError("step(...) used as a context manager needs an action: step('search') or step(action='search')")
            kwargs["action"] = default_action
        return StepOptions(**kwargs)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        if not callable(func):
            raise TypeError(f"step(...) decorates a function, got {type(func).__name__}: {shown(func)}")
        return _decorate(func, self._options(getattr(func, "__name__", None) or type(func).__name__))

    def __enter__(self) -> StepHandle:
        handle = begin_step(self._options(None))
        self._active[id(handle)] = (handle, handle.activate())
        return handle

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        entry = self._active.pop(id(CURRENT_STEP.get()), None)
        if entry is None:  # our context was not attached (an internal failure): the latest entry
            if not self._active:
                return
            entry = self._active.pop(next(reversed(self._active)))
        handle, tokens = entry
        handle.deactivate(tokens)
        handle.finish(exc)

    async def __aenter__(self) -> StepHandle:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"StepSpec({', '.join(f'{k}={v!r}' for k, v in self._kwargs.items() if v is not None)})"


def _decorate(func: Callable[P, R], options: StepOptions) -> Callable[P, R]:
    # The signature is read once, here; with capture=False no call ever needs it.
    binder = make_binder(func) if options.capture is not False else None
    if inspect.isasyncgenfunction(func):
        return cast("Callable[P, R]", wrap_async_generator(func, options, binder))
    if inspect.isgeneratorfunction(func):
        return cast("Callable[P, R]", wrap_generator(func, options, binder))
    if inspect.iscoroutinefunction(func):
        return cast("Callable[P, R]", _wrap_coroutine(cast("Callable[..., Awaitable[Any]]", func), options, binder))
    return _wrap_sync(func, options, binder)


def _wrap_sync(func: Callable[P, R], options: StepOptions, binder: Binder | None) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        call = StepCall(options, binder, args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        call.returned(result)
        return result

    return wrapper


def _wrap_coroutine(
    func: Callable[..., Awaitable[Any]], options: StepOptions, binder: Binder | None
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = StepCall(options, binder, args, kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        call.returned(result)
        return result

    return wrapper


@overload
def step(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def step(
    action: str | None = None,
    /,
    *,
    rationale: str = "",
    confidence: float = 1.0,
    tool: str | None = None,
    model: str | None = None,
    tags: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    capture: bool | None = None,
) -> StepSpec: ...


@overload
def step(
    *,
    action: str | None = None,
    rationale: str = "",
    confidence: float = 1.0,
    tool: str | None = None,
    model: str | None = None,
    tags: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    capture: bool | None = None,
) -> StepSpec: ...


def step(
    func_or_action: Callable[..., Any] | str | None = None,
    /,
    *,
    action: str | None = None,
    rationale: str = "",
    confidence: float = 1.0,
    tool: str | None = None,
    model: str | None = None,
    tags: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    capture: bool | None = None,
) -> Any:
    """Record a step: ``@step``, ``@step(action=..., tool=...)``, ``with step("name") as s:``.

    The action defaults to the function's name. A step with a ``tool`` is a GenAI
    ``execute_tool`` span. Arguments are checked here, so a bad one fails at decoration.
    ``capture`` overrides ``configure(capture_content=...)`` for this step: its arguments
    and return value are recorded (redacted, length-limited) as ``trajectory.step.input``
    and ``trajectory.step.output`` (see docs/security.md).
    """
    if callable(func_or_action):
        return StepSpec()(func_or_action)
    if func_or_action is not None:
        if action is not None:
            raise TypeError("step() got the action both positionally and as action=")
        action = check_str("action", func_or_action)
    if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
        raise TypeError(f"tracer_provider must be an opentelemetry TracerProvider, got {type(tracer_provider).__name__}")
    if capture is not None and not isinstance(capture, bool):
        raise TypeError(f"capture must be a bool or None, got {type(capture).__name__}: {shown(capture)}")
    return StepSpec(
        action=check_opt_str("action", action),
        rationale=check_str("rationale", rationale),
        confidence=check_unit("confidence", confidence),
        tool=check_opt_str("tool", tool),
        model=check_opt_str("model", model),
        tags=check_str_seq("tags", tags),
        attributes=check_str_map("attributes", {} if attributes is None else attributes),
        tracer_provider=tracer_provider,
        capture=capture,
    )
