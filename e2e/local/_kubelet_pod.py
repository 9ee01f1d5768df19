"""One pod on the local "node": its containers' processes, probes and status.

A :class:`PodWorker` owns one pod (by uid) from its first sighting until it is
deleted: it allocates the pod IP, prepares volumes, runs init containers in
order and then every container, restarts them per ``restartPolicy`` with a
short exponential back-off, runs probes, and reports the pod's status with
merge-patches of ``/status`` (coalesced: one request in flight per pod).

Timings are shortened for tests: restart back-off 0.2 s doubling to 5 s
(Kubernetes: 10 s to 5 min), grace periods capped at 5 s, image-pull
back-off 0.5 s doubling to 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2e.local import _kubelet_netns as netns
from e2e.local import _kubelet_probes as probes
from e2e.local._kubelet_api import ApiError
from e2e.local._kubelet_env import (
    ContainerConfigError,
    PathMap,
    PodNetwork,
    build_argv,
    resolve_container_env,
    rewrite_any_address,
)
from e2e.local._kubelet_process import Process, run_probe_command, start
from e2e.local._kubelet_util import Obj, memory_bytes, rfc3339, set_condition, spawn
from e2e.local._kubelet_volumes import VolumeError, mount_paths, prepare_volumes
from e2e.local.images import ImageEnv

if TYPE_CHECKING:
    from e2e.local.kubelet import Kubelet

log = logging.getLogger("kubelet.pod")

LOG_PATH_ANNOTATION = "local.locus.dev/log-path"  # read by the API server for pods/log

RESTART_BACKOFF_START = 0.2
RESTART_BACKOFF_MAX = 5.0
BACKOFF_RESET_AFTER = 10.0  # a container that ran this long restarts with the initial back-off again
GRACE_CAP = 5.0
PULL_BACKOFF_START = 0.5
PULL_BACKOFF_MAX = 5.0

# Host variables a container process inherits (a real container inherits none, but a local
# process needs a HOME and a locale); everything else comes from the image table and the pod spec.
PASS_ENV = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL", "SYSTEMROOT")


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    paths: PathMap


class ContainerRun:
    """The runtime state of one (init) container, rendered as a ContainerStatus."""

    def __init__(self, spec: Obj, init: bool) -> None:
        self.spec = spec
        self.name = str(spec["name"])
        self.image = str(spec.get("image") or "")
        self.init = init
        self.state: Obj = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: Obj = {}
        self.restart_count = 0
        self.ready = False
        self.started = False
        self.ever_ran = False
        self.done = False  # will not run again
        self.process: Process | None = None
        self.container_id: str | None = None
        self.launch: Launch | None = None

    @property
    def terminated(self) -> Obj | None:
        value: Obj | None = self.state.get("terminated")
        return value

    @property
    def running(self) -> bool:
        return "running" in self.state

    def status(self) -> Obj:
        status: Obj = {
            "name": self.name, "image": self.image, "imageID": f"local://{self.image}",
            "ready": self.ready and self.running, "started": self.started and self.running,
            "restartCount": self.restart_count, "state": self.state, "lastState": self.last_state,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.namespace = str(meta.get("namespace") or "default")
        self.name = str(meta["name"])
        self.uid = str(meta.get("uid") or f"{self.namespace}/{self.name}")
        spec = pod.get("spec") or {}
        self.policy = str(spec.get("restartPolicy") or "Always")
        self.host_network = bool(spec.get("hostNetwork"))
        self.init_containers = [ContainerRun(c, init=True) for c in spec.get("initContainers") or []]
        self.containers = [ContainerRun(c, init=False) for c in spec.get("containers") or []]
        self.pod_dir = kubelet.work_dir / "pods" / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        self.conditions: list[Obj] = []
        self.initialized = not self.init_containers
        self.final_phase: str | None = None
        self.reason: str | None = None
        self.message: str | None = None
        self.pod_ip: str | None = None
        self.start_time = rfc3339()
        self.volumes: dict[str, str] = {}
        self.stopping = asyncio.Event()
        self.gone = False  # deleted from the API: no more status patches
        self.terminated = asyncio.Event()  # every process is dead
        self._dirty = asyncio.Event()
        self._probe_tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._adopt(pod.get("status") or {})
        self.task = asyncio.create_task(self._run(), name=f"pod-{self.namespace}/{self.name}")
        self._status_task = asyncio.create_task(self._status_loop(), name=f"status-{self.namespace}/{self.name}")

    # ---------------------------------------------------------------- adoption

    def _adopt(self, status: Mapping[str, Any]) -> None:
        """Pick up a pod a previous kubelet ran: keep its IP, start time and restart counts; its
        processes died with that kubelet, so a container that was running counts as killed."""
        if not status.get("containerStatuses") and not status.get("initContainerStatuses"):
            return
        self.start_time = str(status.get("startTime") or self.start_time)
        self.pod_ip = status.get("podIP") if not self.host_network else None
        previous = {s["name"]: s for s in (status.get("containerStatuses") or []) +
                    (status.get("initContainerStatuses") or [])}
        init_all_done = True
        for run in self.init_containers + self.containers:
            prev = previous.get(run.name)
            if not prev:
                init_all_done = init_all_done and not run.init
                continue
            run.restart_count = int(prev.get("restartCount") or 0)
            state = prev.get("state") or {}
            terminated = state.get("terminated")
            if "running" in state:
                terminated = {"exitCode": 137, "reason": "Error", "message": "the local kubelet restarted",
                              "startedAt": state["running"].get("startedAt"), "finishedAt": rfc3339()}
            if terminated:
                run.ever_ran = True
                code = int(terminated.get("exitCode") or 0)
                if (run.init and code == 0) or (not run.init and not should_restart(self.policy, code)):
                    run.state, run.done = {"terminated": terminated}, True
                else:
                    run.last_state = {"terminated": terminated}
                    run.restart_count += 1
            if run.init and not run.done:
                init_all_done = False
        if self.init_containers and init_all_done:
            self.initialized = True

    # ---------------------------------------------------------------- main flow

    def mark_dirty(self) -> None:
        self._dirty.set()

    async def _wait_stopping(self, seconds: float) -> bool:
        """Sleep unless the pod is being stopped; True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        return self.stopping.is_set()

    async def _run(self) -> None:
        try:
            await self._setup()
            if self.stopping.is_set():
                return
            deadline = (self.pod.get("spec") or {}).get("activeDeadlineSeconds")
            if deadline is not None:
                asyncio.get_running_loop().call_later(float(deadline), self._deadline_exceeded)
            for run in self.init_containers:
                if run.done:
                    continue
                await self._run_container(run)
                code = int((run.terminated or {}).get("exitCode", 1))
                if self.stopping.is_set():
                    return
                if code != 0:  # restartPolicy Never: the pod fails
                    self.final_phase = "Failed"
                    for other in self.containers:
                        other.state = {"waiting": {"reason": "PodInitializing"}}
                    self.mark_dirty()
                    return
            self.initialized = True
            for run in self.containers:
                if not run.done:
                    run.state = {"waiting": {"reason": "ContainerCreating"}}
            self.mark_dirty()
            await asyncio.gather(*(self._run_container(run) for run in self.containers if not run.done))
            if not self.stopping.is_set():
                codes = [int((run.terminated or {}).get("exitCode", 1)) for run in self.containers]
                self.final_phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
        except Exception:
            log.exception("pod %s/%s: worker failed", self.namespace, self.name)
            self.message = "the local kubelet failed to run this pod; see its log"
        finally:
            self.terminated.set()
            self.mark_dirty()

    async def _setup(self) -> None:
        kubelet = self.kubelet
        if self.host_network:
            self.pod_ip = kubelet.host_ip
        else:
            self.pod_ip = kubelet.ips.allocate(self.uid, self.pod_ip)
        self.pod_dir.mkdir(parents=True, exist_ok=True)
        (self.pod_dir / "rootfs").mkdir(exist_ok=True)
        self.conditions = set_condition(self.conditions, {"type": "PodScheduled", "status": "True"})
        self.mark_dirty()
        await self._annotate_log_paths()
        while not self.stopping.is_set():
            try:
                self.volumes = await prepare_volumes(self.pod, self.pod_dir, kubelet.work_dir, kubelet.lookups,
                                                     self.pod_ip)
                return
            except VolumeError as exc:
                for run in self.init_containers + self.containers:
                    run.state = {"waiting": {"reason": "ContainerCreating"}}
                self.message = str(exc)
                await kubelet.event(self.pod, "FailedMount", f"MountVolume.SetUp failed: {exc}", "Warning")
                self.mark_dirty()
                if await self._wait_stopping(1.0):
                    return
        self.message = None

    def _deadline_exceeded(self) -> None:
        if self.final_phase or self.stopping.is_set():
            return
        self.final_phase = "Failed"
        self.reason = "DeadlineExceeded"
        self.message = "Pod was active on the node longer than the specified deadline"
        spawn(self.kill_all(self._grace()))

    # ---------------------------------------------------------------- containers

    async def _resolve_image(self, run: ContainerRun) -> ImageEnv | None:
        backoff = PULL_BACKOFF_START
        while not self.stopping.is_set():
            self.kubelet.images.reload_if_changed()
            image = self.kubelet.images.lookup(run.image)
            if image is not None:
                return image
            message = f'Failed to pull image "{run.image}": image not found in the local image table'
            run.state = {"waiting": {"reason": "ErrImagePull", "message": message}}
            self.mark_dirty()
            await self.kubelet.event(self.pod, "Failed", message, "Warning", run.name)
            if await self._wait_stopping(0.3):
                return None
            run.state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{run.image}"'}}
            self.mark_dirty()
            await self.kubelet.event(self.pod, "BackOff", f'Back-off pulling image "{run.image}"', "Normal", run.name)
            if await self._wait_stopping(backoff):
                return None
            backoff = min(backoff * 2, PULL_BACKOFF_MAX)
        return None

    async def _prepare(self, run: ContainerRun, image: ImageEnv) -> Launch:
        kubelet = self.kubelet
        assert self.pod_ip is not None
        network = PodNetwork(pod_ip=self.pod_ip, host_ip=kubelet.host_ip, node_name=kubelet.node_name)
        defined = await resolve_container_env(self.pod, run.spec, network, kubelet.lookups)
        paths = PathMap({**image.paths, **mount_paths(run.spec, self.volumes)}, host_exists=os.path.isdir)

        def rewrite(value: str) -> str:
            return paths.rewrite(value if self.host_network else rewrite_any_address(value, network.pod_ip))

        env: dict[str, str] = {k: os.environ[k] for k in (*PASS_ENV, *kubelet.pass_env) if k in os.environ}
        env.update({k: rewrite(v) for k, v in image.env.items()})
        env["HOSTNAME"] = self.name
        if (self.pod.get("spec") or {}).get("automountServiceAccountToken") is not False:
            host, port = kubelet.kubeconfig.host_port
            env["KUBERNETES_SERVICE_HOST"] = host
            env["KUBERNETES_SERVICE_PORT"] = str(port)
            env["KUBECONFIG"] = str(kubelet.kubeconfig_for(self.namespace))
        env.update({k: rewrite(v) for k, v in defined.items()})
        if not self.host_network:  # wildcard binds of Python servers become the pod IP (see _kubelet_netns)
            env[netns.ENV] = network.pod_ip
            env["PYTHONPATH"] = ":".join(filter(None, [kubelet.python_site, env.get("PYTHONPATH")]))
        path_parts = [image.bin]
        if "PATH" in defined:
            path_parts.append(env["PATH"])
        path_parts.append(os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
        env["PATH"] = ":".join(dict.fromkeys(p for part in path_parts for p in part.split(":") if p))
        argv = [rewrite(arg) for arg in build_argv(run.spec, image.entrypoint, image.cmd, defined)]
        if not argv:
            raise ContainerConfigError("no command specified: the pod spec and the image table give none")
        cwd = self._working_dir(run.spec.get("workingDir") or image.workdir, paths)
        return Launch(argv=argv, env=env, cwd=cwd, paths=paths)

    def _working_dir(self, wanted: str | None, paths: PathMap) -> str:
        """The mapped working directory; an unmapped one that does not exist here lives under the
        pod's ``rootfs`` folder (a container can always ``cd`` into its WORKDIR)."""
        rootfs = self.pod_dir / "rootfs"
        if not wanted:
            return str(rootfs)
        mapped = paths.map_path(wanted)
        if mapped is not None:
            Path(mapped).mkdir(parents=True, exist_ok=True)
            return mapped
        if Path(wanted).is_dir():
            return wanted
        local = rootfs / wanted.lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        return str(local)

    def log_path(self, run: ContainerRun) -> Path:
        """The current run's output; the run before it is kept as ``<container>.previous.log``."""
        return self.kubelet.log_dir(self.namespace, self.name) / f"{run.name}.log"

    def _rotate_log(self, run: ContainerRun) -> None:
        current = self.log_path(run)
        if current.exists() and run.ever_ran:
            current.replace(current.with_name(f"{run.name}.previous.log"))

    async def _annotate_log_paths(self) -> None:
        """Name the log files in pod annotations: the API server serves ``pods/log`` from them."""
        runs = self.init_containers + self.containers
        annotations = {f"{LOG_PATH_ANNOTATION}.{run.name}": str(self.log_path(run)) for run in runs}
        meta_annotations = (self.pod.get("metadata") or {}).get("annotations") or {}
        default = meta_annotations.get("kubectl.kubernetes.io/default-container")
        default_run = next((r for r in self.containers if r.name == default), self.containers[0] if self.containers
                           else None)
        if default_run is not None:
            annotations[LOG_PATH_ANNOTATION] = str(self.log_path(default_run))
        if all(meta_annotations.get(k) == v for k, v in annotations.items()):
            return
        try:
            await self.kubelet.api.merge_patch(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}",
                                               {"metadata": {"annotations": annotations}})
        except ApiError as exc:
            log.warning("pod %s/%s: could not annotate log paths: %s", self.namespace, self.name, exc)

    async def _run_container(self, run: ContainerRun) -> None:
        """Run one container until it terminates for good (or the pod stops)."""
        backoff = RESTART_BACKOFF_START
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            image = await self._resolve_image(run)
            if image is None:
                return
            try:
                launch = await self._prepare(run, image)
            except ContainerConfigError as exc:
                reason = "ContainerCreating" if isinstance(exc, VolumeError) else "CreateContainerConfigError"
                run.state = {"waiting": {"reason": reason, "message": str(exc)}}
                self.mark_dirty()
                await self.kubelet.event(self.pod, "Failed", f"Error: {exc}", "Warning", run.name)
                if await self._wait_stopping(1.0):
                    return
                continue
            except ApiError as exc:
                log.warning("pod %s/%s: %s", self.namespace, self.name, exc)
                if await self._wait_stopping(1.0):
                    return
                continue
            started_at = rfc3339()
            began = loop.time()
            message: str
            signal_number: int | None = None
            try:
                self._rotate_log(run)
                process = start(launch.argv, launch.env, launch.cwd, self.log_path(run))
            except OSError as exc:
                run.ever_ran, run.container_id = True, None  # created but not started, as with a bad command
                code, reason = 128, "StartError"
                message = f"failed to start container process: exec: {launch.argv[0]!r}: {exc.strerror or exc}"
                oom = False
            else:
                run.process, run.launch, run.ever_ran = process, launch, True
                run.container_id = f"local://{process.pid}"
                run.state = {"running": {"startedAt": started_at}}
                run.started = False
                run.ready = False
                self._start_probes(run)
                limit = ((run.spec.get("resources") or {}).get("limits") or {}).get("memory")
                if limit:
                    self.kubelet.memory.watch(process, memory_bytes(limit))
                self.mark_dirty()
                code = await process.exited
                self.kubelet.memory.unwatch(process)
                await self._stop_probes(run)
                oom = process.oom_killed
                signal_number = process.signal
                reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
                message = ""
            terminated: Obj = {"exitCode": code, "reason": reason, "startedAt": started_at, "finishedAt": rfc3339()}
            if message:
                terminated["message"] = message
            if signal_number:
                terminated["signal"] = signal_number
            if run.container_id:
                terminated["containerID"] = run.container_id
            run.state = {"terminated": terminated}
            run.ready = run.started = False
            run.process = None
            self.mark_dirty()
            if self.stopping.is_set() or self.final_phase:
                return
            restart = should_restart("OnFailure" if run.init and self.policy == "Always" else self.policy, code)
            if not restart:
                run.done = True
                return
            if loop.time() - began >= BACKOFF_RESET_AFTER:
                backoff = RESTART_BACKOFF_START
            run.last_state = {"terminated": terminated}
            run.state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
                f"back-off {backoff:g}s restarting failed container={run.name} "
                f"pod={self.name}_{self.namespace}({self.uid})")}}
            self.mark_dirty()
            if await self._wait_stopping(backoff):
                return
            backoff = min(backoff * 2, RESTART_BACKOFF_MAX)
            run.restart_count += 1

    # ---------------------------------------------------------------- probes

    def _probe_check(self, run: ContainerRun, probe: Mapping[str, Any]) -> Callable[[], Awaitable[bool]]:
        host = self.pod_ip or "127.0.0.1"
        timeout = float(probe.get("timeoutSeconds") or 1)
        session = self.kubelet.probe_session
        if "httpGet" in probe:
            spec = probe["httpGet"]
            return lambda: probes.check_http(session, spec, host, probes.container_port(spec["port"], run.spec),
                                             timeout)
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            return lambda: probes.check_tcp(spec.get("host") or host, probes.container_port(spec["port"], run.spec),
                                            timeout)
        if "grpc" in probe:
            spec = probe["grpc"]
            return probes.GrpcCheck(host, int(spec["port"]), str(spec.get("service") or ""), timeout)
        if "exec" in probe:
            command = list(probe["exec"].get("command") or [])

            async def check_exec() -> bool:
                launch = run.launch
                if launch is None:
                    return False
                argv = [launch.paths.rewrite(rewrite_any_address(a, host)) for a in command]
                return await run_probe_command(argv, launch.env, launch.cwd, timeout) == 0
            return check_exec

        async def unsupported() -> bool:
            return False
        return unsupported

    def _start_probes(self, run: ContainerRun) -> None:
        spec = run.spec
        timing = self.kubelet.timing
        tasks: list[asyncio.Task[None]] = []
        self._probe_tasks[run.name] = tasks

        def start_main_probes() -> None:
            run.started = True
            readiness = spec.get("readinessProbe")
            if readiness and not run.init:
                tasks.append(asyncio.create_task(probes.run_probe(
                    readiness, self._probe_check(run, readiness), timing, lambda ok: self._set_ready(run, ok))))
            else:
                run.ready = not run.init
            liveness = spec.get("livenessProbe")
            if liveness and not run.init:
                tasks.append(asyncio.create_task(probes.run_probe(
                    liveness, self._probe_check(run, liveness), timing,
                    lambda ok: None if ok else self._probe_kill(run, "Liveness"))))
            self.mark_dirty()

        startup = spec.get("startupProbe")
        if startup and not run.init:
            def on_startup(ok: bool) -> None:
                if ok:
                    start_main_probes()
                else:
                    self._probe_kill(run, "Startup")
            tasks.append(asyncio.create_task(probes.run_probe(
                startup, self._probe_check(run, startup), timing, on_startup, stop_on_success=True)))
        else:
            start_main_probes()

    async def _stop_probes(self, run: ContainerRun) -> None:
        tasks = self._probe_tasks.pop(run.name, [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _set_ready(self, run: ContainerRun, ready: bool) -> None:
        if run.ready != ready:
            run.ready = ready
            self.mark_dirty()

    def _probe_kill(self, run: ContainerRun, which: str) -> None:
        process = run.process
        if process is None or not process.running:
            return
        message = f"Container {run.name} failed {which.lower()} probe, will be restarted"
        log.info("pod %s/%s: %s", self.namespace, self.name, message)
        spawn(self.kubelet.event(self.pod, "Unhealthy", f"{which} probe failed", "Warning", run.name))
        spawn(self.kubelet.event(self.pod, "Killing", message, "Normal", run.name))
        spawn(process.terminate(self._grace()))

    # ---------------------------------------------------------------- stopping

    def _grace(self) -> float:
        meta = self.pod.get("metadata") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return min(float(grace), GRACE_CAP)

    async def kill_all(self, grace: float) -> None:
        processes = [run.process for run in self.init_containers + self.containers if run.process is not None]
        await asyncio.gather(*(p.terminate(grace) for p in processes), return_exceptions=True)

    def update(self, pod: Obj) -> None:
        """A newer version of the pod from the watch; only deletion matters (pod specs are immutable)."""
        self.pod = pod
        if (pod.get("metadata") or {}).get("deletionTimestamp") and not self.stopping.is_set():
            spawn(self.stop(delete_after=True))

    async def stop(self, *, delete_after: bool = False, gone: bool = False, grace: float | None = None) -> None:
        """Stop every container (SIGTERM, then SIGKILL after the grace period) and release the IP."""
        if gone:
            self.gone = True
        first = not self.stopping.is_set()
        self.stopping.set()
        if first:
            await self.kill_all(self._grace() if grace is None else grace)
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if first and delete_after and not self.final_phase:
            # Since Kubernetes 1.27 a deleted pod reaches a terminal phase before it goes.
            codes = [int((run.terminated or {}).get("exitCode", 137)) for run in self.containers]
            self.final_phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
        self.kubelet.ips.release(self.uid)
        if first and delete_after and not self.gone:
            for run in self.init_containers + self.containers:
                if run.process is None and "terminated" not in run.state:
                    run.state = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": rfc3339()}}
            self.mark_dirty()
            await asyncio.sleep(0.05)
            with contextlib.suppress(ApiError):
                await self.kubelet.api.delete(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}", grace=0)
        if self.gone:
            self._status_task.cancel()

    async def close(self) -> None:
        """The kubelet is exiting: kill quickly, report nothing more."""
        self.gone = True
        self._status_task.cancel()
        await self.stop(grace=min(self._grace(), 1.0))

    # ---------------------------------------------------------------- status

    def phase(self) -> str:
        if self.final_phase:
            return self.final_phase
        if not self.initialized or any(not run.ever_ran and not run.done for run in self.containers):
            return "Pending"
        if all(run.done or run.terminated for run in self.containers):
            codes = [int((run.terminated or {}).get("exitCode", 1)) for run in self.containers]
            if self.policy == "Never" or (self.policy == "OnFailure" and all(c == 0 for c in codes)):
                return "Succeeded" if all(c == 0 for c in codes) else "Failed"
        return "Running"

    def status(self) -> Obj:
        phase = self.phase()
        now = rfc3339()
        pending_init = [run.name for run in self.init_containers if not run.done]
        if self.initialized or not pending_init:
            initialized: Obj = {"type": "Initialized", "status": "True"}
        else:
            initialized = {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                           "message": f"containers with incomplete status: [{' '.join(pending_init)}]"}
        unready = [run.name for run in self.containers if not (run.ready and run.running)]
        if phase in ("Succeeded", "Failed"):
            ready: Obj = {"status": "False", "reason": "PodCompleted"}
        elif unready:
            ready = {"status": "False", "reason": "ContainersNotReady",
                     "message": f"containers with unready status: [{' '.join(unready)}]"}
        else:
            ready = {"status": "True"}
        conditions = self.conditions
        for cond in ({"type": "PodScheduled", "status": "True"}, initialized,
                     {"type": "ContainersReady", **ready}, {"type": "Ready", **ready}):
            conditions = set_condition(conditions, cond, now)
        for cond in conditions:
            cond.setdefault("lastProbeTime", None)  # type: ignore[arg-type]  # null, as the API server writes it
        self.conditions = conditions
        status: Obj = {
            "phase": phase, "conditions": conditions, "hostIP": self.kubelet.host_ip,
            "hostIPs": [{"ip": self.kubelet.host_ip}], "startTime": self.start_time, "qosClass": self._qos(),
            "containerStatuses": [run.status() for run in self.containers],
        }
        if self.init_containers:
            status["initContainerStatuses"] = [run.status() for run in self.init_containers]
        if self.pod_ip:
            status["podIP"] = self.pod_ip
            status["podIPs"] = [{"ip": self.pod_ip}]
        status["reason"] = self.reason
        status["message"] = self.message
        return status

    def _qos(self) -> str:
        resources = [c.get("resources") or {} for c in (self.pod.get("spec") or {}).get("containers") or []]
        if not any(r.get("limits") or r.get("requests") for r in resources):
            return "BestEffort"
        if all(r.get("limits") and r.get("limits") == r.get("requests", r.get("limits")) for r in resources):
            return "Guaranteed"
        return "Burstable"

    async def _status_loop(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
        last: Obj | None = None
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.02)  # coalesce a burst of changes into one patch
            self._dirty.clear()
            if self.gone:
                return
            status = self.status()
            if status == last:
                continue
            try:
                await self.kubelet.api.merge_patch(path, {"status": status})
                last = status
            except ApiError as exc:
                if exc.status == 404:
                    self.gone = True
                    return
                log.warning("pod %s/%s: status update failed: %s", self.namespace, self.name, exc)
                await asyncio.sleep(0.5)
                self._dirty.set()
            except (OSError, TimeoutError) as exc:
                log.warning("pod %s/%s: status update failed: %s", self.namespace, self.name, exc)
                await asyncio.sleep(0.5)
                self._dirty.set()

