"""The local TCP fault proxy: a server whose HTTP API follows Toxiproxy's.

``chaosllm proxy serve`` runs it; :mod:`chaosllm.proxy.actions` drives it (or
a real Toxiproxy server) from experiments. The data path relays bytes with
``splice(2)`` while a connection has no toxic, and through the toxic chain of
its direction otherwise.
"""
