"""A code location for the run tests on the cluster harness: jobs that print,
linger, or do almost nothing, each step as its own Kubernetes Job where the
job says so. Step outputs travel through object storage (the local S3)."""

import time

from locus import Definitions, EnvVar, in_process_executor, job, k8s_job_executor, op
from locus.s3 import S3PickleIOManager, S3Resource


@op
def shout() -> int:
    print("hello from a step pod")
    return 1


@op
def linger(value: int) -> int:
    time.sleep(120)
    return value


@op
def quick() -> int:
    return 1


@job(executor_def=k8s_job_executor)
def printing():
    shout()


@job(executor_def=k8s_job_executor)
def slow():
    linger(shout())


@job(executor_def=in_process_executor)
def tiny():
    quick()


defs = Definitions(
    jobs=[printing, slow, tiny],
    resources={
        "io_manager": S3PickleIOManager(
            s3_resource=S3Resource(endpoint_url=EnvVar("LOCUS_S3_ENDPOINT_URL")),
            s3_bucket=EnvVar("LOCUS_S3_BUCKET"),
            s3_prefix="runs",
        )
    },
)
