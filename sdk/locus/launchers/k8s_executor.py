"""``k8s_job_executor``: each step of a run as its own Kubernetes Job.

It runs inside the run's pod (``locus execute run``). The engine lives below
this layer and must not import Kubernetes code, so it imports this module by
name for the executor called ``k8s`` (``execution/engine.py``): the one
plugin point, with the same signature as ``run_multiprocess``.

For each step, in dependency order and at most ``max_concurrent`` at once,
it creates a step Job (``locus execute step RUN_ID STEP_KEY``) built like the
run pod itself (its JobPodSpec comes in ``$LOCUS_STEP_JOB_SPEC``) with the
executor's settings and the step's overrides merged in order: executor
``step_k8s_config`` < ``per_step_k8s_config[step]`` < the op's
``locus/k8s-config`` tag. An existing Job of that name means the step was
already launched. A step's own STEP_SUCCESS / STEP_FAILURE event (the step
process writes to the run's storage directly) decides its result; a step
that cannot report one (image pull error, OOM kill, eviction, deadline,
unschedulable too long, Job gone) is failed here with the pod's problem in
words, and its Job deleted. When the run stops early (SIGTERM, an error),
every step Job of the run is deleted with its pods before returning.

The run pod's service account needs: ``batch/jobs`` get, list, create,
delete; ``pods`` list, delete.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from locus.definitions.errors import ExecutionError
from locus.execution.engine import (
    Emitter,
    RunCanceled,
    RunSpec,
    refuse_in_memory_outputs,
    skip_if_blocked,
)
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.plan import ExecutionPlan, Step
from locus.execution.store import ExecutionInstance
from locus.k8s.client import JOBS, PODS, KubernetesApiError, KubernetesClient
from locus.k8s.jobs import (
    STEP_JOB_SPEC_ENV,
    STEP_KEY_LABEL,
    JobPodSpec,
    PullPolicy,
    StepOverrides,
    op_k8s_config,
    run_job_name,
    spec_from_json,
    step_job,
    step_job_name,
    step_selector,
    with_step_overrides,
)
from locus.k8s.labels import label_value
from locus.k8s.podhealth import PodProblem, pod_problem

POLL_INTERVAL = 0.5
# A pending pod may wait for the cluster autoscaler to add a node.
UNSCHEDULABLE_TIMEOUT = 300.0
# How long the API server may be unreachable before the run gives up.
API_OUTAGE_TIMEOUT = 60.0
# How long termination waits for step pods to be gone.
CLEANUP_TIMEOUT = 10.0
TERMINAL = {EventType.STEP_SUCCESS: True, EventType.STEP_FAILURE: False}
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


# -- configuration (pure) -------------------------------------------------------


def parse_env_vars(entries: Sequence[str], environ: Mapping[str, str]) -> list[dict[str, str]]:
    """Executor ``env_vars``: ``NAME=value``, or ``NAME`` for the run pod's
    own value (as in Dagster)."""
    env: list[dict[str, str]] = []
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep:
            if name not in environ:
                raise ExecutionError(
                    f"k8s_job_executor env_vars names {name!r}, which is not set in the run's environment",
                    f"give a value (env_vars: ['{name}=...']) or set {name} for the run pod",
                )
            value = environ[name]
        env.append({"name": name, "value": value})
    return env


@dataclass(frozen=True)
class ExecutorSettings:
    """The validated executor config of a run, ready to apply."""

    max_concurrent: int = 0  # 0: unlimited
    base: StepOverrides = field(default_factory=StepOverrides)
    step_k8s_config: Mapping[str, Any] = field(default_factory=dict)
    per_step_k8s_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @staticmethod
    def from_config(config: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> ExecutorSettings:
        policy = config.get("image_pull_policy")
        if policy is not None and policy not in PULL_POLICIES:
            raise ExecutionError(
                f"k8s_job_executor image_pull_policy {policy!r} is not one of {', '.join(PULL_POLICIES)}",
                "fix execution.config.image_pull_policy",
            )
        per_step = config.get("per_step_k8s_config") or {}
        for key, value in per_step.items():
            if not isinstance(value, Mapping):
                raise ExecutionError(
                    f"k8s_job_executor per_step_k8s_config[{key!r}] must be a mapping, got {type(value).__name__}",
                    "give container_config / pod_spec_config / ... for each step key",
                )
        return ExecutorSettings(
            max_concurrent=max(0, int(config.get("max_concurrent") or 0)),
            base=StepOverrides(
                namespace=config.get("job_namespace") or None,
                image_pull_policy=cast(PullPolicy | None, policy),
                service_account_name=config.get("service_account_name") or None,
                env=tuple(parse_env_vars(config.get("env_vars") or (), environ)),
                labels={str(k): str(v) for k, v in (config.get("labels") or {}).items()},
            ),
            step_k8s_config=dict(config.get("step_k8s_config") or {}),
            per_step_k8s_config={str(k): dict(v) for k, v in per_step.items()},
        )

    def overrides_for(self, step_key: str, op_tags: Mapping[str, str]) -> StepOverrides:
        """Executor settings plus the step's pod overrides, in merge order."""
        layers = (self.step_k8s_config, self.per_step_k8s_config.get(step_key) or {}, op_k8s_config(op_tags))
        return StepOverrides(
            namespace=self.base.namespace,
            image_pull_policy=self.base.image_pull_policy,
            service_account_name=self.base.service_account_name,
            env=self.base.env,
            labels=self.base.labels,
            k8s_configs=tuple(layer for layer in layers if layer),
        )


def step_job_manifest(
    run_id: str, step: Step, base: JobPodSpec, settings: ExecutorSettings, owner: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The Job executing ``step``; ``owner`` (the run's Job) garbage-collects it."""
    spec = with_step_overrides(base, settings.overrides_for(step.key, step.node.op.tags))
    job = step_job(run_id, step.key, spec)
    if owner is not None and spec.namespace == base.namespace:
        job["metadata"]["ownerReferences"] = [dict(owner)]
    return job


# -- step health (pure) ---------------------------------------------------------


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind and cond.get("status") == "True":
            return cast(Mapping[str, Any], cond)
    return None


def step_trouble(job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]]) -> PodProblem | None:
    """Why a launched step's Job will not (or may not) report a result; the
    caller first checks the step's own events. ``final=False`` problems
    (unschedulable) may still resolve."""
    if job is None:
        return PodProblem("JobDeleted", "its Job was deleted before the step reported a result", True)
    failed = _condition(job, "Failed")
    if failed is not None and failed.get("reason") not in (None, "", "BackoffLimitExceeded"):
        reason = str(failed["reason"])
        return PodProblem(reason, f"its Job failed ({reason}): {failed.get('message', '')}", True)
    problems = [p for p in map(pod_problem, pods) if p is not None]
    final = [p for p in problems if p.final]
    if final:
        return final[0]
    if failed is not None:
        return PodProblem("JobFailed", f"its Job failed: {failed.get('message') or failed.get('reason')}", True)
    if _condition(job, "Complete") is not None:
        return PodProblem("NoResult", "its Job completed but the step reported no result", True)
    return next((p for p in problems if p.reason == "Unschedulable"), None)


# -- the executor ---------------------------------------------------------------


@dataclass
class _Launched:
    job_name: str
    unschedulable_since: float | None = None
    missing_polls: int = 0


class _StepJobs:
    """One run's step Jobs, from launch to result or deletion."""

    def __init__(
        self,
        spec: RunSpec,
        plan: ExecutionPlan,
        instance: ExecutionInstance,
        emit: Emitter,
        client: KubernetesClient,
        base: JobPodSpec,
        settings: ExecutorSettings,
    ) -> None:
        self.spec, self.plan, self.instance, self.emit = spec, plan, instance, emit
        self.client, self.base, self.settings = client, base, settings
        self.run_id = spec.run.run_id
        self.namespace = settings.base.namespace or base.namespace
        self.selector = step_selector(self.run_id)
        self.status: dict[str, bool | None] = {}
        self.running: dict[str, _Launched] = {}
        self.seen: set[int] = set()  # storage ids already in the run's result (ours or forwarded)
        self.cursor = max((r.storage_id for r in instance.get_events(self.run_id)), default=0)
        self.outage_since: float | None = None
        self.owner: dict[str, Any] | None = None

    # events ------------------------------------------------------------------

    def own(self, event: Event) -> None:
        """Store an event this process writes, and keep it for the result."""
        self.seen.add(self.instance.store_event(event))
        self.emit.events.append(event)
        if self.emit.on_event is not None:
            self.emit.on_event(event)

    def _forward(self, storage_id: int, event: Event) -> None:
        """An event a step process stored: into the result and the progress display."""
        if storage_id in self.seen:
            return
        self.seen.add(storage_id)
        self.emit.events.append(event)
        if self.emit.on_event is not None:
            self.emit.on_event(event)

    def _fail(self, step_key: str, problem: PodProblem, delete_job: bool) -> None:
        launched = self.running.pop(step_key, None)
        self.status[step_key] = False
        error = ErrorInfo(problem.reason, problem.message, "")
        data: dict[str, Any] = {"reason": problem.reason}
        if launched is not None:
            data["job_name"] = launched.job_name
        self.own(Event(self.run_id, EventType.STEP_FAILURE, f"{step_key} failed: {problem.message}", step_key,
                       "ERROR", error=error, data=data))
        if delete_job and launched is not None:
            with contextlib.suppress(KubernetesApiError):
                self.client.delete(JOBS, launched.job_name, self.namespace)

    # launching -----------------------------------------------------------------

    def _find_owner(self) -> None:
        """The run's own Job, when this run is one: step Jobs are then
        deleted with it even if this process is killed outright."""
        with contextlib.suppress(KubernetesApiError):
            job = self.client.get(JOBS, run_job_name(self.run_id), self.base.namespace)
            uid = ((job or {}).get("metadata") or {}).get("uid")
            if job is not None and uid:
                self.owner = {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"], "uid": uid,
                              "controller": False, "blockOwnerDeletion": False}

    def _launch(self, step: Step) -> None:
        name = step_job_name(self.run_id, step.key)
        try:
            manifest = step_job_manifest(self.run_id, step, self.base, self.settings, self.owner)
        except ValueError as exc:  # a malformed locus/k8s-config tag
            self._fail(step.key, PodProblem("InvalidConfig", str(exc), True), delete_job=False)
            return
        self.running[step.key] = _Launched(name)
        try:
            self.client.create(JOBS, manifest, self.namespace)
        except KubernetesApiError as exc:
            if not exc.already_exists:
                hint = (f"; the run pod's service account needs to create Jobs in namespace {self.namespace}"
                        if exc.status == 403 else "")
                problem = PodProblem(exc.reason or "CreateFailed", f"could not create Job {name}: {exc.message}{hint}",
                                     True)
                self._fail(step.key, problem, delete_job=False)
                return
            self.own(Event(self.run_id, EventType.ENGINE_EVENT, f"{step.key} was already launched as Job {name}",
                           step.key, data={"job_name": name, "namespace": self.namespace}))
            return
        self.own(Event(self.run_id, EventType.ENGINE_EVENT, f"{step.key} launched as Job {name}", step.key,
                       data={"job_name": name, "namespace": self.namespace}))

    def _launch_ready(self, pending: list[Step]) -> None:
        limit = self.settings.max_concurrent
        progressed = True
        while progressed:
            progressed = False
            for step in list(pending):
                if skip_if_blocked(step, self.status, self.run_id, self.own):
                    pending.remove(step)
                    progressed = True
                elif all(self.status.get(u) is True for u in step.upstream) and (
                    not limit or len(self.running) < limit
                ):
                    pending.remove(step)
                    self._launch(step)
                    progressed = True

    # watching ------------------------------------------------------------------

    def _poll(self) -> None:
        # Cluster state first, events second: a step process writes its
        # result before it exits, so a finished pod's result is never missed.
        jobs = {job["metadata"]["name"]: job for job in self.client.list(JOBS, self.namespace, self.selector)}
        pods: dict[str, list[dict[str, Any]]] = {}
        for pod in self.client.list(PODS, self.namespace, self.selector):
            pods.setdefault(((pod.get("metadata") or {}).get("labels") or {}).get(STEP_KEY_LABEL, ""), []).append(pod)
        for record in self.instance.get_events(self.run_id, after_id=self.cursor):
            self.cursor = max(self.cursor, record.storage_id)
            self._forward(record.storage_id, record.event)
        # Results are read in full each time: with concurrent writers, ids may
        # commit out of order, and a cursor alone could step over one.
        for record in self.instance.get_events(self.run_id, event_types=list(TERMINAL)):
            event = record.event
            self._forward(record.storage_id, event)
            if event.step_key in self.running:
                del self.running[event.step_key]
                self.status[event.step_key] = TERMINAL[event.event_type]
        now = time.monotonic()
        for step_key, launched in list(self.running.items()):
            job = jobs.get(launched.job_name)
            launched.missing_polls = launched.missing_polls + 1 if job is None else 0
            if job is None and launched.missing_polls < 2:
                continue
            problem = step_trouble(job, pods.get(label_value(step_key), []))
            if problem is None or (not problem.final and problem.reason != "Unschedulable"):
                launched.unschedulable_since = None
                continue
            if not problem.final:
                since = launched.unschedulable_since = launched.unschedulable_since or now
                if now - since < UNSCHEDULABLE_TIMEOUT:
                    continue
                problem = PodProblem(problem.reason, f"{problem.message} (for {now - since:.0f} s)", True)
            self._fail(step_key, problem, delete_job=True)

    def _poll_tolerating_outages(self) -> None:
        try:
            self._poll()
        except KubernetesApiError as exc:
            if exc.status not in (0, 429) and exc.status < 500:
                raise ExecutionError(
                    f"k8s_job_executor cannot watch the run's step Jobs: {exc}",
                    "the run pod's service account needs get/list/create/delete on jobs and list/delete on pods",
                ) from exc
            now = time.monotonic()
            self.outage_since = self.outage_since or now
            if now - self.outage_since > API_OUTAGE_TIMEOUT:
                raise ExecutionError(
                    f"the Kubernetes API was unreachable for {API_OUTAGE_TIMEOUT:.0f} s: {exc}",
                    "check the cluster's API server and the run pod's network",
                ) from exc
            return
        self.outage_since = None

    def run(self) -> dict[str, bool | None]:
        pending = list(self.plan.steps)
        try:
            self._find_owner()
            while True:
                self._launch_ready(pending)
                if not self.running:
                    break
                time.sleep(POLL_INTERVAL)
                self._poll_tolerating_outages()
        except BaseException:
            self._delete_all()
            raise
        return self.status

    # termination ---------------------------------------------------------------

    def _delete_round(self) -> bool:
        """Delete what is left; True when no step Job or pod remains."""
        jobs = self.client.list(JOBS, self.namespace, self.selector)
        for job in jobs:
            self.client.delete(JOBS, job["metadata"]["name"], self.namespace, propagation="Background")
        # Background propagation deletes the pods soon; deleting them too
        # starts their shutdown now.
        pods = self.client.list(PODS, self.namespace, self.selector)
        for pod in pods:
            if not pod["metadata"].get("deletionTimestamp"):
                self.client.delete(PODS, pod["metadata"]["name"], self.namespace, propagation=None)
        return not jobs and not pods

    def _delete_all(self) -> None:
        """Every step Job of the run and its pods, however this run ends early."""
        deadline = time.monotonic() + CLEANUP_TIMEOUT
        error: Exception | None = None
        while True:
            try:
                if self._delete_round():
                    self._note("deleted the run's step Jobs and their pods")
                    return
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            except RunCanceled:
                continue  # asked to stop again: cleaning up is what stopping means
            except KubernetesApiError as exc:
                error = exc
                if time.monotonic() > deadline:
                    break
        detail = f": {error}" if error is not None else ""
        self._note(f"some step Jobs or pods of the run may remain after {CLEANUP_TIMEOUT:.0f} s{detail}", "WARNING")

    def _note(self, message: str, level: str = "INFO") -> None:
        # Best effort: the run is ending, possibly because storage failed.
        with contextlib.suppress(Exception):
            self.own(Event(self.run_id, EventType.ENGINE_EVENT, message, level=level))


def run_k8s_steps(
    spec: RunSpec, plan: ExecutionPlan, instance: ExecutionInstance, emit: Emitter
) -> dict[str, bool | None]:
    """Execute the steps of ``plan`` as Kubernetes Jobs; each step's result
    (True, False, None for skipped), as ``run_multiprocess`` returns it."""
    raw = os.environ.get(STEP_JOB_SPEC_ENV)
    if not raw:
        raise ExecutionError(
            f"executor '{spec.executor.name}' cannot run here: k8s_job_executor runs each step as a Kubernetes Job "
            f"and needs a run launched by the Locus operator (${STEP_JOB_SPEC_ENV} is not set)",
            "on a laptop, run the job with executor_def=in_process_executor or multiprocess_executor",
        )
    if spec.pointer is None:
        raise ExecutionError(
            f"job '{spec.job.name}' uses k8s_job_executor, whose step pods must load the code again, "
            "but this run was started from objects in memory",
            "launch it from a code location (locus job launch, the API, or a schedule)",
        )
    refuse_in_memory_outputs(
        spec,
        plan,
        "the step pods of k8s_job_executor",
        "use an IO manager on object storage (locus.s3.S3PickleIOManager) or FilesystemIOManager "
        "on a volume every step pod mounts",
    )
    settings = ExecutorSettings.from_config(spec.resolved.executor_config)
    client = KubernetesClient.from_environment()
    return _StepJobs(spec, plan, instance, emit, client, spec_from_json(raw), settings).run()
