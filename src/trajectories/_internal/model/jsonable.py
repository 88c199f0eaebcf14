"""The ``to_dict`` / ``to_json`` / ``from_dict`` / ``from_json`` methods of every model class.

One mixin so that every model type has the same four methods. The work is done by the serde
codec (:mod:`.serde`), which imports the model classes; so that the model need not import it
back, the codec installs itself here when it is imported, and the model package imports it
(``import trajectories._internal.model`` always leaves the methods working).
Class methods called on a base class (``StepOutcome.from_json``) read any of its variants;
called on a variant class they also check that the JSON holds that variant.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

__all__ = ["Codec", "JSONSerializable", "install_codec"]

_T = TypeVar("_T", bound="JSONSerializable")


class Codec(Protocol):
    """What the serde module provides (see :mod:`.serde`)."""

    def to_dict(self, value: object) -> Any: ...
    def dumps(self, value: object, indent: int | None = None) -> str: ...
    def from_dict(self, cls: type[_T], data: Any) -> _T: ...
    def loads(self, cls: type[_T], text: str | bytes) -> _T: ...


class _Missing:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the serde codec is not installed: import trajectories._internal.model")


_codec: Codec = _Missing()


def install_codec(codec: Codec) -> None:
    """Called once by :mod:`.serde` as it is imported."""
    global _codec
    _codec = codec


class JSONSerializable:
    __slots__ = ()

    def to_dict(self) -> Any:
        """This value in ruvllm's serde form, as plain dicts, lists, strings and numbers."""
        return _codec.to_dict(self)

    def to_json(self, indent: int | None = None) -> str:
        """JSON text in ruvllm's serde form: compact, or indented by *indent* spaces.

        Raises :class:`JSONFormatError` for a NaN or infinite float, which JSON cannot hold.
        """
        return _codec.dumps(self, indent)

    @classmethod
    def from_dict(cls: type[_T], data: Any) -> _T:
        """Read parsed JSON (dicts and lists) in ruvllm's serde form; JSONFormatError if invalid."""
        return _codec.from_dict(cls, data)

    @classmethod
    def from_json(cls: type[_T], text: str | bytes) -> _T:
        """Parse JSON text in ruvllm's serde form; JSONFormatError (a ValueError) if invalid."""
        return _codec.loads(cls, text)
