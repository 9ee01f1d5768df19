"""The local cluster's node: a "kubelet" that runs each Pod's containers as local processes,
plus the Deployment/Job controllers and the Service proxy, in one asyncio process.

    python -m e2e.local.kubelet --kubeconfig PATH --images IMAGES.yaml --work-dir DIR [--ready-file PATH]

It talks to the API server only over its REST API (list+watch with
resourceVersion; merge-patches of ``/status``), so whatever the operator
expects from a cluster is produced by the same protocol a real node uses.
What it emulates and what it does not is listed in :mod:`e2e.local.cluster`;
the short version:

* every Pod (any namespace; there is one node and no scheduler) gets a
  loopback IP 127.0.X.Y and its containers run as local processes, each in its
  own process group, with images translated by the image table
  (:mod:`e2e.local.images`); paths are mapped, not mounted
  (:mod:`e2e.local._kubelet_env`), wildcard listeners become the pod IP
  (:mod:`e2e.local._kubelet_netns`);
* container logs are files, ``<work-dir>/logs/<namespace>/<pod>/<container>.log`` (the run
  before the current one: ``<container>.previous.log``), named in the pod annotation
  ``local.locus.dev/log-path.<container>`` so that ``kubectl logs`` works;
* probes, restarts, OOM kills and grace periods follow Kubernetes, with
  shortened timings (see :mod:`e2e.local._kubelet_probes` and :mod:`e2e.local._kubelet_pod`).

On SIGTERM/SIGINT every process it started is killed before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from e2e.local import _kubelet_netns as netns
from e2e.local._kubelet_api import ApiClient, ApiError, Informer, Kubeconfig, load_kubeconfig
from e2e.local._kubelet_pod import PodWorker
from e2e.local._kubelet_probes import ProbeTiming
from e2e.local._kubelet_process import MemoryWatcher
from e2e.local._kubelet_util import Obj, pod_terminal, random_suffix, rfc3339, spawn
from e2e.local.images import ImageTable

log = logging.getLogger("kubelet")

__all__ = ["IpAllocator", "Kubelet", "main"]


class IpAllocator:
    """Unique loopback addresses 127.0.X.Y for pods (X in 1..255, Y in 1..254), from ``start`` up
    (127.0.1.1 by default), wrapping around; released addresses are reused last."""

    def __init__(self, start: str = "127.0.1.1") -> None:
        self._by_owner: dict[str, str] = {}
        self._used: set[str] = set()
        parts = [int(p) for p in start.split(".")]
        if parts[:2] != [127, 0] or not (1 <= parts[2] <= 255 and 1 <= parts[3] <= 254):
            raise ValueError(f"pod IPs start in 127.0.1.1-127.0.255.254, not {start}")
        self._next = (parts[2] - 1) * 254 + parts[3] - 1

    @staticmethod
    def _address(index: int) -> str:
        third, fourth = divmod(index, 254)
        if third + 1 > 255:
            raise RuntimeError("out of pod IPs in 127.0.0.0/16")
        return f"127.0.{third + 1}.{fourth + 1}"

    def allocate(self, owner: str, preferred: str | None = None) -> str:
        if owner in self._by_owner:
            return self._by_owner[owner]
        if preferred and preferred.startswith("127.0.") and preferred not in self._used \
                and not preferred.startswith("127.0.0."):
            address = preferred
        else:
            for _ in range(254 * 255):
                address = self._address(self._next)
                self._next = (self._next + 1) % (254 * 255)
                if address not in self._used:
                    break
            else:
                raise RuntimeError("out of pod IPs")
        self._used.add(address)
        self._by_owner[owner] = address
        return address

    def release(self, owner: str) -> None:
        address = self._by_owner.pop(owner, None)
        if address:
            self._used.discard(address)


class ApiLookups:
    """ConfigMaps and Secrets read from the API when a container starts (not watched)."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.api.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.api.get_or_none(f"/api/v1/namespaces/{namespace}/secrets/{name}")


class Kubelet:
    """Runs every pod of the cluster; one :class:`PodWorker` per pod uid."""

    def __init__(self, api: ApiClient, kubeconfig: Kubeconfig, images: ImageTable, work_dir: Path,
                 pods: Informer, timing: ProbeTiming | None = None, pass_env: tuple[str, ...] = (),
                 pod_ip_start: str = "127.0.1.1") -> None:
        self.api = api
        self.kubeconfig = kubeconfig
        self.images = images
        self.work_dir = work_dir
        self.pods = pods
        self.timing = timing or ProbeTiming()
        self.pass_env = pass_env
        self.node_name = "local"
        self.host_ip = "127.0.0.1"
        self.ips = IpAllocator(pod_ip_start)
        self.lookups = ApiLookups(api)
        self.memory = MemoryWatcher()
        self.workers: dict[str, PodWorker] = {}
        self._retiring: set[PodWorker] = set()
        self._events_sent: dict[str, set[tuple[str, ...]]] = {}  # pod uid -> events already posted
        self._kubeconfigs: dict[str, Path] = {}
        self.probe_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0))
        self.python_site = netns.install(str(work_dir / "python-site"))
        pods.add_handler(self._on_pod)

    # ------------------------------------------------------------ helpers used by workers

    def kubeconfig_for(self, namespace: str) -> Path:
        """A kubeconfig for the API server whose default namespace is the pod's (like in-cluster config)."""
        if namespace not in self._kubeconfigs:
            path = self.work_dir / "kubeconfigs" / f"{namespace}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(self.kubeconfig.for_namespace(namespace)))
            self._kubeconfigs[namespace] = path
        return self._kubeconfigs[namespace]

    def log_dir(self, namespace: str, pod: str) -> Path:
        return self.work_dir / "logs" / namespace / pod

    async def event(self, pod: Obj, reason: str, message: str, kind: str = "Normal",
                    container: str | None = None) -> None:
        """A core/v1 Event about the pod, once per distinct (pod, reason, container, message); best effort."""
        meta = pod.get("metadata") or {}
        sent = self._events_sent.setdefault(str(meta.get("uid")), set())
        key = (reason, container or "", message)
        if key in sent:
            return
        sent.add(key)
        namespace = meta.get("namespace") or "default"
        now = rfc3339()
        involved: Obj = {"apiVersion": "v1", "kind": "Pod", "namespace": namespace, "name": meta.get("name"),
                         "uid": meta.get("uid")}
        if container:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{random_suffix(10)}", "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message, "type": kind,
            "source": {"component": "kubelet", "host": self.node_name}, "firstTimestamp": now,
            "lastTimestamp": now, "count": 1, "reportingComponent": "kubelet", "reportingInstance": self.node_name,
        }
        try:
            await self.api.create(f"/api/v1/namespaces/{namespace}/events", body)
        except (ApiError, OSError, aiohttp.ClientError) as exc:
            log.debug("event %s not posted: %s", reason, exc)

    # ------------------------------------------------------------ pod events

    def _on_pod(self, kind: str, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
        worker = self.workers.get(uid)
        if kind == "DELETED":
            self._events_sent.pop(uid, None)
            if worker is not None:
                self.workers.pop(uid, None)
                self._retiring.add(worker)  # still killed on shutdown while its grace period runs
                task = spawn(worker.stop(gone=True))
                task.add_done_callback(lambda _: self._retiring.discard(worker))
            return
        if worker is not None:
            worker.update(pod)
            return
        if meta.get("deletionTimestamp"):
            # Deleted gracefully before it ever ran here: nothing to stop, finish the deletion.
            spawn(self.api.delete(
                f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta.get('name')}", grace=0))
            return
        if pod_terminal(pod):
            return  # finished before this kubelet started: leave its status alone
        self.workers[uid] = PodWorker(self, pod)

    async def close(self) -> None:
        workers = [*self.workers.values(), *self._retiring]
        self.workers.clear()
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
        await self.memory.stop()
        await self.probe_session.close()


# ---------------------------------------------------------------------------- process entry point

RESOURCES = {
    "pods": "/api/v1/pods",
    "services": "/api/v1/services",
    "deployments": "/apis/apps/v1/deployments",
    "jobs": "/apis/batch/v1/jobs",
}


async def serve(args: argparse.Namespace) -> None:
    from e2e.local.controllers import DeploymentController, JobController
    from e2e.local.proxy import ServiceProxy

    kubeconfig = load_kubeconfig(Path(args.kubeconfig))
    api = ApiClient(kubeconfig)
    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    images = ImageTable.from_file(Path(args.images))
    informers = {name: Informer(api, path, name) for name, path in RESOURCES.items()}
    timing = ProbeTiming(period_cap=args.probe_period_cap, delay_cap=args.probe_delay_cap)
    kubelet = Kubelet(api, kubeconfig, images, work_dir, informers["pods"], timing, tuple(args.pass_env),
                      args.pod_ip_start)
    deployments = DeploymentController(api, informers["deployments"], informers["pods"],
                                       progress_deadline_cap=args.progress_deadline_cap)
    jobs = JobController(api, informers["jobs"], informers["pods"])
    proxy = ServiceProxy(informers["services"], informers["pods"])

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    for informer in informers.values():
        informer.start()
    try:
        for name, informer in informers.items():
            try:
                await asyncio.wait_for(informer.synced.wait(), args.sync_timeout)
            except TimeoutError:
                log.warning("%s did not sync within %ss (is the resource served?)", name, args.sync_timeout)
        deployments.start()
        jobs.start()
        if args.ready_file:
            partial = Path(args.ready_file + ".partial")
            partial.write_text(f"{os.getpid()}\n")
            partial.replace(args.ready_file)
        log.info("local kubelet ready: %d image(s), work dir %s", len(images), work_dir)
        await stop.wait()
    finally:
        log.info("stopping: killing every container process")
        await deployments.stop()
        await jobs.stop()
        for informer in informers.values():
            await informer.stop()
        await proxy.close()
        await kubelet.close()
        await api.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.local.kubelet", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--images", required=True, help="the image table (YAML), see e2e/local/images.py")
    parser.add_argument("--work-dir", required=True, help="pod folders, volumes and container logs go here")
    parser.add_argument("--ready-file", help="written (with the pid) once the informers are synced")
    parser.add_argument("--probe-period-cap", type=float, default=1.0, help="cap of probes' periodSeconds")
    parser.add_argument("--probe-delay-cap", type=float, default=1.0, help="cap of probes' initialDelaySeconds")
    parser.add_argument("--progress-deadline-cap", type=float, default=30.0,
                        help="cap of Deployments' progressDeadlineSeconds")
    parser.add_argument("--pass-env", action="append", default=[],
                        help="a host environment variable containers inherit (repeatable)")
    parser.add_argument("--pod-ip-start", default="127.0.1.1",
                        help="the first pod IP (LocalCluster picks a random one, so that clusters running at "
                             "the same time rarely give two pods the same address)")
    parser.add_argument("--sync-timeout", type=float, default=10.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
