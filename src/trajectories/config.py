"""One call to set up recording: ``configure(service_name=...)``. See docs/exporter.md."""

from ._internal.export.setup import Configuration, configure, current_configuration
from ._internal.instrument.content import REDACTED, redact_secrets

__all__ = ["REDACTED", "Configuration", "configure", "current_configuration", "redact_secrets"]
