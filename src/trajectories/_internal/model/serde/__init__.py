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

The work is split: :mod:`.write` writes, :mod:`.scalars` reads the leaves and :mod:`.read`
the model types, :mod:`.f32` formats float32 values, :mod:`.jsonl` streams JSON lines; this
module is the one the rest of the SDK imports. Importing it installs it as the codec behind
the model classes' ``to_json``/``from_json`` methods (:mod:`..jsonable`).
"""

from __future__ import annotations

import sys

from ...exceptions import JSONFormatError
from ..jsonable import Codec, install_codec
from .read import from_dict, loads
from .scalars import parse_time
from .write import dumps, format_time, to_dict

__all__ = ["JSONFormatError", "dumps", "format_time", "from_dict", "loads", "parse_time", "to_dict"]

_this: Codec = sys.modules[__name__]  # the module itself provides the four functions
install_codec(_this)
