"""One call to set up recording: ``configure(service_name=...)``. See docs/exporter.md."""

from ._internal.export.setup import Configuration, configure, current_configuration
from ._internal.instrument.content import REDACTED, ContentCounters, content_counters, redact_secrets

__all__ = [
    "REDACTED",
    "Configuration",
    "ContentCounters",
    "configure",
    "content_counters",
    "current_configuration",
    "redact_secrets",
]
