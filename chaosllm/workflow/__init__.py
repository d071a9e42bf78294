"""Argo chaos pipelines: ``chaosllm workflow`` renders experiments as an Argo Workflow or CronWorkflow.

The defaults live here, not in :mod:`chaosllm.workflow.render`, so that the
``chaosllm`` command can show them without importing the renderer (and the
Chaos Mesh policy and chaoslib with it) for every other subcommand.
"""

from chaosllm import __version__

__all__ = ["DEFAULT_IMAGE", "DEFAULT_FAIL_ON"]

DEFAULT_IMAGE = f"chaosllm:{__version__}"
DEFAULT_FAIL_ON = ("failed", "aborted", "interrupted")
