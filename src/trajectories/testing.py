"""Helpers for testing code that records trajectories.

``capture_trajectories()`` is a context manager; ``trajectories_capture`` is the same as a
pytest fixture. Import the fixture into a test module or ``conftest.py`` to use it::

    from trajectories.testing import trajectories_capture  # noqa: F401

    def test_agent(trajectories_capture):
        run_agent()
        assert trajectories_capture.single().verdict.is_success
"""

from __future__ import annotations

from collections.abc import Iterator

from ._internal.export.capture import TrajectoryCapture, capture_trajectories

__all__ = ["TrajectoryCapture", "capture_trajectories"]

try:
    import pytest
except ImportError:  # pytest is not a runtime dependency: the fixture exists only where pytest does
    pass
else:
    __all__ += ["trajectories_capture"]

    @pytest.fixture
    def trajectories_capture() -> Iterator[TrajectoryCapture]:
        """The trajectories finished during the test (through the global SDK tracer provider)."""
        with capture_trajectories() as captured:
            yield captured
