"""Background loops that share one storage: the run queue now; schedules,
sensors, run monitoring and retries in the daemon issue."""
