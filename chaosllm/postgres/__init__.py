"""PostgreSQL faults: connection exhaustion, table locks, killed sessions, statement timeouts."""
