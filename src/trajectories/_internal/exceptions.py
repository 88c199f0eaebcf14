"""Every exception the SDK raises, in one place (re-exported by :mod:`trajectories.exceptions`).

Bad arguments raise the built-in ``TypeError``/``ValueError`` at the call that received them;
the classes here are for failures a caller may want to catch by kind. This module imports
nothing of the SDK, so every layer can raise these without an import cycle.
(``TrajectoryFailed``, which *user code* raises to end a trajectory with a root cause, lives
with the verdicts it makes, in the model; the public module re-exports it beside these.)
"""

from __future__ import annotations

__all__ = [
    "CorruptTrajectoryError",
    "DistillError",
    "JSONFormatError",
    "OTLPDecodeError",
    "SchemaVersionError",
    "StoreError",
    "TrajectoryNotFoundError",
    "join_path",
]


class JSONFormatError(ValueError):
    """Raised when JSON is not a valid ruvllm value, or a value cannot be written as JSON.

    ``path`` says where (``steps[2].outcome``; empty for the top level) and ``reason`` what,
    in serde's words: ``missing field `confidence```, ``invalid type: expected f32, got
    string "x"``, ``unknown variant `Foo`, expected one of ...``. ``line`` is the line
    number when the error comes from a JSON-lines file, else None.
    """

    def __init__(self, reason: str, path: str = "", line: int | None = None) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        message = f"{reason} at {path}" if path else reason
        super().__init__(message if line is None else f"line {line}: {message}")

    def with_line(self, line_no: int) -> JSONFormatError:
        """The same error, prefixed with a JSON-lines line number (``line 7: ...``)."""
        return JSONFormatError(self.reason, self.path, line_no)


def join_path(path: str, name: str) -> str:
    """``steps[2]`` + ``outcome`` -> ``steps[2].outcome``; the top level has the empty path."""
    return f"{path}.{name}" if path else name


class StoreError(Exception):
    """Raised when the database could not be opened, read or written (a missing directory,
    a locked or broken file, a server that is down)."""


class SchemaVersionError(StoreError):
    """Raised when a database's schema is newer than this version of trajectories understands,
    or older in a way it cannot migrate by itself; the message says what to do."""


class TrajectoryNotFoundError(KeyError):
    """Raised when no trajectory with the given id or uuid is stored."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "trajectory not found"


class CorruptTrajectoryError(StoreError):
    """Raised when a stored row cannot be read back as a Trajectory (its JSON is damaged)."""


class DistillError(ValueError):
    """Raised when distillation is not possible (too few trajectories); nothing was changed."""


class OTLPDecodeError(ValueError):
    """Raised when a body is not an OTLP ExportTraceServiceRequest (protobuf or JSON)."""
