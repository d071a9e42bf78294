"""The reference LLM-marketplace application that the sandbox runs.

A GraphQL gateway under a supervisor, ml-recs, an order worker, a load
generator, and the launcher that starts PostgreSQL, Redis, RabbitMQ and
Prometheus on free loopback ports; ``stack`` starts and stops them all and
``demo`` runs the scenarios on them. Installed with the ``sandbox`` extra
(``pip install 'chaosllm[sandbox]'``); the extension's activities, control
and command in :mod:`chaosllm.sandbox` reach it through its public modules.
"""
