"""``locus operator run``: kopf watches CodeLocations, Instances and their
children and feeds two keyed work queues; the reconcilers do the rest.

kopf handlers only enqueue (fast, no per-object state in annotations) except
the delete handlers, which hold a finalizer so that a deleted CodeLocation
is deregistered from its Instance's storage before it disappears. A periodic
resync re-reconciles everything, so a missed event heals within a minute."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Hashable
from typing import Any

import kopf

from locus.k8s.jobs import RUN_COMPONENT
from locus.k8s.labels import COMPONENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGER
from locus_operator.codelocations import delete_location, location_for_child, reconcile_location
from locus_operator.context import OperatorContext, OperatorSettings
from locus_operator.instances import (
    delete_instance,
    instance_for_child,
    reconcile_instance,
    run_job_changed,
    run_pod_changed,
)
from locus_operator.kube import Credentials, KubeClient
from locus_operator.resources import GROUP, VERSION
from locus_operator.workqueue import WorkQueue

log = logging.getLogger(__name__)
MANAGED = {MANAGED_BY_LABEL: MANAGER}


class _Holder:
    """The context, created at startup."""

    ctx: OperatorContext | None = None


def _login(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo | None:
    """In-cluster service account first, else the kubeconfig (``$KUBECONFIG``)."""
    return kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)


def build_registry(settings: OperatorSettings, holder: _Holder) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return _login(kwargs["settings"])

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Handler progress in annotations, never in .status: the CRDs' status
        # schemas are Locus's own. kopf's own event posting stays off; the
        # reconcilers post the events that matter.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="locus.dev")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="locus.dev")
        settings.persistence.finalizer = "locus.dev/deregister"
        settings.posting.enabled = False
        settings.watching.server_timeout = 300
        # kopf runs startup before it logs in; the client logs in the same way.
        info = _login(settings)
        if info is None:
            raise kopf.PermanentError("no Kubernetes credentials: neither a service account nor a kubeconfig")
        ctx = OperatorContext(settings=operator_settings, client=KubeClient(Credentials.from_kopf(info)))

        async def locations(key: Hashable) -> None:
            assert isinstance(key, tuple)
            await reconcile_location(ctx, key)

        async def instances(key: Hashable) -> None:
            assert isinstance(key, tuple)
            await reconcile_instance(ctx, key)

        ctx.locations = WorkQueue(locations, workers=operator_settings.workers)
        ctx.instances = WorkQueue(instances, workers=max(2, operator_settings.workers // 4))
        ctx.locations.start()
        ctx.instances.start()
        holder.ctx = ctx

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        ctx = holder.ctx
        if ctx is None:
            return
        for queue in (ctx.locations, ctx.instances):
            if queue is not None:
                await queue.stop()
        ctx.storages.close()
        await ctx.client.close()

    operator_settings = settings

    def queue_location(key: tuple[str, str] | None) -> None:
        if key is not None and holder.ctx is not None and holder.ctx.locations is not None:
            holder.ctx.locations.add(key)

    def queue_instance(key: tuple[str, str] | None) -> None:
        if key is not None and holder.ctx is not None and holder.ctx.instances is not None:
            holder.ctx.instances.add(key)

    @kopf.on.event(GROUP, VERSION, "codelocations", registry=registry)
    def codelocation_event(type: str, namespace: str | None, name: str, **_: Any) -> None:
        if type != "DELETED":
            queue_location((namespace or "", name))

    @kopf.on.delete(GROUP, VERSION, "codelocations", registry=registry, retries=5, backoff=1)
    async def codelocation_deleted(body: kopf.Body, **_: Any) -> None:
        if holder.ctx is not None:
            await delete_location(holder.ctx, dict(body))

    @kopf.on.event(GROUP, VERSION, "instances", registry=registry)
    def instance_event(type: str, namespace: str | None, name: str, **_: Any) -> None:
        if type != "DELETED":
            queue_instance((namespace or "", name))

    @kopf.on.delete(GROUP, VERSION, "instances", registry=registry, retries=5, backoff=1, optional=True)
    async def instance_deleted(namespace: str | None, name: str, **_: Any) -> None:
        if holder.ctx is not None:
            await delete_instance(holder.ctx, (namespace or "", name))

    def child_event(body: kopf.Body, **_: Any) -> None:
        ctx = holder.ctx
        if ctx is None:
            return
        obj = dict(body)
        queue_location(location_for_child(ctx, obj))
        owner = instance_for_child(obj)
        if owner is None:
            meta = obj.get("metadata") or {}
            labels = meta.get("labels") or {}
            if labels.get("app.kubernetes.io/component") in ("migration", "daemon", "api") and INSTANCE_LABEL in labels:
                owner = (meta.get("namespace", ""), labels[INSTANCE_LABEL])
        queue_instance(owner)

    for group, version, plural in (("apps", "v1", "deployments"), ("", "v1", "pods"), ("batch", "v1", "jobs")):
        kopf.on.event(group, version, plural, labels=MANAGED, registry=registry)(child_event)

    @kopf.on.event("batch", "v1", "jobs", labels={**MANAGED, COMPONENT_LABEL: RUN_COMPONENT}, registry=registry)
    async def run_job_event(type: str, body: kopf.Body, **_: Any) -> None:
        if holder.ctx is not None:
            await run_job_changed(holder.ctx, dict(body), deleted=type == "DELETED")

    @kopf.on.event("", "v1", "pods", labels={**MANAGED, COMPONENT_LABEL: RUN_COMPONENT}, registry=registry)
    async def run_pod_event(type: str, body: kopf.Body, **_: Any) -> None:
        if holder.ctx is not None and type != "DELETED":
            await run_pod_changed(holder.ctx, dict(body))

    return registry


async def _resync(holder: _Holder, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        ctx = holder.ctx
        if ctx is None or ctx.locations is None or ctx.instances is None:
            continue
        namespaces: tuple[str | None, ...] = ctx.settings.namespaces or (None,)
        try:
            for namespace in namespaces:
                for obj in await ctx.client.list("Instance", namespace):
                    ctx.instances.add((obj["metadata"]["namespace"], obj["metadata"]["name"]))
                for obj in await ctx.client.list("CodeLocation", namespace):
                    ctx.locations.add((obj["metadata"]["namespace"], obj["metadata"]["name"]))
        except Exception:
            log.warning("resync failed; trying again in %.0fs", every, exc_info=True)


async def run_operator(settings: OperatorSettings, stop: threading.Event | asyncio.Event | None = None) -> None:
    holder = _Holder()
    registry = build_registry(settings, holder)
    resync = asyncio.create_task(_resync(holder, settings.resync_seconds))
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=settings.cluster_wide,
            namespaces=settings.namespaces,
            liveness_endpoint=f"http://{settings.health_host}:{settings.health_port}/healthz",
            stop_flag=stop,
        )
    finally:
        resync.cancel()
