"""Chaos Mesh actions against a fake Kubernetes API server and the real CRD schemas."""
