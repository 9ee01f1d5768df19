"""Runs on Kubernetes, hosted by the operator (it alone may create and watch
Jobs): per Instance, the run queue launches each admitted run as a Job, the
run monitor enforces start and cancel timeouts, and pod events explain a
failed run pod within seconds instead of after a start timeout.

The queue and monitor are the daemon's own loops (``locus.daemon``), run in
threads against the Instance's storage with ``K8sRunLauncher`` below; the
launcher is synchronous and hands its API calls to the operator's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from locus.daemon.monitor import RunMonitor
from locus.daemon.run_queue import RunQueue
from locus.definitions.errors import LocusError
from locus.execution.events import ErrorInfo, Event, EventType, RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.instance.config import InstanceConfig
from locus.instance.instance import LocusInstance
from locus.k8s.jobs import (
    RUN_ID_LABEL,
    JobPodSpec,
    PullPolicy,
    k8s_config_from_tags,
    run_job,
    run_job_name,
    run_selector,
)
from locus.k8s.podhealth import PodProblem, pod_problem
from locus.launchers.base import WorkerHealth, WorkerStatus
from locus.storage.base import Storage
from locus_operator.kube import ApiError, KubeClient

log = logging.getLogger(__name__)
T = TypeVar("T")
CALL_TIMEOUT = 30.0
JOB_EVENT_KEY = "k8s_job"


@dataclass(frozen=True)
class InstanceRunSettings:
    """What launching needs of an Instance (from its spec)."""

    namespace: str
    name: str
    config_map: str
    password_secret: tuple[str, str] | None
    job_namespace: str | None  # "Location", "Instance" or None (= Instance)
    ttl_seconds_after_finished: int | None
    pod_template: Mapping[str, Any] | None
    config: InstanceConfig


@dataclass(frozen=True)
class LocationRunSettings:
    """What launching needs of a CodeLocation (spec and status)."""

    namespace: str
    name: str
    image: str
    image_pull_policy: PullPolicy | None
    env: tuple[Mapping[str, Any], ...]
    env_from: tuple[Mapping[str, Any], ...]
    working_directory: str | None
    service_account_name: str | None
    run_template: Mapping[str, Any] | None


def job_pod_spec(run: RunRecord, instance: InstanceRunSettings, location: LocationRunSettings) -> JobPodSpec:
    """The run Job's pod settings; overrides merged Instance < location < run tag (pure)."""
    # The Instance's namespace by default: its locus.yaml ConfigMap and password
    # Secret are there. With jobNamespace: Location, both must exist in the
    # location's namespace too (the operator copies neither).
    namespace = location.namespace if instance.job_namespace == "Location" else instance.namespace
    overrides = [o for o in (instance.pod_template, location.run_template) if o]
    from_tag = k8s_config_from_tags(run.tags)
    if from_tag:
        overrides.append(from_tag)
    return JobPodSpec(
        namespace=namespace,
        image=location.image,
        instance=instance.name,
        location=location.name,
        config_map=instance.config_map,
        password_secret=instance.password_secret,
        image_pull_policy=location.image_pull_policy,
        service_account_name=location.service_account_name,
        env=location.env,
        env_from=location.env_from,
        working_directory=location.working_directory,
        ttl_seconds_after_finished=instance.ttl_seconds_after_finished
        if instance.ttl_seconds_after_finished is not None
        else 3600,
        overrides=tuple(overrides),
    )


class K8sRunLauncher:
    """``RunLauncher`` for the run queue and monitor: one Job per run."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: KubeClient,
        instance: LocusInstance,
        settings: InstanceRunSettings,
        find_location: Callable[[str], Coroutine[Any, Any, LocationRunSettings | None]],
    ) -> None:
        self._loop = loop
        self._client = client
        self._instance = instance
        self.settings = settings
        self._find_location = find_location
        self._jobs: dict[str, tuple[str, str]] = {}  # run id -> (namespace, Job name)
        self._active: set[str] = set()  # runs whose Job has not finished: they hold a queue slot
        self._lock = threading.Lock()
        self.on_slot_freed: Callable[[], None] | None = None  # a run's Job finished: wake the queue

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    def _fail(self, run: RunRecord, message: str, exc: BaseException | None = None) -> None:
        error = ErrorInfo.from_exception(exc) if exc is not None else None
        self._instance.store_event(Event(run.run_id, EventType.RUN_FAILURE, message, level="ERROR", error=error))

    # -- RunLauncher -------------------------------------------------------------

    def launch(self, run: RunRecord) -> bool:
        name = run.location_name
        location = self._call(self._find_location(name)) if name else None
        if location is None:
            self._fail(run, f"cannot launch the run: no CodeLocation {name!r} is registered with Instance "
                            f"{self.settings.namespace}/{self.settings.name}")
            return False
        try:
            spec = job_pod_spec(run, self.settings, location)
            job = run_job(run.run_id, spec)
        except (ValueError, LocusError) as exc:
            self._fail(run, f"cannot launch the run: {exc}", exc)
            return False
        job_name = job["metadata"]["name"]
        self._instance.store_event(
            Event(run.run_id, EventType.RUN_STARTING, f"launching as Kubernetes Job {spec.namespace}/{job_name}")
        )
        try:
            self._call(self._client.create(job))
            message = f"Job {spec.namespace}/{job_name} created with image {spec.image}"
        except ApiError as exc:
            if not exc.conflict:
                self._fail(run, f"the Kubernetes API refused the run's Job: {exc.message}", exc)
                return False
            message = f"Job {spec.namespace}/{job_name} already exists: the run was launched before"
        with self._lock:
            self._jobs[run.run_id] = (spec.namespace, job_name)
            self._active.add(run.run_id)
        self._instance.store_event(
            Event(run.run_id, EventType.ENGINE_EVENT, message,
                  data={JOB_EVENT_KEY: job_name, "namespace": spec.namespace, "image": spec.image})
        )
        return True

    def active_runs(self) -> set[str]:
        with self._lock:
            return set(self._active)

    def adopt(self, jobs: list[dict[str, Any]]) -> None:
        """After a restart: the unfinished run Jobs still hold their slots."""
        running = {run_id for job in jobs if (run_id := run_id_of(job)) is not None and not job_finished(job)}
        with self._lock:
            self._active |= running

    def job_changed(self, job: Mapping[str, Any], deleted: bool) -> None:
        """A run Job finished or went away: its slot is free."""
        run_id = run_id_of(job)
        if run_id is None or not (deleted or job_finished(job)):
            return
        with self._lock:
            if run_id not in self._active:
                return
            self._active.discard(run_id)
        if self.on_slot_freed is not None:
            self.on_slot_freed()

    def _job_of(self, run_id: str) -> tuple[str, str] | None:
        with self._lock:
            known = self._jobs.get(run_id)
        if known is not None:
            return known
        for record in reversed(self._instance.get_events(run_id, event_types=[EventType.ENGINE_EVENT])):
            data = record.event.data
            if JOB_EVENT_KEY in data:
                found = (str(data["namespace"]), str(data[JOB_EVENT_KEY]))
                with self._lock:
                    self._jobs[run_id] = found
                return found
        return None

    def _delete_run_jobs(self, run_id: str) -> bool:
        where = self._job_of(run_id)
        if where is None:
            return False
        namespace, name = where

        async def delete_all() -> bool:
            deleted = await self._client.delete("Job", namespace, name)
            for job in await self._client.list("Job", namespace, run_selector(run_id)):
                deleted = await self._client.delete("Job", namespace, job["metadata"]["name"]) or deleted
            # Background propagation deletes the pods too; delete them now so
            # that nothing of the run keeps running while the GC catches up.
            for pod in await self._client.list("Pod", namespace, run_selector(run_id)):
                await self._client.delete("Pod", namespace, pod["metadata"]["name"])
            return deleted

        return self._call(delete_all())

    def terminate(self, run_id: str) -> bool:
        return self._delete_run_jobs(run_id)

    def kill_run_worker(self, run: RunRecord) -> bool:
        return self._delete_run_jobs(run.run_id)

    def check_run_worker(self, run: RunRecord) -> WorkerHealth:
        where = self._job_of(run.run_id)
        if where is None:
            return WorkerHealth(WorkerStatus.UNKNOWN)
        namespace, name = where
        job = self._call(self._client.get("Job", namespace, name))
        if job is None:
            return WorkerHealth(WorkerStatus.DEAD, message=f"the run's Job {namespace}/{name} was deleted")
        pods = self._call(self._client.list("Pod", namespace, {"job-name": name}))
        problem = next((p for p in map(pod_problem, pods) if p is not None and p.final), None)
        if problem is not None:
            return WorkerHealth(WorkerStatus.DEAD, message=f"run pod: {problem.message}")
        if job_finished(job):
            return WorkerHealth(WorkerStatus.DEAD, message=f"the run's Job {namespace}/{name} ended")
        return WorkerHealth(WorkerStatus.RUNNING)

    # -- pod events ----------------------------------------------------------------

    def pod_failed(self, run_id: str, pod_name: str, problem: PodProblem) -> None:
        """A run pod will not recover: fail the run with the reason now and
        remove its Jobs (nothing of it keeps running or waits for a timeout)."""
        run = self._instance.get_run(run_id)
        if run is None or run.status.is_finished:
            return
        if run.status == RunStatus.CANCELING:
            message = f"run canceled; its pod {pod_name} stopped ({problem.reason})"
            event = Event(run_id, EventType.RUN_CANCELED, message, level="WARNING")
        else:
            event = Event(run_id, EventType.RUN_FAILURE, f"run pod {pod_name} failed: {problem.message}",
                          level="ERROR", data={"reason": problem.reason, "pod": pod_name})
        self._instance.store_event(event)
        self._delete_run_jobs(run_id)


@dataclass
class InstanceRuns:
    """The run queue and monitor threads of one Instance."""

    launcher: K8sRunLauncher
    instance: LocusInstance
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    _canceling: set[str] = field(default_factory=set)

    def start(self) -> None:
        queue = RunQueue(self.instance, self.launcher, still_running=self.launcher.active_runs)
        self.launcher.on_slot_freed = queue.wake
        monitor = RunMonitor(self.instance, self.launcher)
        self.threads = [
            threading.Thread(target=queue.run, args=(self.stop,), name="locus-run-queue", daemon=True),
            threading.Thread(target=self._watch, args=(monitor,), name="locus-run-monitor", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _watch(self, monitor: RunMonitor) -> None:
        """Terminate runs marked CANCELING at once; the monitor's checks on
        its own interval."""
        next_check = 0.0
        while not self.stop.wait(0.25):
            try:
                for run in self.instance.storage.get_runs(RunsFilter(statuses=(RunStatus.CANCELING,))):
                    if run.run_id not in self._canceling:
                        self._canceling.add(run.run_id)
                        self.launcher.terminate(run.run_id)
                now = time.time()
                if now >= next_check:
                    monitor.tick(now)
                    next_check = now + monitor.interval
            except Exception:
                log.exception("run monitoring pass failed")

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)


def make_instance(storage: Storage, config: InstanceConfig) -> LocusInstance:
    home = Path(tempfile.mkdtemp(prefix="locus-operator-"))
    return LocusInstance(storage, home, config)


def job_finished(job: Mapping[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or ()
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)


def run_id_of(pod: Mapping[str, Any]) -> str | None:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    value = labels.get(RUN_ID_LABEL)
    return str(value) if value else None


__all__ = ["InstanceRunSettings", "K8sRunLauncher", "LocationRunSettings", "job_pod_spec", "run_job_name"]
