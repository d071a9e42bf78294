"""Tests of chaosllm workflow (Argo chaos pipelines)."""
