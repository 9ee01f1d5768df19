"""Running what the definitions describe: the pure planner, run and step
execution, executors, typed events, run config and compute-log capture."""
