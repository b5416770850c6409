"""One driver per tool: each runs the workload in a fresh process and prints JSON."""
