"""A small synchronous Kubernetes client for run pods (``k8s_job_executor``).

Run pods create, read, list and delete their step Jobs and look at their
pods; that is all this client does, with the standard library (urllib, ssl,
json) and PyYAML, so that a code location's image needs no ``kubernetes``
package. The operator has its own asyncio client (``locus_operator.kube``).

Credentials, as ``kubectl`` and client-go find them: ``$KUBECONFIG`` (a
``:``-separated list, merged first-wins) when set; else the pod's service
account (``KUBERNETES_SERVICE_HOST``/``PORT`` and
``/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}``);
else ``~/.kube/config``. Supported in a kubeconfig: ``server``,
``certificate-authority(-data)``, ``insecure-skip-tls-verify``, ``token``,
``tokenFile``, ``client-certificate(-data)``/``client-key(-data)``,
``username``/``password``, ``proxy-url`` and the context's ``namespace``.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

from locus.definitions.errors import LocusError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = Path("~/.kube/config")
# Bound service-account tokens are rotated in place by the kubelet.
TOKEN_REREAD_SECONDS = 60.0


class KubernetesError(LocusError):
    """Credentials that cannot be found or used."""


class KubernetesApiError(Exception):
    """A failed API call: the HTTP ``status`` (0 when the server could not
    be reached), Kubernetes' ``reason`` (``NotFound``, ``AlreadyExists``,
    ``Forbidden``...) and its ``message``."""

    def __init__(self, status: int, reason: str, message: str, method: str = "", path: str = "") -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.method = method
        self.path = path
        where = f" ({method} {path})" if method else ""
        super().__init__(f"{status} {reason}: {message}{where}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"


@dataclass(frozen=True)
class Resource:
    """Where a namespaced kind lives in the REST API."""

    api_version: str  # "v1" or "group/version"
    plural: str

    def path(self, namespace: str, name: str | None = None) -> str:
        root = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        path = f"{root}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{path}/{quote(name, safe='')}" if name is not None else path


PODS = Resource("v1", "pods")
JOBS = Resource("batch/v1", "jobs")
CONFIG_MAPS = Resource("v1", "configmaps")


@dataclass(frozen=True)
class Credentials:
    """How to reach and authenticate to one API server."""

    server: str
    namespace: str = "default"
    token: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    ca_data: str | None = None  # PEM
    insecure: bool = False
    client_cert_file: str | None = None
    client_key_file: str | None = None
    client_cert_data: str | None = None  # PEM
    client_key_data: str | None = None  # PEM
    username: str | None = None
    password: str | None = None
    proxy_url: str | None = None


def in_cluster_credentials(
    environ: Mapping[str, str] = os.environ, account_dir: Path = SERVICE_ACCOUNT_DIR
) -> Credentials | None:
    """The pod's service account, or None outside a pod."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    token_file = account_dir / "token"
    if not host or not port or not token_file.is_file():
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    namespace_file = account_dir / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else "default"
    ca_file = account_dir / "ca.crt"
    return Credentials(
        server=f"https://{host}:{port}",
        namespace=namespace or "default",
        token_file=str(token_file),
        ca_file=str(ca_file) if ca_file.is_file() else None,
    )


def _named(items: Any, kind: str, merged: dict[str, dict[str, Any]]) -> None:
    for item in items or ():
        if isinstance(item, Mapping) and item.get("name") and item["name"] not in merged:
            merged[item["name"]] = dict(item.get(kind) or {})


def _relative(value: str | None, base: Path) -> str | None:
    return str(base / value) if value and not os.path.isabs(value) else value


def kubeconfig_credentials(paths: list[Path], context: str | None = None) -> Credentials:
    """The credentials of ``context`` (default: the current context) in the
    kubeconfig files ``paths``, merged as kubectl does (first wins)."""
    clusters: dict[str, dict[str, Any]] = {}
    users: dict[str, dict[str, Any]] = {}
    contexts: dict[str, dict[str, Any]] = {}
    current: str | None = None
    dirs: dict[str, Path] = {}  # where each cluster/user was defined: relative paths are relative to it
    found = [p for p in paths if p.is_file()]
    if not found:
        raise KubernetesError(
            f"no kubeconfig found at {', '.join(str(p) for p in paths)}",
            "set KUBECONFIG, or run inside a pod with a service account",
        )
    for path in found:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise KubernetesError(f"cannot read kubeconfig {path}: {exc}", "fix or replace the file") from exc
        for key, kind, merged in (("clusters", "cluster", clusters), ("users", "user", users)):
            before = set(merged)
            _named(data.get(key), kind, merged)
            dirs.update({f"{kind}/{name}": path.parent for name in set(merged) - before})
        _named(data.get("contexts"), "context", contexts)
        current = current or data.get("current-context") or None
    name = context or current
    if not name or name not in contexts:
        raise KubernetesError(
            f"kubeconfig context {name!r} not found in {', '.join(map(str, found))}",
            "set current-context (kubectl config use-context NAME)",
        )
    ctx = contexts[name]
    cluster = clusters.get(ctx.get("cluster", ""))
    if not cluster or not cluster.get("server"):
        raise KubernetesError(f"kubeconfig context {name!r} names no cluster with a server", "fix the kubeconfig")
    user = users.get(ctx.get("user", ""), {})
    if user.get("exec") or user.get("auth-provider"):
        raise KubernetesError(
            f"kubeconfig user {ctx.get('user')!r} uses an exec or auth-provider plugin, which Locus does not run",
            "use a token (e.g. a service account token) in the kubeconfig",
        )
    cluster_dir = dirs.get(f"cluster/{ctx.get('cluster')}", Path.cwd())
    user_dir = dirs.get(f"user/{ctx.get('user')}", Path.cwd())

    def pem(value: Any) -> str | None:
        return base64.b64decode(value).decode() if value else None

    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        namespace=str(ctx.get("namespace") or "default"),
        token=user.get("token") or None,
        token_file=_relative(user.get("tokenFile"), user_dir),
        ca_file=_relative(cluster.get("certificate-authority"), cluster_dir),
        ca_data=pem(cluster.get("certificate-authority-data")),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        client_cert_file=_relative(user.get("client-certificate"), user_dir),
        client_key_file=_relative(user.get("client-key"), user_dir),
        client_cert_data=pem(user.get("client-certificate-data")),
        client_key_data=pem(user.get("client-key-data")),
        username=user.get("username") or None,
        password=user.get("password") or None,
        proxy_url=cluster.get("proxy-url") or None,
    )


def load_credentials(environ: Mapping[str, str] = os.environ, account_dir: Path = SERVICE_ACCOUNT_DIR) -> Credentials:
    """``$KUBECONFIG``, else the pod's service account, else ``~/.kube/config``."""
    if environ.get("KUBECONFIG"):
        return kubeconfig_credentials([Path(p).expanduser() for p in environ["KUBECONFIG"].split(os.pathsep) if p])
    in_cluster = in_cluster_credentials(environ, account_dir)
    if in_cluster is not None:
        return in_cluster
    return kubeconfig_credentials([DEFAULT_KUBECONFIG.expanduser()])


@contextlib.contextmanager
def _pem_files(cert: str, key: str) -> Iterator[tuple[str, str]]:
    """ssl loads client certificates only from files: private ones, removed at once."""
    paths: list[str] = []
    try:
        for text in (cert, key):
            fd, path = tempfile.mkstemp(prefix="locus-k8s-", suffix=".pem")
            paths.append(path)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        yield paths[0], paths[1]
    finally:
        for path in paths:
            with contextlib.suppress(OSError):
                os.unlink(path)


def ssl_context(creds: Credentials) -> ssl.SSLContext:
    if creds.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=creds.ca_file, cadata=creds.ca_data)
    if creds.client_cert_file:
        context.load_cert_chain(creds.client_cert_file, creds.client_key_file)
    elif creds.client_cert_data:
        with _pem_files(creds.client_cert_data, creds.client_key_data or "") as (cert, key):
            context.load_cert_chain(cert, key if creds.client_key_data else None)
    return context


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _proxies(creds: Credentials) -> dict[str, str]:
    """As client-go: the kubeconfig's proxy-url, else the environment's
    proxies, never for a loopback server or one NO_PROXY names."""
    if creds.proxy_url:
        return {"http": creds.proxy_url, "https": creds.proxy_url}
    host = urlsplit(creds.server).hostname or ""
    if _is_loopback(host) or urllib.request.proxy_bypass(host):
        return {}
    return urllib.request.getproxies()


def selector_string(selector: str | Mapping[str, str] | None) -> str:
    if selector is None or isinstance(selector, str):
        return selector or ""
    return ",".join(f"{key}={value}" for key, value in selector.items())


class KubernetesClient:
    """create / get / list / delete of namespaced objects, JSON in and out.
    Every failure is a :class:`KubernetesApiError`."""

    def __init__(self, credentials: Credentials, timeout: float = 10.0) -> None:
        self.credentials = credentials
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler(_proxies(credentials))]
        if credentials.server.startswith("https"):
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context(credentials)))
        self._opener = urllib.request.build_opener(*handlers)
        self._token: str | None = credentials.token
        self._token_read_at = 0.0

    @classmethod
    def from_environment(cls, timeout: float = 10.0) -> KubernetesClient:
        return cls(load_credentials(), timeout)

    @property
    def namespace(self) -> str:
        """The default namespace: the context's, or the pod's own."""
        return self.credentials.namespace

    def _authorization(self) -> str | None:
        creds = self.credentials
        if creds.token_file and (self._token is None or time.monotonic() - self._token_read_at > TOKEN_REREAD_SECONDS):
            try:
                self._token = Path(creds.token_file).read_text().strip()
            except OSError as exc:
                raise KubernetesError(f"cannot read the token file {creds.token_file}: {exc}") from exc
            self._token_read_at = time.monotonic()
        if self._token:
            return f"Bearer {self._token}"
        if creds.username is not None:
            basic = base64.b64encode(f"{creds.username}:{creds.password or ''}".encode()).decode()
            return f"Basic {basic}"
        return None

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One API call; the decoded JSON answer."""
        url = self.credentials.server + path + (f"?{urlencode(params)}" if params else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        authorization = self._authorization()
        if authorization:
            request.add_header("Authorization", authorization)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _api_error(exc.code, exc.read(), method, path) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise KubernetesApiError(
                0, "Unreachable", f"cannot reach {self.credentials.server}: {reason}", method, path
            ) from None
        return json.loads(raw) if raw else None

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def create(self, resource: Resource, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create ``body``; an existing object of that name raises with
        ``already_exists`` set."""
        namespace = self._ns(namespace or (body.get("metadata") or {}).get("namespace"))
        created: dict[str, Any] = self.request("POST", resource.path(namespace), body)
        return created

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        try:
            found: dict[str, Any] = self.request("GET", resource.path(self._ns(namespace), name))
        except KubernetesApiError as exc:
            if exc.not_found:
                return None
            raise
        return found

    def list(
        self, resource: Resource, namespace: str | None = None, label_selector: str | Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": selector_string(label_selector)} if label_selector else None
        answer = self.request("GET", resource.path(self._ns(namespace)), params=params) or {}
        items: list[dict[str, Any]] = list(answer.get("items") or [])
        return items

    def delete(
        self, resource: Resource, name: str, namespace: str | None = None, propagation: str | None = "Background"
    ) -> bool:
        """Delete (dependents too, with the default ``Background``
        propagation); False when it was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation} if propagation else None
        try:
            self.request("DELETE", resource.path(self._ns(namespace), name), body)
        except KubernetesApiError as exc:
            if exc.not_found:
                return False
            raise
        return True


def _api_error(status: int, raw: bytes, method: str, path: str) -> KubernetesApiError:
    reason, message = "", raw.decode("utf-8", errors="replace")[:500]
    with contextlib.suppress(ValueError):
        payload = json.loads(raw)
        if isinstance(payload, Mapping):
            reason = str(payload.get("reason") or "")
            message = str(payload.get("message") or message)
    return KubernetesApiError(status, reason or _REASONS.get(status, "Error"), message, method, path)


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


__all__ = [
    "JOBS",
    "PODS",
    "Credentials",
    "KubernetesApiError",
    "KubernetesClient",
    "KubernetesError",
    "Resource",
    "in_cluster_credentials",
    "kubeconfig_credentials",
    "load_credentials",
]
