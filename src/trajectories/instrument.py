"""Record what an agent does: ``trajectory(...)``, ``@step``, and their handles.

See docs/instrumentation.md for the outcome and verdict rules, cancellation and
generator behaviour, and docs/attributes.md for the spans this writes.
"""

from ._internal.instrument.api import current_step, current_trajectory, trajectory
from ._internal.instrument.decorator import StepSpec, step
from ._internal.instrument.step_handle import StepHandle
from ._internal.instrument.trajectory_handle import TrajectoryHandle
from ._internal.model.verdict import TrajectoryFailed

__all__ = [
    "StepHandle",
    "StepSpec",
    "TrajectoryFailed",
    "TrajectoryHandle",
    "current_step",
    "current_trajectory",
    "step",
    "trajectory",
]
