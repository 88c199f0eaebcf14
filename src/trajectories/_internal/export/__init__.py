"""The trajectory exporter: finished spans become scored trajectories, delivered to sinks."""
