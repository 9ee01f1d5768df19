"""What users declare: assets, ops, jobs, schedules, sensors, resources and
the Definitions object that registers them. Pure: no I/O, no heavy imports."""
