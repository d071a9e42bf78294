"""One connection factory per backend.

Each factory is a context manager that resolves its settings through
:mod:`chaosllm.settings`, connects with a short timeout, accepts an injected
client for tests, and translates the backend's exceptions once, into
:mod:`chaosllm.errors`.
"""

from __future__ import annotations

DEFAULT_CONNECT_TIMEOUT = 2.0
