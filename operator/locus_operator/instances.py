"""Instance → the ConfigMap with ``locus.yaml``, the schema migration Job,
then (once the schema is current) the daemon and the REST API; status
conditions StorageReady, DaemonReady, ApiReady and Ready.

The services start only after the migration Job succeeded, so no daemon
ever runs against an old schema. The operator opens the Instance's database
itself (password from the Secret) to register code locations."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from locus.instance.config import (
    ComputeLogsConfig,
    K8sRunLauncherConfig,
    PostgresStorageConfig,
    RunCoordinatorConfig,
    RunMonitoringConfig,
    RunRetriesConfig,
)
from locus.k8s.instance import (
    API_PORT,
    ApiSpec,
    DaemonSpec,
    InstanceSpec,
    PostgresSpec,
    SecretKey,
    api_deployment,
    api_name,
    api_service,
    config_map_name,
    daemon_deployment,
    instance_config,
    instance_configmap,
    migration_job,
)
from locus.k8s.labels import INSTANCE_LABEL, Owner
from locus.k8s.podhealth import pod_problem
from locus.storage.base import Storage
from locus_operator.apply import apply
from locus_operator.codelocations import write_status
from locus_operator.conditions import Cond, merge_conditions
from locus_operator.context import OperatorContext
from locus_operator.resources import CodeLocation, Instance
from locus_operator.runs import (
    InstanceRuns,
    InstanceRunSettings,
    K8sRunLauncher,
    LocationRunSettings,
    make_instance,
    run_id_of,
)
from locus_operator.storages import InstanceKey, count_locations, schema_version
from locus_operator.validation import describe_validation_error

log = logging.getLogger(__name__)

KIND = "Instance"


def _settings(model: BaseModel | None, target: type[Any]) -> Any:
    """A CR section (camelCase model) as the locus.yaml model it mirrors."""
    return target.model_validate(model.model_dump(exclude_none=True) if model is not None else {})


def instance_spec(instance: Instance, namespace: str, name: str, uid: str, image: str) -> InstanceSpec:
    spec = instance.spec
    pg = spec.storage.postgres
    launcher = spec.run_launcher
    api = spec.api
    return InstanceSpec(
        name=name,
        namespace=namespace,
        image=image,
        owner=Owner(KIND, name, uid),
        postgres=PostgresSpec(
            host=pg.host,
            port=pg.port,
            database=pg.database,
            user=pg.user,
            password_secret=SecretKey(pg.password_secret_ref.name, pg.password_secret_ref.key)
            if pg.password_secret_ref
            else None,
            params=dict(pg.params or {}),
        ),
        run_coordinator=_settings(spec.run_coordinator, RunCoordinatorConfig),
        run_launcher=K8sRunLauncherConfig(
            job_namespace=launcher.job_namespace if launcher else None,
            ttl_seconds_after_finished=launcher.ttl_seconds_after_finished if launcher else None,
            backoff_limit=launcher.backoff_limit or 0 if launcher else 0,
        ),
        run_monitoring=_settings(spec.run_monitoring, RunMonitoringConfig),
        run_retries=_settings(spec.run_retries, RunRetriesConfig),
        compute_logs=_settings(spec.compute_logs, ComputeLogsConfig),
        daemon=DaemonSpec(
            resources=spec.daemon.resources if spec.daemon else None,
            pod_template=spec.daemon.pod_template if spec.daemon else None,
        ),
        api=ApiSpec(
            replicas=api.replicas if api else 1,
            resources=api.resources if api else None,
            pod_template=api.pod_template if api else None,
            auth_secret=SecretKey(api.auth_secret_ref.name, api.auth_secret_ref.key)
            if api and api.auth_secret_ref
            else None,
        ),
    )


class SecretProblem(Exception):
    pass


async def _password(ctx: OperatorContext, namespace: str, instance: Instance) -> str | None:
    ref = instance.spec.storage.postgres.password_secret_ref
    if ref is None:
        return None
    secret = await ctx.client.get("Secret", namespace, ref.name)
    if secret is None:
        raise SecretProblem(
            f"Secret {namespace}/{ref.name} (spec.storage.postgres.passwordSecretRef) does not exist: create it"
        )
    data = secret.get("data") or {}
    if ref.key not in data:
        raise SecretProblem(
            f"Secret {namespace}/{ref.name} has no key {ref.key!r} (spec.storage.postgres.passwordSecretRef.key); "
            f"it has: {', '.join(sorted(data)) or 'no keys'}"
        )
    return base64.b64decode(data[ref.key]).decode()


def storage_url(instance: Instance, password: str | None) -> str:
    pg = instance.spec.storage.postgres
    config = PostgresStorageConfig(
        host=pg.host, port=pg.port, database=pg.database, user=pg.user, password=password, params=dict(pg.params or {})
    )
    return config.to_url()


@dataclass(frozen=True)
class Observed:
    migration: Mapping[str, Any] | None
    migration_pods: list[dict[str, Any]]
    daemon: Mapping[str, Any] | None
    api: Mapping[str, Any] | None
    api_replicas: int


def _job_condition(job: Mapping[str, Any] | None, type_: str) -> bool:
    conditions = ((job or {}).get("status") or {}).get("conditions") or ()
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)


def storage_condition(obs: Observed, schema: str | None) -> Cond:
    if _job_condition(obs.migration, "Complete"):
        return Cond("StorageReady", "True", "Migrated", f"schema at revision {schema or 'unknown'}")
    if _job_condition(obs.migration, "Failed"):
        problem = next((p for p in map(pod_problem, obs.migration_pods) if p is not None), None)
        detail = f": {problem.message}" if problem is not None else ""
        name = (obs.migration or {}).get("metadata", {}).get("name", "")
        return Cond("StorageReady", "False", "MigrationFailed", f"the migration Job {name} failed{detail}")
    problem = next((p for p in map(pod_problem, obs.migration_pods) if p is not None and p.final), None)
    if problem is not None:
        return Cond("StorageReady", "False", problem.reason, f"the migration cannot run: {problem.message}")
    return Cond("StorageReady", "Unknown", "Migrating", "the schema migration Job is running")


def deployment_condition(type_: str, what: str, deployment: Mapping[str, Any] | None, replicas: int) -> Cond:
    if deployment is None:
        return Cond(type_, "False", "WaitingForStorage", f"the {what} starts once the schema is migrated")
    if replicas == 0:
        return Cond(type_, "True", "ScaledToZero", f"the {what} is scaled to zero")
    available = int(((deployment.get("status") or {}).get("availableReplicas")) or 0)
    if available >= 1:
        return Cond(type_, "True", "Available", f"{available} {what} pod(s) available")
    return Cond(type_, "False", "Starting", f"waiting for the {what} pod to become ready")


async def reconcile_instance(ctx: OperatorContext, key: InstanceKey) -> None:
    namespace, name = key
    obj = await ctx.client.get(KIND, namespace, name)
    if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
        return
    meta = obj["metadata"]
    generation = meta.get("generation")
    previous = obj.get("status") or {}
    try:
        instance = Instance.model_validate(obj)
    except ValidationError as error:
        message = describe_validation_error(KIND, name, error)
        types = ("Ready", "StorageReady", "DaemonReady", "ApiReady")
        await _write_conditions(ctx, obj, [Cond(t, "False", "InvalidSpec", message) for t in types])
        return

    spec = instance_spec(instance, namespace, name, meta["uid"], ctx.settings.system_image)
    try:
        password = await _password(ctx, namespace, instance)
    except SecretProblem as problem:
        conds = [
            Cond("Ready", "False", "SecretMissing", str(problem)),
            Cond("StorageReady", "False", "SecretMissing", str(problem)),
        ]
        await _write_conditions(ctx, obj, conds)
        return

    await apply(ctx.client, instance_configmap(spec))
    migration = (await apply(ctx.client, migration_job(spec))).obj
    job_name = migration["metadata"]["name"]
    migration_pods = await ctx.client.list("Pod", namespace, {"job-name": job_name})
    migrated = _job_condition(migration, "Complete")

    daemon = api = None
    schema = None
    locations = None
    if migrated:
        daemon = (await apply(ctx.client, daemon_deployment(spec))).obj
        api = (await apply(ctx.client, api_deployment(spec))).obj
        await apply(ctx.client, api_service(spec))
        had_storage = ctx.storages.get(key) is not None
        storage = ctx.storages.set(key, storage_url(instance, password))
        await ensure_runs(ctx, key, storage, run_settings(instance, spec))
        schema = await schema_version(storage)
        locations = await count_locations(storage)
        if not had_storage:
            _wake_locations(ctx, key)

    obs = Observed(migration, migration_pods, daemon, api, spec.api.replicas)
    storage_cond = storage_condition(obs, schema)
    daemon_cond = deployment_condition("DaemonReady", "daemon", daemon, 1)
    api_cond = deployment_condition("ApiReady", "API", api, spec.api.replicas)
    parts = [storage_cond, daemon_cond, api_cond]
    not_ready = [c for c in parts if c.status != "True"]
    if not_ready:
        ready = Cond("Ready", "False", not_ready[0].reason, not_ready[0].message)
    else:
        ready = Cond("Ready", "True", "Ready", "storage migrated, daemon and API available")
    status = {
        "observedGeneration": generation,
        "conditions": merge_conditions(previous.get("conditions"), [ready, *parts], generation),
        "schemaVersion": schema,
        "locations": locations,
        "apiEndpoint": f"http://{api_name(spec)}.{namespace}.svc:{API_PORT}",
    }
    await write_status(ctx, namespace, name, obj, status, kind=KIND)


async def _write_conditions(ctx: OperatorContext, obj: Mapping[str, Any], conds: list[Cond]) -> None:
    meta = obj["metadata"]
    generation = meta.get("generation")
    previous = (obj.get("status") or {}).get("conditions")
    status = {"observedGeneration": generation, "conditions": merge_conditions(previous, conds, generation)}
    await write_status(ctx, meta["namespace"], meta["name"], obj, status, kind=KIND)


def _wake_locations(ctx: OperatorContext, key: InstanceKey) -> None:
    if ctx.locations is None:
        return
    for location, target in list(ctx.location_instances.items()):
        if target == key:
            ctx.locations.add(location)


async def delete_instance(ctx: OperatorContext, key: InstanceKey) -> None:
    runs = ctx.runs.pop(key, None)
    if runs is not None:
        await asyncio.to_thread(runs.close)
    ctx.storages.drop(key)


def run_settings(instance: Instance, spec: InstanceSpec) -> InstanceRunSettings:
    pg = instance.spec.storage.postgres
    launcher = instance.spec.run_launcher
    return InstanceRunSettings(
        namespace=spec.namespace,
        name=spec.name,
        config_map=config_map_name(spec),
        password_secret=(pg.password_secret_ref.name, pg.password_secret_ref.key) if pg.password_secret_ref else None,
        job_namespace=launcher.job_namespace if launcher else None,
        ttl_seconds_after_finished=launcher.ttl_seconds_after_finished if launcher else None,
        pod_template=launcher.pod_template if launcher else None,
        config=instance_config(spec),
    )


async def ensure_runs(
    ctx: OperatorContext, key: InstanceKey, storage: Storage, settings: InstanceRunSettings
) -> None:
    """Start the Instance's run queue and monitor, or restart them when its settings changed."""
    current = ctx.runs.get(key)
    if current is not None and current.launcher.settings == settings and current.instance.storage is storage:
        return
    if current is not None:
        await asyncio.to_thread(current.close)
    loop = asyncio.get_running_loop()

    async def find_location(name: str) -> LocationRunSettings | None:
        return await location_run_settings(ctx, key, name)

    instance = make_instance(storage, settings.config)
    launcher = K8sRunLauncher(loop, ctx.client, instance, settings, find_location)
    # Run Jobs of the Instance's namespace still running (e.g. across an operator
    # restart) keep their queue slots; ones placed elsewhere report as they end.
    selector = {"app.kubernetes.io/component": "run", "app.kubernetes.io/instance": settings.name}
    launcher.adopt(await ctx.client.list("Job", settings.namespace, selector))
    runs = InstanceRuns(launcher, instance)
    runs.start()
    ctx.runs[key] = runs


async def location_run_settings(ctx: OperatorContext, key: InstanceKey, name: str) -> LocationRunSettings | None:
    """The CodeLocation named ``name`` among those registered with the Instance ``key``."""
    for (namespace, location_name), target in list(ctx.location_instances.items()):
        if location_name != name or target != key:
            continue
        obj = await ctx.client.get("CodeLocation", namespace, location_name)
        if obj is None:
            return None
        location = CodeLocation.model_validate(obj)
        spec = location.spec
        serving = (obj.get("status") or {}).get("image")
        return LocationRunSettings(
            namespace=namespace,
            name=location_name,
            image=serving or spec.image,
            image_pull_policy=spec.image_pull_policy,
            env=tuple(spec.env or ()),
            env_from=tuple(spec.env_from or ()),
            working_directory=spec.working_directory,
            service_account_name=spec.service_account_name,
            run_template=spec.run_template,
        )
    return None


def instance_for_child(child: Mapping[str, Any]) -> InstanceKey | None:
    """The Instance owning a ConfigMap, Job or Deployment (by owner reference)."""
    meta = child.get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") == KIND and ref.get("apiVersion", "").startswith("locus.dev/"):
            return (meta.get("namespace", ""), ref.get("name", ""))
    return None


async def run_pod_changed(ctx: OperatorContext, pod: Mapping[str, Any]) -> None:
    """A run pod changed: when it will not recover (image pull error, OOM
    kill, eviction, a worker killed mid-run...), fail its run now."""
    problem = pod_problem(pod)
    if problem is None or not problem.final:
        return
    run_id = run_id_of(pod)
    labels = (pod.get("metadata") or {}).get("labels") or {}
    instance_name = labels.get(INSTANCE_LABEL)
    for key, runs in list(ctx.runs.items()):
        if run_id is not None and key[1] == instance_name:
            name = (pod.get("metadata") or {}).get("name", "")
            await asyncio.to_thread(runs.launcher.pod_failed, run_id, name, problem)


async def run_job_changed(ctx: OperatorContext, job: Mapping[str, Any], deleted: bool) -> None:
    """A run Job finished or was deleted: free its run-queue slot."""
    labels = (job.get("metadata") or {}).get("labels") or {}
    for key, runs in list(ctx.runs.items()):
        if key[1] == labels.get(INSTANCE_LABEL):
            runs.launcher.job_changed(job, deleted)
