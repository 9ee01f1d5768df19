"""Code servers: one process per code location that loads the user's code
and answers over gRPC (snapshot, execution plans, schedule and sensor
evaluation, starting runs), so user code never runs in a system process."""
