"""Alertmanager: which alerts fire (probes) and silences during a run (``chaosllm.controls.silence``)."""
