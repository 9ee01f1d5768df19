"""The code location of the Kubernetes run workloads (``k8s_queue_to_job``, ``k8s_pod_failure``).

Copied into the location image's ``/opt/locus/app`` by ``_k8s_stack``. Both jobs run in the run pod itself
(the in-process executor, no step Jobs) and need nothing outside the pod: ``tiny`` returns at once, ``sleepy``
sleeps until its pod is killed.
"""

import time

from locus import Definitions, in_process_executor, job, op


@op
def quick() -> int:
    return 1


@op
def nap() -> int:
    time.sleep(600)
    return 1


@job(executor_def=in_process_executor)
def tiny():
    quick()


@job(executor_def=in_process_executor)
def sleepy():
    nap()


defs = Definitions(jobs=[tiny, sleepy])
