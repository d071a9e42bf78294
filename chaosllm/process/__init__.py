"""Process faults on this machine: kill, suspend and resume (the local
analogue of pod-kill and pod-failure), and a process count probe."""
