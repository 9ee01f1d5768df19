"""The Kubernetes Jobs that execute runs (``locus execute run``) and, with
``k8s_job_executor``, single steps (``locus execute step``).

Both run the code location's image with the Instance's ``locus.yaml`` (from
its ConfigMap) and database password (from its Secret), never retry at the
Job level (``backoffLimit: 0``: Locus retries runs and steps itself, with a
record of why), and are named deterministically so that creating one twice
finds the first: an existing Job means the run was already launched.

Pod settings are merged in order, later wins: the Instance's
``runLauncher.podTemplate`` < the CodeLocation's ``runTemplate`` < the run's
(or op's) ``locus/k8s-config`` tag."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from locus.k8s.labels import (
    COMPONENT_LABEL,
    LOCATION_LABEL,
    dns_name,
    label_value,
    object_meta,
    standard_labels,
)
from locus.k8s.pods import (
    LOCUS_HOME_ENV,
    LOCUS_HOME_PATH,
    apply_pod_template_overrides,
    container_security_context,
    merge_overrides,
    pod_security_context,
    writable_mounts,
    writable_volumes,
)

RUN_ID_LABEL = "locus.dev/run-id"
STEP_KEY_LABEL = "locus.dev/step-key"
K8S_CONFIG_TAG = "locus/k8s-config"
# Dagster's name for the same tag, read on ops when the Locus one is absent.
DAGSTER_K8S_CONFIG_TAG = "dagster-k8s/config"
PASSWORD_ENV = "LOCUS_PG_PASSWORD"
# The run pod's own JobPodSpec (JSON): k8s_job_executor builds step Jobs like it.
STEP_JOB_SPEC_ENV = "LOCUS_STEP_JOB_SPEC"
IMAGE_ENV = "LOCUS_CURRENT_IMAGE"
RUN_COMPONENT = "run"
STEP_COMPONENT = "step"
DEFAULT_TTL_SECONDS = 3600

PullPolicy = Literal["Always", "IfNotPresent", "Never"]


@dataclass(frozen=True)
class JobPodSpec:
    """What run and step pods share: where they run, with which image,
    configuration and secrets, and the pod template overrides in merge order."""

    namespace: str
    image: str
    instance: str
    location: str
    config_map: str | None = None
    password_secret: tuple[str, str] | None = None  # (Secret name, key)
    image_pull_policy: PullPolicy | None = None
    service_account_name: str | None = None
    env: Sequence[Mapping[str, Any]] = ()
    env_from: Sequence[Mapping[str, Any]] = ()
    working_directory: str | None = None
    ttl_seconds_after_finished: int | None = DEFAULT_TTL_SECONDS
    active_deadline_seconds: int | None = None
    overrides: Sequence[Mapping[str, Any]] = ()  # PodTemplateSpec overrides, lowest precedence first
    extra_labels: Mapping[str, str] = field(default_factory=dict)


def spec_to_json(spec: JobPodSpec) -> str:
    data = dataclasses.asdict(spec)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def spec_from_json(text: str) -> JobPodSpec:
    data = json.loads(text)
    if data.get("password_secret") is not None:
        data["password_secret"] = tuple(data["password_secret"])
    for key in ("env", "env_from", "overrides"):
        data[key] = tuple(data.get(key) or ())
    return JobPodSpec(**data)


def run_job_name(run_id: str) -> str:
    return dns_name("locus-run", run_id)


def step_job_name(run_id: str, step_key: str) -> str:
    """Hashed from run and step: step keys may be long or hold characters
    names cannot (``a.b[3]``)."""
    digest = hashlib.sha256(f"{run_id}/{step_key}".encode()).hexdigest()[:16]
    return f"locus-step-{digest}"


def k8s_config_from_tags(tags: Mapping[str, str]) -> dict[str, Any]:
    """The ``locus/k8s-config`` tag (JSON), as a pod template override.
    Dagster's shape is accepted: ``{"container_config": {...},
    "pod_spec_config": {...}, "pod_template_spec_metadata": {...}}``;
    a plain PodTemplateSpec is taken as is."""
    raw = tags.get(K8S_CONFIG_TAG)
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"tag {K8S_CONFIG_TAG} is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"tag {K8S_CONFIG_TAG} must be a JSON object")
    return dagster_k8s_config_to_template(config)


def dagster_k8s_config_to_template(config: Mapping[str, Any]) -> dict[str, Any]:
    dagster_keys = {"container_config", "pod_spec_config", "pod_template_spec_metadata", "job_spec_config"}
    if not dagster_keys & set(config):
        return dict(config)
    template: dict[str, Any] = {}
    if config.get("pod_template_spec_metadata"):
        template["metadata"] = dict(config["pod_template_spec_metadata"])
    spec: dict[str, Any] = dict(config.get("pod_spec_config") or {})
    if config.get("container_config"):
        spec["containers"] = [{**config["container_config"], "name": "locus"}]
    if spec:
        template["spec"] = spec
    return template


@dataclass(frozen=True)
class StepOverrides:
    """What ``k8s_job_executor`` changes in the run pod's JobPodSpec for a
    step Job: its executor config, and the step's pod template overrides in
    merge order (executor ``step_k8s_config`` < ``per_step_k8s_config`` <
    the op's ``locus/k8s-config`` tag), each in Dagster's shape or a plain
    PodTemplateSpec."""

    namespace: str | None = None
    image_pull_policy: PullPolicy | None = None
    service_account_name: str | None = None
    env: Sequence[Mapping[str, Any]] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    k8s_configs: Sequence[Mapping[str, Any]] = ()


def _job_spec_value(job_spec_config: Mapping[str, Any], camel: str, snake: str) -> int | None:
    value = job_spec_config.get(camel, job_spec_config.get(snake))
    return int(value) if value is not None else None


def with_step_overrides(spec: JobPodSpec, overrides: StepOverrides) -> JobPodSpec:
    """``spec`` (the run pod's) as a step Job's: executor settings replace
    the run's, executor env and labels are added, and the step's pod
    template overrides go after the run's, so they win. Of Dagster's
    ``job_spec_config``, ``activeDeadlineSeconds`` and
    ``ttlSecondsAfterFinished`` are honoured (``backoffLimit`` stays 0)."""
    templates = [dagster_k8s_config_to_template(config) for config in overrides.k8s_configs]
    deadline, ttl = spec.active_deadline_seconds, spec.ttl_seconds_after_finished
    for config in overrides.k8s_configs:
        job_spec_config = config.get("job_spec_config") or {}
        deadline = _job_spec_value(job_spec_config, "activeDeadlineSeconds", "active_deadline_seconds") or deadline
        found_ttl = _job_spec_value(job_spec_config, "ttlSecondsAfterFinished", "ttl_seconds_after_finished")
        ttl = found_ttl if found_ttl is not None else ttl
    return dataclasses.replace(
        spec,
        namespace=overrides.namespace or spec.namespace,
        image_pull_policy=overrides.image_pull_policy or spec.image_pull_policy,
        service_account_name=overrides.service_account_name or spec.service_account_name,
        env=(*spec.env, *overrides.env),
        extra_labels={**spec.extra_labels, **overrides.labels},
        overrides=(*spec.overrides, *(t for t in templates if t)),
        active_deadline_seconds=deadline,
        ttl_seconds_after_finished=ttl,
    )


def op_k8s_config(tags: Mapping[str, str]) -> dict[str, Any]:
    """An op's ``locus/k8s-config`` tag (or Dagster's ``dagster-k8s/config``),
    as given: JSON text or, from ``coerce_tags``, a JSON-encoded mapping."""
    for tag in (K8S_CONFIG_TAG, DAGSTER_K8S_CONFIG_TAG):
        raw = tags.get(tag)
        if not raw:
            continue
        try:
            config = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as error:
            raise ValueError(f"op tag {tag} is not valid JSON: {error}") from error
        if not isinstance(config, dict):
            raise ValueError(f"op tag {tag} must be a JSON object")
        return config
    return {}


def _env(spec: JobPodSpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": LOCUS_HOME_ENV, "value": LOCUS_HOME_PATH},
        {"name": IMAGE_ENV, "value": spec.image},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    if spec.password_secret is not None:
        name, key = spec.password_secret
        env.append({"name": PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}})
    env.extend(dict(var) for var in spec.env)
    return env


def _job(
    name: str, spec: JobPodSpec, component: str, command: list[str], labels: Mapping[str, str]
) -> dict[str, Any]:
    all_labels = {**standard_labels(spec.instance, component, spec.location, spec.extra_labels), **labels}
    container: dict[str, Any] = {
        "name": "locus",
        "image": spec.image,
        "command": command,
        "env": _env(spec),
        "securityContext": container_security_context(),
        "volumeMounts": writable_mounts(spec.config_map),
    }
    if spec.image_pull_policy:
        container["imagePullPolicy"] = spec.image_pull_policy
    if spec.env_from:
        container["envFrom"] = [dict(source) for source in spec.env_from]
    if spec.working_directory:
        container["workingDir"] = spec.working_directory
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": writable_volumes(spec.config_map),
        "securityContext": pod_security_context(),
    }
    if spec.service_account_name:
        pod_spec["serviceAccountName"] = spec.service_account_name
    template: dict[str, Any] = {"metadata": {"labels": dict(all_labels)}, "spec": pod_spec}
    override: dict[str, Any] = {}
    for layer in spec.overrides:
        override = merge_overrides(override, layer)
    template = apply_pod_template_overrides(template, override or None, dict(all_labels))
    job_spec: dict[str, Any] = {"backoffLimit": 0, "template": template}
    if spec.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = spec.ttl_seconds_after_finished
    if spec.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(name, spec.namespace, all_labels),
        "spec": job_spec,
    }


def run_job(run_id: str, spec: JobPodSpec) -> dict[str, Any]:
    """The Job executing run ``run_id``."""
    labels = {RUN_ID_LABEL: label_value(run_id)}
    job = _job(run_job_name(run_id), spec, RUN_COMPONENT, ["locus", "execute", "run", run_id], labels)
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": STEP_JOB_SPEC_ENV, "value": spec_to_json(spec)})
    return job


def step_job(run_id: str, step_key: str, spec: JobPodSpec) -> dict[str, Any]:
    """The Job executing one step of run ``run_id`` (``k8s_job_executor``)."""
    labels = {RUN_ID_LABEL: label_value(run_id), STEP_KEY_LABEL: label_value(step_key)}
    command = ["locus", "execute", "step", run_id, step_key]
    return _job(step_job_name(run_id, step_key), spec, STEP_COMPONENT, command, labels)


def run_selector(run_id: str) -> dict[str, str]:
    """Every Job and pod of a run: its run Job and its step Jobs."""
    return {RUN_ID_LABEL: label_value(run_id)}


def step_selector(run_id: str) -> dict[str, str]:
    """The step Jobs of a run (and their pods), not its run Job."""
    return {**run_selector(run_id), COMPONENT_LABEL: STEP_COMPONENT}


__all__ = [
    "DAGSTER_K8S_CONFIG_TAG",
    "K8S_CONFIG_TAG",
    "LOCATION_LABEL",
    "RUN_ID_LABEL",
    "STEP_JOB_SPEC_ENV",
    "STEP_KEY_LABEL",
    "JobPodSpec",
    "StepOverrides",
    "k8s_config_from_tags",
    "op_k8s_config",
    "run_job",
    "run_job_name",
    "run_selector",
    "spec_from_json",
    "spec_to_json",
    "step_job",
    "step_job_name",
    "step_selector",
    "with_step_overrides",
]
