"""The ``to_dict`` / ``to_json`` / ``from_dict`` / ``from_json`` methods of every model class.

One mixin so that every model type has the same four methods; the work is done in
:mod:`.serde` (imported on first use, since serde itself imports the model classes).
Class methods called on a base class (``StepOutcome.from_json``) read any of its variants;
called on a variant class they also check that the JSON holds that variant.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["JSONSerializable"]

_T = TypeVar("_T", bound="JSONSerializable")


class JSONSerializable:
    __slots__ = ()

    def to_dict(self) -> Any:
        """This value in ruvllm's serde form, as plain dicts, lists, strings and numbers."""
        from .serde import to_dict

        return to_dict(self)

    def to_json(self, indent: int | None = None) -> str:
        """JSON text in ruvllm's serde form: compact, or indented by *indent* spaces.

        Raises :class:`JSONFormatError` for a NaN or infinite float, which JSON cannot hold.
        """
        from .serde import dumps

        return dumps(self, indent)

    @classmethod
    def from_dict(cls: type[_T], data: Any) -> _T:
        """Read parsed JSON (dicts and lists) in ruvllm's serde form; JSONFormatError if invalid."""
        from .serde import from_dict

        return from_dict(cls, data)

    @classmethod
    def from_json(cls: type[_T], text: str | bytes) -> _T:
        """Parse JSON text in ruvllm's serde form; JSONFormatError (a ValueError) if invalid."""
        from .serde import loads

        return loads(cls, text)
