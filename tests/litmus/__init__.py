"""Tests of chaosllm.litmus."""
