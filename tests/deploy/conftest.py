"""The fake API server fixtures of the Chaos Mesh tests, for the deploy tests."""

from tests.chaosmesh.conftest import cluster, crds

__all__ = ["cluster", "crds"]
