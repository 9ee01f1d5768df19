"""Executor definitions: how the steps of a run are executed. The engine
behind each lives in ``locus.execution``; here is only what users name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from locus.definitions.config_schema import Field


@dataclass(frozen=True)
class ExecutorDefinition:
    name: str
    config_schema: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    fixed_config: Mapping[str, Any] | None = None
    # Steps run in other processes, so outputs must travel through storage.
    crosses_processes: bool = False

    def configured(self, config: Mapping[str, Any], name: str | None = None) -> ExecutorDefinition:
        return replace(self, fixed_config=dict(config), name=name or self.name)


# Dagster's executor config shape, accepted so run config written for Dagster
# validates; step retries come from RetryPolicy.
_RETRIES = {"retries": Field(dict, default_value={"enabled": {}}, description="{enabled: {}} or {disabled: {}}")}

in_process_executor = ExecutorDefinition(
    name="in_process",
    config_schema={**_RETRIES},
    description="Runs every step one after another in the run's own process.",
)

multiprocess_executor = ExecutorDefinition(
    name="multiprocess",
    config_schema={
        "max_concurrent": Field(int, default_value=0, description="steps at once; 0 means one per CPU"),
        **_RETRIES,
    },
    description="Runs each step in its own child process, up to max_concurrent at once.",
    crosses_processes=True,
)

k8s_job_executor = ExecutorDefinition(
    name="k8s",
    config_schema={
        "max_concurrent": Field(int, default_value=0, description="step Jobs at once; 0 means unlimited"),
        "job_namespace": Field(str, is_required=False, description="namespace for step Jobs (default: the run's)"),
        "image_pull_policy": Field(str, is_required=False, description="Always, IfNotPresent or Never"),
        "service_account_name": Field(
            str, is_required=False, description="service account of step pods (default: the run pod's)"
        ),
        "env_vars": Field(
            [str], default_value=[], description="NAME=value, or NAME for the run pod's value, in every step pod"
        ),
        "labels": Field(dict, default_value={}, description="extra labels on step Jobs and their pods"),
        "step_k8s_config": Field(
            dict,
            default_value={},
            description="overrides for every step Job: Dagster's container_config / pod_spec_config / "
            "pod_template_spec_metadata / job_spec_config, or a PodTemplateSpec",
        ),
        "per_step_k8s_config": Field(
            dict,
            default_value={},
            description="step key -> overrides like step_k8s_config, applied after it; "
            "an op's locus/k8s-config tag applies last",
        ),
        **_RETRIES,
    },
    description="Runs each step as its own Kubernetes Job, built like the run's pod (inside a run launched by "
    "the Locus operator). Step pods need the run's storage and an IO manager they all reach (object storage, "
    "or a shared volume).",
    crosses_processes=True,
)

DEFAULT_EXECUTOR = multiprocess_executor
