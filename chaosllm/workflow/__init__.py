"""Argo chaos pipelines: ``chaosllm workflow`` renders experiments as an Argo Workflow or CronWorkflow."""
