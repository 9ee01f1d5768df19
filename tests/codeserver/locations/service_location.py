"""A location for code-server tests: a quick job, a job that sleeps (to be
canceled), a job with a config schema, and a sensor slower than its timeout."""

import os
import time

import locus as dg


@dg.op(config_schema={"limit": int, "label": dg.Field(str, default_value="x")})
def limited(context):
    return context.op_config["limit"]


@dg.job(executor_def=dg.in_process_executor)
def configured():
    limited()


@dg.op
def quick_op():
    return 1


@dg.job(executor_def=dg.in_process_executor)
def quick():
    quick_op()


@dg.op
def sleepy_op():
    time.sleep(float(os.environ.get("SLEEPY_SECONDS", "60")))


@dg.job(executor_def=dg.in_process_executor)
def sleepy():
    sleepy_op()


@dg.sensor(job=quick)
def slow_sensor(context):
    time.sleep(float(os.environ.get("SLOW_SENSOR_SECONDS", "30")))
    return dg.SkipReason("woke up")


@dg.sensor(job=quick)
def cursor_sensor(context):
    seen = int(context.cursor or 0)
    context.update_cursor(str(seen + 1))
    yield dg.RunRequest(run_key=f"tick-{seen}", tags={"seen": str(seen)})


defs = dg.Definitions(jobs=[quick, sleepy, configured], sensors=[slow_sensor, cursor_sensor])
