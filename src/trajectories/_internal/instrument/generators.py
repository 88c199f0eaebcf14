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

from .content import Binder
from .step_handle import StepCall, StepOptions

__all__ = ["wrap_async_generator", "wrap_generator"]


def wrap_generator(
    func: Callable[..., Generator[Any, Any, Any]], options: StepOptions, binder: Binder | None = None
) -> Callable[..., Generator[Any, Any, Any]]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = StepCall(options, binder, args, kwargs, generator=True)  # captures the arguments only: items stream by
        try:
            gen = func(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        call.paused()
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            call.resume()
            try:
                if to_throw is not None:
                    exc_in, to_throw = to_throw, None
                    item = gen.throw(exc_in)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                call.ended(None)
                return stop.value
            except BaseException as exc:
                call.ended(exc)
                raise
            call.paused()
            try:
                to_send = yield item
            except GeneratorExit:
                # Closed early (break, close(), garbage collection): the consumer had what it needed.
                call.resume()
                try:
                    gen.close()
                except BaseException as exc:
                    call.ended(exc)
                    raise
                call.ended(None)
                raise
            except BaseException as exc:
                to_throw = exc
                to_send = None

    return wrapper


def wrap_async_generator(
    func: Callable[..., AsyncGenerator[Any, Any]], options: StepOptions, binder: Binder | None = None
) -> Callable[..., AsyncGenerator[Any, Any]]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = StepCall(options, binder, args, kwargs, generator=True)
        try:
            agen = func(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        call.paused()
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            call.resume()
            try:
                if to_throw is not None:
                    exc_in, to_throw = to_throw, None
                    item = await agen.athrow(exc_in)
                else:
                    item = await agen.asend(to_send)
            except StopAsyncIteration:
                call.ended(None)
                return
            except BaseException as exc:
                call.ended(exc)
                raise
            call.paused()
            try:
                to_send = yield item
            except GeneratorExit:
                call.resume()
                try:
                    await agen.aclose()
                except BaseException as exc:
                    call.ended(exc)
                    raise
                call.ended(None)
                raise
            except BaseException as exc:
                to_throw = exc
                to_send = None

    return wrapper
