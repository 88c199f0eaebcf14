"""Private implementation of :mod:`trajectories`. Nothing here is public API."""
