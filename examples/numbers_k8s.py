"""The numbers assets run with one Kubernetes Job per step. Expected on a
cluster: process_numbers_asset_k8s creates one Job for the run and one per
asset step, and summed_two_sums == 55. Step outputs must travel between pods,
so the location configures an IO manager backed by object storage (S3 API;
bucket from LOCUS_S3_BUCKET) instead of the local filesystem."""
from numbers_assets import (
    filtered_even_numbers,
    filtered_odd_numbers,
    generated_numbers,
    summed_even_numbers,
    summed_odd_numbers,
    summed_two_sums,
)

from locus import AssetSelection, Definitions, EnvVar, define_asset_job, k8s_job_executor
from locus.s3 import S3PickleIOManager, S3Resource

process_numbers_asset_k8s = define_asset_job(
    name="process_numbers_asset_k8s",
    selection=AssetSelection.groups("numbers"),
    executor_def=k8s_job_executor,
)

defs = Definitions(
    assets=[
        generated_numbers,
        filtered_even_numbers,
        filtered_odd_numbers,
        summed_even_numbers,
        summed_odd_numbers,
        summed_two_sums,
    ],
    jobs=[process_numbers_asset_k8s],
    resources={
        "io_manager": S3PickleIOManager(
            s3_resource=S3Resource(endpoint_url=EnvVar("LOCUS_S3_ENDPOINT_URL")),
            s3_bucket=EnvVar("LOCUS_S3_BUCKET"),
            s3_prefix="numbers",
        ),
    },
)
