"""SLOs over Prometheus: the SLO file, probes and tolerances."""
