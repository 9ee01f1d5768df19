"""The HTTP face of the emulated API server: kmock's emulator, extended.

:class:`LocalKubernetes` subclasses kmock's ``KubernetesEmulator`` and keeps
its outer shape (an aiohttp handler, the ``kmock[...] << payload`` DSL for
injecting reactions in tests, the recorded requests), but replaces the parts
that do not behave like a real API server for kubectl, kopf and the harness's
kubelet:

* request parsing (kmock cannot parse ``/api/v1/namespaces``);
* object storage and history (kmock keeps every version of every object; here
  :mod:`e2e.local._apiserver_store` keeps one, indexed, and a bounded event log);
* discovery (the core group answers ``groupVersion: "v1"``);
* the verbs, with the semantics of :mod:`e2e.local._apiserver_cluster`.

Only the reactions a test adds through the DSL take precedence over the
emulation; the requests kept for assertions are capped (``request_history``).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp.web
import attrs
import yaml
from kmock._internal import apps, enums, references, rendering
from kmock._internal.k8s import KubernetesEmulator, KubernetesError

from e2e.local import _apiserver_discovery as discovery
from e2e.local import _apiserver_openapi as openapi
from e2e.local import _apiserver_subresources as subresources
from e2e.local._apiserver_cluster import Cluster, WriteOptions
from e2e.local._apiserver_deletion import DeleteOptions
from e2e.local._apiserver_errors import (
    ApiError,
    bad_request,
    method_not_allowed,
    resource_not_found,
    unsupported_media_type,
)
from e2e.local._apiserver_patch import APPLY, JSON_PATCH, MERGE, STRATEGIC
from e2e.local._apiserver_resources import ResourceType, Route, parse_route
from e2e.local._apiserver_selectors import selected, selected_name
from e2e.local._apiserver_tables import row_object, table, wants_table
from e2e.local._apiserver_watch import WatchRequest, stream

log = logging.getLogger("locus.e2e.apiserver")
Obj = dict[str, Any]
PATCH_TYPES = (MERGE, STRATEGIC, JSON_PATCH, APPLY)
PARTIAL = "as=PartialObjectMetadata"
PROTOBUF = "application/vnd.kubernetes.protobuf"
VERBS = {"GET": "_get", "POST": "_post", "PUT": "_put", "PATCH": "_patch", "DELETE": "_delete"}


def _decode(raw: aiohttp.web.BaseRequest, body: bytes) -> Any:
    if not body:
        return None
    if raw.content_type == PROTOBUF:
        raise unsupported_media_type("the local API server speaks JSON only, not protobuf: use `kubectl apply -f` "
                                     "or `kubectl create -f` instead of typed `kubectl create <kind>`")
    try:
        if raw.content_type == APPLY:
            return yaml.safe_load(body)
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"the body of the request ({raw.content_type}) could not be decoded: {exc}") from exc


def _action(route: Route | None, method: str, params: dict[str, str]) -> enums.action | None:
    if route is None or route.plural is None:
        return None
    if method == "GET":
        watch = params.get("watch") in ("true", "1")
        return enums.action.WATCH if watch else enums.action.FETCH if route.name else enums.action.LIST
    named = {"PATCH": enums.action.UPDATE, "PUT": enums.action.UPDATE, "DELETE": enums.action.DELETE}
    return enums.action.CREATE if method == "POST" else named.get(method) if route.name else None


@functools.lru_cache(maxsize=256)
def _kmock_resource(group: str, version: str, plural: str) -> references.resource:
    return references.resource(group, version, plural)  # slow to build: runtime protocol checks


def _json(payload: Any, status: int = 200, warnings: list[str] | None = None) -> aiohttp.web.Response:
    response = aiohttp.web.Response(body=json.dumps(payload, separators=(",", ":")).encode(), status=status,
                                    content_type="application/json")
    for warning in warnings or []:
        response.headers.add("Warning", f'299 - {json.dumps(warning)}')
    return response


def _continue_token(obj: Obj) -> str:
    key = [obj["metadata"].get("namespace") or "", obj["metadata"]["name"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _after_token(objs: list[Obj], token: str) -> list[Obj]:
    try:
        start = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise bad_request(f"invalid continue token: {token}") from exc
    return [o for o in objs if [o["metadata"].get("namespace") or "", o["metadata"]["name"]] > start]


@attrs.define(kw_only=True)
class LocalKubernetes(KubernetesEmulator):
    cluster: Cluster = attrs.field(factory=Cluster)
    log_sources: dict[tuple[str, str], subresources.LogSource] = attrs.field(factory=dict)
    request_history: int = 1000
    _counter: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        # kmock's fallback reactions serve kmock's own object store; the emulation replaces them.
        pass

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            request = self._record(raw, await raw.read())
            if self._payloads:  # reactions added by a test through the kmock DSL go first
                try:
                    return await apps.RawHandler._handle(self, request)
                except NotImplementedError:
                    pass
            return await self._handle(request)
        except ConnectionError:
            raise  # the client went away mid-stream: nothing to answer
        except KubernetesError as exc:
            status = exc.status_object() if isinstance(exc, ApiError) else ApiError(
                exc.status, exc.reason, exc.message, exc.details or {}).status_object()
            return _json(status, exc.status)
        except Exception as exc:
            log.exception("%s %s failed", raw.method, raw.path_qs)
            return _json(ApiError(500, "InternalError", repr(exc), {}).status_object(), 500)

    def _record(self, raw: aiohttp.web.BaseRequest, body: bytes) -> rendering.Request:
        route = parse_route(raw.path)
        params = dict(raw.query)
        resource = _kmock_resource(route.group, route.version, route.plural) if route and route.plural else None
        self._counter += 1
        request = rendering.Request(
            id=self._counter, raw_request=raw, url=raw.url, method=raw.method, params=params,
            headers=dict(raw.headers), cookies=dict(raw.cookies), body=body, text=body.decode(errors="replace"),
            data=_decode(raw, body), action=_action(route, raw.method, params), resource=resource,
            namespace=route.namespace if route else None, name=route.name if route else None,
            subresource=route.subresource if route else None,
        )
        self._requests.append(request)
        if len(self._requests) > 2 * self.request_history:
            del self._requests[: -self.request_history]
        return request

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None
        route = parse_route(raw.path)
        if route is None or route.plural is None:
            return await self._serve_discovery(raw)
        rt = self.cluster.resource_type(route)
        route = route if rt.namespaced else Route(route.group, route.version, route.plural, None, route.name,
                                                  route.subresource)
        if raw.method not in VERBS:
            raise method_not_allowed()
        verb: Callable[..., Awaitable[aiohttp.web.StreamResponse]] = getattr(self, VERBS[raw.method])
        return await verb(raw, rt, route, request.params, request.data)

    def _get_resources(self) -> list[references.resource]:
        """What kmock's own introspection sees: the served types."""
        return [_kmock_resource(t.group, t.version, t.plural) for t in self.cluster.catalog.all()]

    # Discovery, answered from the catalog (kmock's _serve_* handlers would answer from its own registry)
    async def _serve_discovery(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        path = raw.path.rstrip("/") or "/"
        catalog = self.cluster.catalog
        if path in ("/healthz", "/readyz", "/livez"):
            return aiohttp.web.Response(text="ok")
        documents: dict[str, Callable[[], Any]] = {
            "/": lambda: discovery.root_paths(catalog),
            "/version": lambda: discovery.SERVER_VERSION,
            "/api": lambda: discovery.api_versions(raw.host),
            "/apis": lambda: discovery.api_group_list(catalog),
        }
        parts = path.strip("/").split("/")
        if path in documents:
            document = documents[path]()
        elif parts[:2] == ["openapi", "v3"]:
            document = self._openapi(parts[2:])
        elif parts[0] == "api" and len(parts) == 2:
            document = discovery.api_resource_list(catalog, "", parts[1]) if parts[1] == "v1" else None
        elif parts[0] == "apis" and len(parts) == 2:
            document = discovery.api_group(catalog, parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            document = discovery.api_resource_list(catalog, parts[1], parts[2])
        else:
            document = None
        if document is None:
            raise resource_not_found(raw.path)
        return _json(document)

    def _openapi(self, gv_parts: list[str]) -> Obj | None:
        catalog = self.cluster.catalog
        if not gv_parts:
            return openapi.root(catalog)
        if gv_parts[0] == "api" and len(gv_parts) == 2:
            return openapi.group_version(catalog, "", gv_parts[1])
        if gv_parts[0] == "apis" and len(gv_parts) == 3:
            return openapi.group_version(catalog, gv_parts[1], gv_parts[2])
        return None

    # Reading
    def _render(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, obj: Obj) -> Obj:
        accept = raw.headers.get("Accept", "")
        if wants_table(accept):
            return table(rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                         raw.query.get("includeObject", "Metadata"))
        if PARTIAL in accept:
            return row_object(obj, "Metadata") or {}
        return obj

    async def _get(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, route: Route, params: dict[str, str],
                   _: Any) -> aiohttp.web.StreamResponse:
        if params.get("watch") in ("true", "1"):
            return await self._watch(raw, rt, route, params)
        if route.name is None:
            return self._list(raw, rt, route, params)
        obj = self.cluster.get(rt, route.namespace, route.name)
        if route.subresource == "log":
            return await self._log(raw, rt, obj, params)
        if route.subresource == "scale":
            return _json(subresources.scale_of(obj))
        return _json(self._render(raw, rt, obj))

    def _selected(self, rt: ResourceType, route: Route, params: dict[str, str]) -> list[Obj]:
        name = route.name or selected_name(params)
        if name is not None:
            found = self.cluster.store.get(rt.key, route.namespace, name)
            candidates = [found] if found is not None else []
        else:
            candidates = self.cluster.list_objects(rt, route.namespace)
        predicate = selected(params)
        return [o for o in candidates if predicate(o)]

    def _list(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, route: Route,
              params: dict[str, str]) -> aiohttp.web.Response:
        objs = self._selected(rt, route, params)
        meta: Obj = {"resourceVersion": str(self.cluster.store.revision)}
        if params.get("continue"):
            objs = _after_token(objs, params["continue"])
        limit = int(params.get("limit") or 0)
        if 0 < limit < len(objs):
            meta.update({"continue": _continue_token(objs[limit - 1]), "remainingItemCount": len(objs) - limit})
            objs = objs[:limit]
        accept = raw.headers.get("Accept", "")
        if wants_table(accept):
            return _json(table(rt, objs, meta, params.get("includeObject", "Metadata")))
        if PARTIAL in accept:
            return _json({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                          "items": [row_object(o, "Metadata") for o in objs]})
        return _json({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": objs})

    async def _watch(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, route: Route,
                     params: dict[str, str]) -> aiohttp.web.StreamResponse:
        if route.name:
            params = {**params, "fieldSelector": ",".join(filter(None, [params.get("fieldSelector"),
                                                                           f"metadata.name={route.name}"]))}
        accept = raw.headers.get("Accept", "")
        include = params.get("includeObject", "Metadata")

        def render(obj: Obj) -> Obj:
            if wants_table(accept):
                return table(rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}, include)
            return row_object(obj, "Metadata") or {} if PARTIAL in accept else obj

        watch = WatchRequest.parse(rt, route.namespace, selected(params), render, params)
        return await stream(raw, self.cluster.store, watch)

    async def _log(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, pod: Obj,
                   params: dict[str, str]) -> aiohttp.web.StreamResponse:
        first = subresources.initial_log(pod, params, self.log_sources)
        if params.get("follow") != "true":
            return aiohttp.web.Response(body=first, content_type="text/plain")

        def still_running() -> bool:
            current = self.cluster.store.get(rt.key, pod["metadata"]["namespace"], pod["metadata"]["name"])
            phase = ((current or {}).get("status") or {}).get("phase")
            return current is not None and current["metadata"]["uid"] == pod["metadata"]["uid"] \
                and phase not in ("Succeeded", "Failed")

        return await subresources.follow_log(raw, pod, first, still_running, params)

    # Writing
    async def _post(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, route: Route, params: dict[str, str],
                    body: Any) -> aiohttp.web.StreamResponse:
        if route.name is not None:
            raise method_not_allowed()
        options = WriteOptions.from_params(params)
        created = self.cluster.create(rt, route.namespace, body, options)
        return _json(created, 201, options.warnings)

    async def _put(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, route: Route, params: dict[str, str],
                   body: Any) -> aiohttp.web.StreamResponse:
        if route.name is None:
            raise method_not_allowed()
        options = WriteOptions.from_params(params)
        if route.subresource == "scale":
            return self._write_scale(rt, route, None, body, options)
        return _json(self.cluster.replace(rt, route, body, options), 200, options.warnings)

    async def _patch(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, route: Route, params: dict[str, str],
                     body: Any) -> aiohttp.web.StreamResponse:
        if route.name is None:
            raise method_not_allowed()
        if raw.content_type not in PATCH_TYPES:
            raise unsupported_media_type(f"the body of the request was in an unknown format - accepted media types "
                                         f"include: {', '.join(PATCH_TYPES)}")
        options = WriteOptions.from_params(params)
        if route.subresource == "scale":
            return self._write_scale(rt, route, raw.content_type, body, options)
        existed = self.cluster.store.get(rt.key, route.namespace, route.name) is not None
        patched = self.cluster.patch(rt, route, raw.content_type, body, options)
        return _json(patched, 200 if existed else 201, options.warnings)

    def _write_scale(self, rt: ResourceType, route: Route, content_type: str | None, body: Any,
                     options: WriteOptions) -> aiohttp.web.Response:
        current = self.cluster.get(rt, route.namespace, route.name or "")
        patch = subresources.replicas_after(current, content_type, body)
        main = Route(route.group, route.version, route.plural, route.namespace, route.name)
        updated = self.cluster.patch(rt, main, MERGE, patch, options)
        return _json(subresources.scale_of(updated))

    async def _delete(self, raw: aiohttp.web.BaseRequest, rt: ResourceType, route: Route, params: dict[str, str],
                      body: Any) -> aiohttp.web.StreamResponse:
        options = DeleteOptions.parse(params, body)
        if route.name is not None:
            return _json(self.cluster.delete(rt, route, options))
        deleted = self.cluster.delete_collection(rt, self._selected(rt, route, params), options)
        meta = {"resourceVersion": str(self.cluster.store.revision)}
        return _json({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": deleted})
