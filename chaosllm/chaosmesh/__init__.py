"""Chaos Mesh faults: network, pod, stress, IO, time, HTTP and DNS chaos, schedules and workflows."""
