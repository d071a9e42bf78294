"""Litmus faults as Chaos Toolkit activities.

``chaosllm.litmus.actions`` runs one Litmus fault through a ChaosEngine and
waits for its ChaosResult; ``chaosllm.litmus.probes`` reads results and
engines; ``chaosllm.litmus.tolerances`` judges a result. Engines go through
the same submitter as Chaos Mesh objects (:mod:`chaosllm.chaosmesh._submit`):
blast-radius policy, halt, fault ledger, server-side dry run.
"""
