"""The operator console: admin pages over the cores (partitions, cache, schedules)."""
