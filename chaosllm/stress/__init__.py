"""Resource stress on this machine through stress-ng: CPU, memory, disk."""
