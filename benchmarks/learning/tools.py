"""The agent's tools: one ``@step(tool=...)`` coroutine per tool of the world, calling a backend.

A rejected call raises :class:`ToolRejected`, so its step is recorded as a Failure with the
backend's message (the SDK's rule for a step that raises); the agent catches it and goes on.
The argument is recorded as the step attribute ``argument``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from trajectories import current_step, step

from .world import TOOLS, Reply

__all__ = ["TOOL_STEPS", "AcceptAll", "Backend", "ToolRejected"]


class ToolRejected(Exception):
    """The backend refused the call (wrong tool, wrong argument, too early)."""


class Backend(Protocol):
    def call(self, tool: str, arg: str) -> Reply: ...


class AcceptAll:
    """A backend that accepts every call: how a misleading memory gets recorded as a clean success."""

    def call(self, tool: str, arg: str) -> Reply:
        return Reply(True, "ok")


ToolStep = Callable[[Backend, str], Awaitable[Reply]]


def _make_tool(name: str) -> ToolStep:
    async def tool(backend: Backend, arg: str) -> Reply:
        handle = current_step()
        if handle is not None:
            handle.set_attribute("argument", arg)
        reply = backend.call(name, arg)
        if not reply.ok:
            raise ToolRejected(reply.message)
        return reply

    tool.__name__ = tool.__qualname__ = name
    return step(tool=name, rationale=f"call {name}")(tool)


#: The decorated tools, by name.
TOOL_STEPS: dict[str, ToolStep] = {name: _make_tool(name) for name in TOOLS}
