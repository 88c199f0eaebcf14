"""Implementation of :mod:`trajectories.instrument`: the trajectory and step API over OpenTelemetry."""
