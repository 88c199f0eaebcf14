"""OTLP in: decoding trace requests, the HTTP receiver, collector file import."""
