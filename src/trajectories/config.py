"""One call to set up recording: ``configure(service_name=...)``. See docs/exporter.md."""

from ._internal.instrument.content import REDACTED, ContentCounters, content_counters, redact_secrets
from ._internal.setup.configuration import Configuration, current_configuration
from ._internal.setup.configure import configure
from ._internal.setup.processor import TrajectorySpanProcessor

__all__ = [
    "REDACTED",
    "Configuration",
    "ContentCounters",
    "TrajectorySpanProcessor",
    "configure",
    "content_counters",
    "current_configuration",
    "redact_secrets",
]
