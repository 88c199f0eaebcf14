"""The model in ruvllm's serde JSON form: ``to_dict`` / ``from_dict`` for every model type.

The shape is what ``#[derive(Serialize, Deserialize)]`` gives the Rust structs (see
docs/json.md): every field, in declaration order; ``null`` for an absent ``Option``;
externally tagged enums (a unit variant is a bare string, any other variant a one-key
object); times as RFC 3339 UTC with ``Z``; f32 values as their shortest decimal.

Reading follows serde too: unknown keys are ignored, a missing required key names the first
missing field (in field order) and where it was, and wrong types or values say what was
expected and what was found, in serde's words. All reading errors are
:class:`JSONFormatError` (a ``ValueError``) with a ``.path`` such as ``steps[2].outcome``.

Leniency, on purpose: every ``Option`` field may be absent (serde does that for ``Option``),
and so may ``TrajectoryMetadata.total_input_tokens`` / ``total_output_tokens`` (the spec gives
them a default of 0). Everything else is required. A step's confidence outside [0, 1] is
accepted as read (the spec: JSON from elsewhere is taken as it is); non-finite numbers never.

The work is split: :mod:`.serde_write` writes, :mod:`.serde_scalars` reads the leaves and
:mod:`.serde_read` the model types; this module is the one the rest of the SDK imports.
"""

from __future__ import annotations

from .jsonerror import JSONFormatError
from .serde_read import from_dict, loads
from .serde_scalars import parse_time
from .serde_write import dumps, format_time, to_dict

__all__ = ["JSONFormatError", "dumps", "format_time", "from_dict", "loads", "parse_time", "to_dict"]
