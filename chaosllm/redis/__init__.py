"""Redis faults: client pauses, eviction storms, synchronised expiry, memory limits."""
