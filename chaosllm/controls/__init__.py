"""Chaos Toolkit controls: guard, blast radius, audit, approval and metrics."""
