"""Every exception the SDK raises, for callers who catch them by kind. See each class's "Raised when…".

Bad arguments raise the built-in ``TypeError``/``ValueError`` at the call that received them.
``TrajectoryFailed`` is the one *you* raise: inside a trajectory, to end it with a root cause.
"""

from ._internal.exceptions import (
    CorruptTrajectoryError,
    DistillError,
    JSONFormatError,
    OTLPDecodeError,
    SchemaVersionError,
    StoreError,
    TrajectoryNotFoundError,
)
from ._internal.model.verdict import TrajectoryFailed

__all__ = [
    "CorruptTrajectoryError",
    "DistillError",
    "JSONFormatError",
    "OTLPDecodeError",
    "SchemaVersionError",
    "StoreError",
    "TrajectoryFailed",
    "TrajectoryNotFoundError",
]
