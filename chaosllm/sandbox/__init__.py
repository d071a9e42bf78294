"""The sandbox in the extension: its activities, its load control and its command.

``actions``, ``probes``, ``control`` and ``command`` are what experiments and
the ``chaosllm sandbox`` command use; the reference LLM-marketplace
application they drive lives in :mod:`chaosllm.sandbox.app`, installed with
the ``sandbox`` extra.
"""
