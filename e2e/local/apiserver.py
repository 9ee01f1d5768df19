"""The local cluster harness's Kubernetes API server (DESIGN.md section 5).

An in-memory API server that kopf 1.45 (the operator), kubectl 1.35 and the
harness's kubelet use as if it were a real one: plain HTTP, a kubeconfig with a
dummy token, no authentication or authorization. It is kmock's
``KubernetesEmulator`` extended (:mod:`e2e.local._apiserver_emulator`) with what
those clients rely on:

* metadata (``uid``, a global ``resourceVersion`` counter, ``generation`` that
  grows on spec changes only, ``creationTimestamp``, ``generateName``) and
  Status errors (404 NotFound, 409 AlreadyExists/Conflict, 422 Invalid with
  field causes);
* PUT with optimistic concurrency; merge, strategic-merge, JSON and apply
  patches; the ``status`` subresource of Pods, Services, Deployments, Jobs and
  of CRD versions that declare it; ``deployments/scale``; ``pods/log`` (the
  text comes from the file named by the pod annotation
  ``local.locus.dev/log-path[.<container>]``, see
  :mod:`e2e.local._apiserver_subresources`);
* discovery for the core, apps, batch, apiextensions, events, coordination,
  rbac and policy groups, and for every served version of every CRD written
  (short names, categories, subresources), with ``Established`` CRD status;
* custom resources admitted against their CRD's schema: unknown fields pruned
  (or rejected with ``fieldValidation=Strict``), ``default:`` values applied,
  schema and CEL rules checked (:mod:`e2e.local.crdvalidation`);
* server-side Tables for ``kubectl get`` (printer columns of CRDs);
* label and field selectors, pagination, watches resumable from a
  resourceVersion (410 Gone when too old), bookmarks, ``timeoutSeconds``;
* finalizers, garbage collection by owner references, namespace deletion,
  deletecollection; namespaces created on first use;
* Services get a ``clusterIP`` from 127.1.0.0/16, the addresses the harness's
  kubelet listens on in place of kube-proxy.

Simplified: garbage collection and namespace cleanup happen within the
deleting request; a Pod without finalizers goes at once (no grace period); an
apply patch (server-side apply) is a (strategic) merge patch, without field
managers or conflicts; all versions of a CRD share their objects (no
conversion).

Not emulated: authentication and RBAC enforcement, admission webhooks,
controllers (nothing creates ReplicaSets or Pods for a Deployment or Job — the
harness's kubelet does what it needs), protobuf (typed ``kubectl create
configmap|secret|deployment ...`` sends it and is answered 415, naming
``kubectl apply -f`` instead), aggregated discovery (kubectl falls back to the
legacy documents), OpenAPI schemas (only what kubectl needs to leave
validation to the server, see :mod:`e2e.local._apiserver_openapi`).

Use it as a subprocess (what the tests and the harness do)::

    python -m e2e.local.apiserver --port 0 --kubeconfig PATH [--host 127.0.0.1] [--ready-file PATH]
                                  [--log-level INFO]   # INFO logs every request

It writes the kubeconfig (context ``locus-local``), then the URL into the ready
file once it is listening, and stops cleanly on SIGTERM or SIGINT.

Or in-process::

    async with LocalApiServer.running("127.0.0.1", 0, kubeconfig=path) as server:
        server.url, server.cluster.store ...

    url, stop = start_in_thread()   # its own event loop in a daemon thread
    ...
    stop()
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import aiohttp.web
import yaml

from e2e.local._apiserver_cluster import Cluster
from e2e.local._apiserver_emulator import LocalKubernetes

__all__ = ["CONTEXT", "Cluster", "LocalApiServer", "LocalKubernetes", "main", "start_in_thread", "write_kubeconfig"]

CONTEXT = "locus-local"
TOKEN = "locus-local-token"  # any token: the server does not check it


def kubeconfig(url: str, namespace: str = "default") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url, "insecure-skip-tls-verify": True}}],
        "users": [{"name": CONTEXT, "user": {"token": TOKEN}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)  # readers never see half a file


def write_kubeconfig(path: str | os.PathLike[str], url: str) -> Path:
    target = Path(path)
    _write_atomically(target, yaml.safe_dump(kubeconfig(url), sort_keys=False))
    return target


class LocalApiServer:
    """The emulator listening on a TCP port (aiohttp, plain HTTP)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, handler: LocalKubernetes | None = None) -> None:
        self.host, self.port = host, port
        self.handler = handler if handler is not None else LocalKubernetes()  # kmock handlers are falsy when unused
        self._runner: aiohttp.web.ServerRunner | None = None

    @property
    def cluster(self) -> Cluster:
        return self.handler.cluster

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host  # a wildcard is reached locally
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def start(self) -> str:
        await self.handler.__aenter__()
        server = aiohttp.web.Server(self.handler, handler_cancellation=True)
        self._runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await self._runner.setup()
        site = aiohttp.web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        self.cluster.store.close_watchers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            await self.handler.__aexit__(None, None, None)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, host: str = "127.0.0.1", port: int = 0, kubeconfig: str | os.PathLike[str] | None = None,
                      handler: LocalKubernetes | None = None) -> AsyncIterator[LocalApiServer]:
        server = cls(host, port, handler)
        await server.start()
        try:
            if kubeconfig is not None:
                write_kubeconfig(kubeconfig, server.url)
            yield server
        finally:
            await server.stop()


def start_in_thread(host: str = "127.0.0.1", port: int = 0,
                    kubeconfig: str | os.PathLike[str] | None = None) -> tuple[str, Callable[[], None]]:
    """Serve from a daemon thread with its own event loop; returns the URL and a function that stops it."""
    loop = asyncio.new_event_loop()
    server = LocalApiServer(host, port)
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            return
        finally:
            started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=serve, name="locus-apiserver", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]
    if kubeconfig is not None:
        write_kubeconfig(kubeconfig, server.url)

    def stop() -> None:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join()

    return server.url, stop


async def _serve(args: argparse.Namespace) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with LocalApiServer.running(args.host, args.port, kubeconfig=args.kubeconfig) as server:
        if args.ready_file:
            _write_atomically(Path(args.ready_file), server.url)
        logging.getLogger("locus.e2e.apiserver").info("serving at %s", server.url)
        await stopping.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.local.apiserver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig for this server")
    parser.add_argument("--ready-file", help="written with the URL once the server listens")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
