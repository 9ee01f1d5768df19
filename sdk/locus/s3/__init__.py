"""Object storage (the S3 API, e.g. AWS, MinIO): ``S3Resource`` (a boto3
client from config), ``S3PickleIOManager`` (step outputs as pickles in a
bucket, so that steps in different pods can hand them over) and
``S3ComputeLogManager`` (step stdout/stderr uploaded while the step runs).

Dagster's names (``dagster_aws.s3``), imported from ``locus.s3``. boto3 is
the optional extra ``locus[s3]`` and is imported only when a client is made,
so loading a code location that uses these classes does not need it.
"""

from __future__ import annotations

from locus.s3.compute_logs import S3ComputeLogManager
from locus.s3.io_manager import S3PickleIOManager
from locus.s3.resources import S3Resource

__all__ = ["S3ComputeLogManager", "S3PickleIOManager", "S3Resource"]
