"""What a step Job looks like: the run pod's JobPodSpec with the executor's
settings and the step's overrides merged in order (executor
step_k8s_config < per_step_k8s_config < the op's locus/k8s-config tag)."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

import locus as dg
from locus.definitions.errors import ExecutionError
from locus.execution.plan import Step, build_plan
from locus.k8s.jobs import JobPodSpec, spec_from_json, spec_to_json, step_job_name
from locus.launchers.k8s_executor import ExecutorSettings, step_job_manifest

RUN_ID = "0b9f6f6e-1111-4c1e-9a57-5b0c7d2c1a01"
OWNER = {"apiVersion": "batch/v1", "kind": "Job", "name": "locus-run-x", "uid": "u-1",
         "controller": False, "blockOwnerDeletion": False}


def _memory(limit: str) -> dict[str, Any]:
    return {"container_config": {"resources": {"limits": {"memory": limit}}}}


@dg.op(tags={"locus/k8s-config": _memory("4Gi")})
def tagged() -> int:
    return 1


@dg.op(tags={"dagster-k8s/config": {"pod_spec_config": {"nodeSelector": {"pool": "dagster"}}}})
def dagster_tagged(x: int) -> int:
    return x


@dg.op
def plain(x: int) -> int:
    return x


@dg.job
def pipeline() -> None:
    value = tagged()
    dagster_tagged(value)
    plain(value)


def _step(key: str) -> Step:
    return build_plan(pipeline).get(key)


def _base(**changes: Any) -> JobPodSpec:
    values: dict[str, Any] = {
        "namespace": "data",
        "image": "registry.example.com/app:1",
        "instance": "default",
        "location": "app",
        "config_map": "locus-default-config",
        "password_secret": ("locus-pg", "password"),
        "env": ({"name": "FROM_LOCATION", "value": "1"},),
        # What the operator merged for the run: Instance < CodeLocation < run tag.
        "overrides": ({"spec": {"containers": [{"name": "locus", "resources": {"limits": {"memory": "1Gi",
                                                                                           "cpu": "1"}}}]}},),
    }
    values.update(changes)
    # Through JSON, as the run pod reads it from $LOCUS_STEP_JOB_SPEC.
    return spec_from_json(spec_to_json(JobPodSpec(**values)))


def _container(job: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = job["spec"]["template"]["spec"]["containers"][0]
    return container


def _settings(**config: Any) -> ExecutorSettings:
    return ExecutorSettings.from_config(config, environ={"TEAM": "numbers"})


def test_step_job_is_built_like_the_run_pod() -> None:
    job = step_job_manifest(RUN_ID, _step("plain"), _base(), _settings())
    kubernetes_validate.validate(job, "1.31", strict=True)
    assert job["metadata"]["name"] == step_job_name(RUN_ID, "plain")
    assert job["metadata"]["namespace"] == "data"
    labels = job["metadata"]["labels"]
    assert labels["locus.dev/run-id"] == RUN_ID and labels["locus.dev/step-key"] == "plain"
    assert labels["app.kubernetes.io/component"] == "step"
    assert job["spec"]["backoffLimit"] == 0
    container = _container(job)
    assert container["image"] == "registry.example.com/app:1"
    assert container["command"] == ["locus", "execute", "step", RUN_ID, "plain"]
    assert container["resources"]["limits"] == {"memory": "1Gi", "cpu": "1"}
    names = [e["name"] for e in container["env"]]
    assert "FROM_LOCATION" in names and "LOCUS_PG_PASSWORD" in names
    assert "LOCUS_STEP_JOB_SPEC" not in names  # only the run pod launches steps


def test_overrides_merge_executor_then_per_step_then_op_tag() -> None:
    settings = _settings(
        step_k8s_config={**_memory("2Gi"), "pod_spec_config": {"priorityClassName": "batch"}},
        per_step_k8s_config={"tagged": _memory("3Gi"), "plain": _memory("3Gi")},
    )
    # The op's tag (4Gi) beats per-step (3Gi), which beats the executor (2Gi),
    # which beats the run's (1Gi); what a higher layer leaves out stays.
    tagged_job = step_job_manifest(RUN_ID, _step("tagged"), _base(), settings)
    assert _container(tagged_job)["resources"]["limits"] == {"memory": "4Gi", "cpu": "1"}
    plain_job = step_job_manifest(RUN_ID, _step("plain"), _base(), settings)
    assert _container(plain_job)["resources"]["limits"] == {"memory": "3Gi", "cpu": "1"}
    assert plain_job["spec"]["template"]["spec"]["priorityClassName"] == "batch"
    no_per_step = step_job_manifest(RUN_ID, _step("dagster_tagged"), _base(), settings)
    assert _container(no_per_step)["resources"]["limits"] == {"memory": "2Gi", "cpu": "1"}
    # Dagster's tag name is read too.
    assert no_per_step["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "dagster"}
    for job in (tagged_job, plain_job, no_per_step):
        kubernetes_validate.validate(job, "1.31", strict=True)


def test_executor_settings_replace_and_extend_the_run_pods() -> None:
    settings = _settings(
        job_namespace="steps",
        image_pull_policy="Always",
        service_account_name="step-runner",
        env_vars=["TEAM", "MODE=fast"],
        labels={"cost-center": "42"},
        step_k8s_config={"job_spec_config": {"activeDeadlineSeconds": 600, "ttl_seconds_after_finished": 60}},
    )
    job = step_job_manifest(RUN_ID, _step("plain"), _base(), settings, owner=OWNER)
    kubernetes_validate.validate(job, "1.31", strict=True)
    assert job["metadata"]["namespace"] == "steps"
    assert "ownerReferences" not in job["metadata"]  # an owner must be in the same namespace
    assert job["metadata"]["labels"]["cost-center"] == "42"
    assert job["spec"]["template"]["metadata"]["labels"]["cost-center"] == "42"
    assert job["spec"]["activeDeadlineSeconds"] == 600 and job["spec"]["ttlSecondsAfterFinished"] == 60
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "step-runner"
    container = _container(job)
    assert container["imagePullPolicy"] == "Always"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TEAM"] == "numbers" and env["MODE"] == "fast" and env["FROM_LOCATION"] == "1"


def test_step_jobs_are_owned_by_the_run_job_in_its_namespace() -> None:
    job = step_job_manifest(RUN_ID, _step("plain"), _base(), _settings(), owner=OWNER)
    assert job["metadata"]["ownerReferences"] == [OWNER]


def test_bad_executor_config_is_explained() -> None:
    with pytest.raises(ExecutionError, match="'MISSING', which is not set"):
        _settings(env_vars=["MISSING"])
    with pytest.raises(ExecutionError, match="image_pull_policy 'Sometimes'"):
        _settings(image_pull_policy="Sometimes")
    with pytest.raises(ExecutionError, match=r"per_step_k8s_config\['plain'\] must be a mapping"):
        _settings(per_step_k8s_config={"plain": "big"})


def test_malformed_op_tag_names_the_tag() -> None:
    @dg.op(tags={"locus/k8s-config": "{not json"})
    def broken() -> None: ...

    @dg.job
    def broken_job() -> None:
        broken()

    with pytest.raises(ValueError, match="op tag locus/k8s-config is not valid JSON"):
        step_job_manifest(RUN_ID, build_plan(broken_job).get("broken"), _base(), _settings())


def test_spec_json_round_trip_keeps_overrides_in_order() -> None:
    spec = _base(overrides=({"a": 1}, {"b": 2}))
    assert [dict(o) for o in spec_from_json(spec_to_json(spec)).overrides] == [{"a": 1}, {"b": 2}]
    assert json.loads(spec_to_json(spec))["namespace"] == "data"
