"""One call to set up recording: ``configure(service_name=...)``. See docs/exporter.md."""

from ._internal.export.setup import Configuration, configure, current_configuration

__all__ = ["Configuration", "configure", "current_configuration"]
