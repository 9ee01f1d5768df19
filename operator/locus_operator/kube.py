"""The operator's Kubernetes API client: a thin asyncio layer over the REST
API for the few kinds Locus manages.

kopf watches and calls the handlers; this client creates, reads, patches and
deletes the children. It shares kopf's credentials (``connect`` takes the
``ConnectionInfo`` kopf logged in with) and refuses any call that
``locus_operator.rbac`` does not list, so that table, and the Helm chart's
RBAC made from it, is exactly what the operator uses."""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from locus_operator import rbac


@dataclass(frozen=True)
class Kind:
    """Where a kind lives in the REST API."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name)}"
        if subresource is not None:
            base += f"/{subresource}"
        return base


KINDS: dict[str, Kind] = {
    "CodeLocation": Kind("locus.dev", "v1alpha1", "codelocations"),
    "Instance": Kind("locus.dev", "v1alpha1", "instances"),
    "Deployment": Kind("apps", "v1", "deployments"),
    "Job": Kind("batch", "v1", "jobs"),
    "Service": Kind("", "v1", "services"),
    "ConfigMap": Kind("", "v1", "configmaps"),
    "Secret": Kind("", "v1", "secrets"),
    "Pod": Kind("", "v1", "pods"),
    "Event": Kind("", "v1", "events"),
}

_VERBS = {"GET": "get", "POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
MERGE_PATCH = "application/merge-patch+json"
# kopf's own calls say kopf/<version>; an API server's audit log tells the two apart.
USER_AGENT = "locus-operator/0.1.0"


class ApiError(Exception):
    """A failed API call, with the API server's status code, reason and message."""

    def __init__(self, status: int, reason: str, message: str, path: str) -> None:
        super().__init__(f"{status} {reason} on {path}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class NotPermitted(Exception):
    """A call outside ``locus_operator.rbac.RULES``: a bug in the operator."""


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@dataclass(frozen=True)
class Credentials:
    """What the client needs of kopf's ``ConnectionInfo``."""

    server: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    ca_path: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    certificate_path: str | None = None
    private_key_path: str | None = None

    @classmethod
    def from_kopf(cls, info: Any) -> Credentials:
        ca_data = info.ca_data
        return cls(
            server=info.server,
            token=info.token,
            username=info.username,
            password=info.password,
            ca_path=str(info.ca_path) if info.ca_path else None,
            ca_data=ca_data.encode() if isinstance(ca_data, str) else ca_data,
            insecure=bool(info.insecure),
            certificate_path=str(info.certificate_path) if info.certificate_path else None,
            private_key_path=str(info.private_key_path) if info.private_key_path else None,
        )

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https"):
            return False
        context = ssl.create_default_context(
            cafile=self.ca_path, cadata=self.ca_data.decode() if self.ca_data else None
        )
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certificate_path:
            context.load_cert_chain(self.certificate_path, self.private_key_path)
        return context

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


class KubeClient:
    """Calls to one API server. Every method checks the RBAC table first."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._session: aiohttp.ClientSession | None = None
        self.calls: set[tuple[str, str, str]] = set()  # (group, resource, verb) made so far

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            auth = None
            if self._credentials.username and self._credentials.password:
                auth = aiohttp.BasicAuth(self._credentials.username, self._credentials.password)
            self._session = aiohttp.ClientSession(
                base_url=self._credentials.server.rstrip("/") + "/",
                headers=self._credentials.headers(),
                auth=auth,
                connector=aiohttp.TCPConnector(ssl=self._credentials.ssl_context(), limit=32),
                timeout=aiohttp.ClientTimeout(total=30),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(
        self,
        method: str,
        kind: Kind,
        *,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        verb = _VERBS[method]
        if method == "GET" and name is None:
            verb = "list"
        resource = kind.plural + (f"/{subresource}" if subresource else "")
        if not rbac.allows(kind.group, resource, verb):
            raise NotPermitted(f"{verb} {resource}.{kind.group or 'core'} is not in locus_operator.rbac.RULES")
        self.calls.add((kind.group, resource, verb))
        path = kind.path(namespace, name, subresource)
        url = path.lstrip("/") + (f"?{urlencode(params)}" if params else "")
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._client().request(method, url, data=data, headers=headers) as response:
            text = await response.text()
            if response.status >= 400:
                try:
                    status = json.loads(text)
                except ValueError:
                    status = {}
                raise ApiError(
                    response.status, str(status.get("reason", response.reason)), str(status.get("message", text)), path
                )
            return json.loads(text) if text else None

    # -- verbs -----------------------------------------------------------------

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            result: dict[str, Any] = await self._request("GET", KINDS[kind], namespace=namespace, name=name)
        except ApiError as error:
            if error.not_found:
                return None
            raise
        return result

    async def list(
        self, kind: str, namespace: str | None, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": selector(labels)} if labels else None
        result = await self._request("GET", KINDS[kind], namespace=namespace, params=params)
        return list(result.get("items") or [])

    async def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        namespace = obj.get("metadata", {}).get("namespace")
        result: dict[str, Any] = await self._request("POST", KINDS[obj["kind"]], namespace=namespace, body=obj)
        return result

    async def patch(
        self, kind: str, namespace: str | None, name: str, patch: Mapping[str, Any], subresource: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "PATCH",
            KINDS[kind],
            namespace=namespace,
            name=name,
            subresource=subresource,
            body=patch,
            content_type=MERGE_PATCH,
        )
        return result

    async def delete(self, kind: str, namespace: str | None, name: str, background: bool = True) -> bool:
        """False when it was already gone."""
        policy = "Background" if background else "Foreground"
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}
        try:
            await self._request("DELETE", KINDS[kind], namespace=namespace, name=name, body=body)
        except ApiError as error:
            if error.not_found:
                return False
            raise
        return True
