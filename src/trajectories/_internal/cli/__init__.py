"""The ``trajectories`` command line: one module per few commands, plus rendering helpers."""
