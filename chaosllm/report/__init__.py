"""Reports from Chaos Toolkit journals: Markdown, HTML, JUnit XML, JSON and GameDay.

Every output is built from one model, :mod:`chaosllm.report.model`.
"""
