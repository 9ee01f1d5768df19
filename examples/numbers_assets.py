"""Assets, an asset job, schedules, a sensor and Definitions in one location.

Expected: materialising every asset gives summed_two_sums == 55. The sensor
yields a SkipReason while the marker file (env CHECK_FILE, default "check" in the working directory)
is absent, and one RunRequest with run_key "check_file_exists" once it exists.
"""
import os

from numbers_ops import process_numbers

import locus as dg
from locus import (
    AssetSelection,
    Definitions,
    FilesystemIOManager,
    ScheduleDefinition,
    asset,
    define_asset_job,
)


@asset(group_name="numbers", description="Generated a list of numbers from 1 to 10", kinds=["python"])
def generated_numbers():
    return list(range(1, 11))


@asset(group_name="numbers", description="Filtered even numbers from the list", kinds=["python"])
def filtered_even_numbers(generated_numbers):
    return [num for num in generated_numbers if num % 2 == 0]


@asset(group_name="numbers", description="Filtered odd numbers from the list", kinds=["python"])
def filtered_odd_numbers(generated_numbers):
    return [num for num in generated_numbers if num % 2 != 0]


@asset(group_name="numbers", description="Summed the even numbers", kinds=["python"])
def summed_even_numbers(filtered_even_numbers):
    return sum(filtered_even_numbers)


@asset(group_name="numbers", description="Summed the odd numbers", kinds=["python"])
def summed_odd_numbers(filtered_odd_numbers):
    return sum(filtered_odd_numbers)


@asset(group_name="numbers", description="Summed the two sums", kinds=["python"])
def summed_two_sums(summed_even_numbers, summed_odd_numbers):
    return summed_even_numbers + summed_odd_numbers


process_numbers_asset = define_asset_job(
    name="process_numbers_asset",
    selection=AssetSelection.groups("numbers"),
)

process_numbers_every_minute = ScheduleDefinition(
    job=process_numbers,
    cron_schedule="* * * * *",
)

process_numbers_asset_every_minute = ScheduleDefinition(
    job=process_numbers_asset,
    cron_schedule="* * * * *",
)


@dg.sensor(
    job=process_numbers,
    minimum_interval_seconds=5,
)
def check_file_sensor():
    if os.path.exists(os.environ.get("CHECK_FILE", "check")):
        yield dg.RunRequest(
            run_key="check_file_exists",
        )
    else:
        yield dg.SkipReason("check file not exists")


defs = Definitions(
    assets=[
        generated_numbers,
        filtered_even_numbers,
        filtered_odd_numbers,
        summed_even_numbers,
        summed_odd_numbers,
        summed_two_sums,
    ],
    jobs=[
        process_numbers,
        process_numbers_asset,
    ],
    schedules=[
        process_numbers_every_minute,
        process_numbers_asset_every_minute,
    ],
    sensors=[
        check_file_sensor,
    ],
    resources={"io_manager": FilesystemIOManager(base_dir=os.environ.get("IO_BASE_DIR", ".locus/storage"))},
)
