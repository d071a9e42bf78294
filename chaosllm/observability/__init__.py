"""Logs and traces of the design's observability stack: Loki and Jaeger probes."""
