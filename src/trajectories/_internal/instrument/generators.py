"""Step wrappers for generator and async generator functions.

The step's span is current only while the generator body runs: we attach its context
around each resume (``send``/``throw``/``close``, ``asend``/``athrow``/``aclose``) and
detach it before handing a value to the consumer. Tokens therefore never cross tasks or
contexts, which is what makes OpenTelemetry log "Failed to detach context" when a
generator is wrapped naively with ``use_span`` (opentelemetry-python #2606).

The span ends when the generator finishes, raises, or is closed early (``break``,
``close()``/``aclose()``, garbage collection); a generator the consumer abandoned is ended
by its trajectory when the trajectory exits.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from ... import attributes as A
from ..settings import settings
from .content import Binder
from .step_handle import StepOptions, begin_step

__all__ = ["wrap_async_generator", "wrap_generator"]


def wrap_generator(
    func: Callable[..., Generator[Any, Any, Any]], options: StepOptions, binder: Binder | None = None
) -> Callable[..., Generator[Any, Any, Any]]:
    capture = options.capture

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        handle = begin_step(options)
        handle.is_generator = True
        if binder is not None and (settings.capture_content if capture is None else capture):
            handle.capture_content(A.STEP_INPUT_ATTRIBUTE, binder(args, kwargs))  # the arguments only: items stream by
        tokens = handle.activate()
        try:
            gen = func(*args, **kwargs)
        except BaseException as exc:
            handle.deactivate(tokens)
            handle.finish(exc)
            raise
        handle.deactivate(tokens)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            tokens = handle.activate()
            try:
                if to_throw is not None:
                    exc_in, to_throw = to_throw, None
                    item = gen.throw(exc_in)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                handle.deactivate(tokens)
                handle.finish(None)
                return stop.value
            except BaseException as exc:
                handle.deactivate(tokens)
                handle.finish(exc)
                raise
            handle.deactivate(tokens)
            try:
                to_send = yield item
            except GeneratorExit:
                # Closed early (break, close(), garbage collection): the consumer had what it needed.
                tokens = handle.activate()
                try:
                    gen.close()
                except BaseException as exc:
                    handle.deactivate(tokens)
                    handle.finish(exc)
                    raise
                handle.deactivate(tokens)
                handle.finish(None)
                raise
            except BaseException as exc:
                to_throw = exc
                to_send = None

    return wrapper


def wrap_async_generator(
    func: Callable[..., AsyncGenerator[Any, Any]], options: StepOptions, binder: Binder | None = None
) -> Callable[..., AsyncGenerator[Any, Any]]:
    capture = options.capture

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        handle = begin_step(options)
        handle.is_generator = True
        if binder is not None and (settings.capture_content if capture is None else capture):
            handle.capture_content(A.STEP_INPUT_ATTRIBUTE, binder(args, kwargs))
        tokens = handle.activate()
        try:
            agen = func(*args, **kwargs)
        except BaseException as exc:
            handle.deactivate(tokens)
            handle.finish(exc)
            raise
        handle.deactivate(tokens)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            tokens = handle.activate()
            try:
                if to_throw is not None:
                    exc_in, to_throw = to_throw, None
                    item = await agen.athrow(exc_in)
                else:
                    item = await agen.asend(to_send)
            except StopAsyncIteration:
                handle.deactivate(tokens)
                handle.finish(None)
                return
            except BaseException as exc:
                handle.deactivate(tokens)
                handle.finish(exc)
                raise
            handle.deactivate(tokens)
            try:
                to_send = yield item
            except GeneratorExit:
                tokens = handle.activate()
                try:
                    await agen.aclose()
                except BaseException as exc:
                    handle.deactivate(tokens)
                    handle.finish(exc)
                    raise
                handle.deactivate(tokens)
                handle.finish(None)
                raise
            except BaseException as exc:
                to_throw = exc
                to_send = None

    return wrapper
