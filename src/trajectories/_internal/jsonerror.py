"""The one error type of JSON reading and writing, kept apart so every serde module can raise it."""

from __future__ import annotations

__all__ = ["JSONFormatError", "join_path"]


class JSONFormatError(ValueError):
    """JSON that is not a valid ruvllm value, or a value that cannot be written as JSON.

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
