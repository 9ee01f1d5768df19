"""How a container spec becomes a local process: environment, argv, paths.

Everything here is pure (configMaps and Secrets come through a small lookup
protocol) so that the rules that decide whether a pod behaves as on a real
node are unit-tested on their own:

* ``$(VAR)`` expansion exactly as Kubernetes' ``third_party/forked/golang/expansion``
  does it (``$$`` escapes, unknown references stay literal);
* env precedence: ``envFrom`` first, then ``env``, each ``env`` value expanded
  against the variables defined before it;
* path mapping: the container sees ``/opt/locus/app``; the local process must
  see a real directory. Mapped prefixes come from the image table and from the
  pod's volume mounts; the longest mapped prefix wins and a prefix matches only
  at a path boundary;
* network namespaces: each pod has its own loopback IP, so a literal
  ``0.0.0.0`` (listen on all interfaces) becomes the pod IP.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from e2e.local._kubelet_util import parse_quantity

__all__ = [
    "ContainerConfigError",
    "Lookups",
    "PathMap",
    "build_argv",
    "expand",
    "field_ref",
    "resolve_container_env",
    "rewrite_any_address",
]


class ContainerConfigError(Exception):
    """The container cannot be configured yet (a missing Secret or key): ``CreateContainerConfigError``."""


class Lookups(Protocol):
    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None: ...


def expand(text: str, mapping: Callable[[str], str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion: ``$$`` -> ``$``; an unknown or unterminated reference stays as written."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1:]
            if rest[0] == "$":
                out.append("$")
                advance = 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close == -1:
                    out.append("$(")
                    advance = 1
                else:
                    name = rest[1:close]
                    value = mapping(name)
                    out.append(value if value is not None else f"$({name})")
                    advance = close + 1
            else:
                out.append("$" + rest[0])
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


class PathMap:
    """Container path prefixes -> local directories; the longest matching prefix wins.

    With ``host_exists`` (``os.path.isdir`` in the kubelet), a path *below* a mapped prefix whose
    parent folder exists on this machine below that prefix is taken as a path on this machine
    and left alone: pods that mount an emptyDir at ``/tmp`` must still be able to receive the
    host path ``/tmp/pytest-of-me/run-1/data.db`` from a test, while ``/tmp/x`` and
    ``/locus-home/locus.yaml`` are mapped."""

    def __init__(self, mapping: Mapping[str, str], host_exists: Callable[[str], bool] | None = None) -> None:
        self.mapping = {self._norm(k): v for k, v in mapping.items()}
        self._ordered = sorted(self.mapping, key=len, reverse=True)
        self._host_exists = host_exists

    @staticmethod
    def _norm(path: str) -> str:
        return path.rstrip("/") or "/"

    def _is_host_path(self, path: str, prefix: str) -> bool:
        if self._host_exists is None or path == prefix:
            return False
        parent = path.rstrip("/").rsplit("/", 1)[0]
        return parent != prefix and len(parent) > len(prefix) and self._host_exists(parent)

    def map_path(self, path: str) -> str | None:
        """The local path for an absolute container path, or None when no mapping covers it."""
        for prefix in self._ordered:
            if prefix == "/":
                return self.mapping[prefix].rstrip("/") + path
            if path == prefix or path.startswith(prefix + "/"):
                if self._is_host_path(path, prefix):
                    return None
                return self.mapping[prefix] + path[len(prefix):]
        return None

    def rewrite(self, value: str) -> str:
        """Rewrite a value that is a path, a ``--flag=/path`` or a ``:``-separated list of paths;
        anything else is returned unchanged."""
        if value.startswith("/"):
            if ":" in value:
                parts = value.split(":")
                if all(part.startswith("/") or part == "" for part in parts):
                    return ":".join(self.map_path(p) or p if p else p for p in parts)
            mapped = self.map_path(value)
            if mapped is not None:
                return mapped
            return value
        if "=" in value:
            head, tail = value.split("=", 1)
            if tail.startswith("/") and not head.startswith("/"):
                return f"{head}={self.rewrite(tail)}"
        return value


_ANY_ADDRESS = re.compile(r"(?<![\d.])0\.0\.0\.0(?![\d.])|\[::\]")


def rewrite_any_address(value: str, pod_ip: str) -> str:
    """Listening on all interfaces (``0.0.0.0``, or ``[::]`` as gRPC servers write it) means the
    pod's own address in the harness, so that two pods can both listen on port 4000."""
    return _ANY_ADDRESS.sub(pod_ip, value)


def _label_lookup(text: str, prefix: str) -> str | None:
    match = re.fullmatch(re.escape(prefix) + r"\[['\"](.+)['\"]\]", text)
    return match.group(1) if match else None


def _format_map(values: Mapping[str, str]) -> str:
    return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))


def field_ref(pod: Mapping[str, Any], path: str, pod_ip: str, host_ip: str, node_name: str) -> str:
    """A downward-API ``fieldRef.fieldPath`` value."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple: dict[str, str] = {
        "metadata.name": str(meta.get("name", "")),
        "metadata.namespace": str(meta.get("namespace", "")),
        "metadata.uid": str(meta.get("uid", "")),
        "spec.nodeName": str(spec.get("nodeName") or node_name),
        "spec.serviceAccountName": str(spec.get("serviceAccountName") or "default"),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return simple[path]
    if path == "metadata.labels":
        return _format_map(meta.get("labels") or {})
    if path == "metadata.annotations":
        return _format_map(meta.get("annotations") or {})
    for prefix in ("metadata.labels", "metadata.annotations"):
        key = _label_lookup(path, prefix)
        if key is not None:
            return str((meta.get(prefix.split(".")[1]) or {}).get(key, ""))
    raise ContainerConfigError(f"unsupported fieldRef fieldPath {path!r}")


def _resource_field(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    resource = str(ref.get("resource", ""))
    section, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(section) or {}).get(name)
    if raw is None and section == "requests":
        raw = (resources.get("limits") or {}).get(name)
    if raw is None:  # no limit: the node's allocatable, as the real kubelet reports it
        if name == "cpu":
            raw = str(os.cpu_count() or 1)
        elif name == "memory":
            raw = str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        else:
            raw = "0"
    value = parse_quantity(raw) / parse_quantity(ref.get("divisor") or "1")
    return str(-(-value // 1))  # ceiling, as the kubelet rounds up


def _decode_secret(secret: Mapping[str, Any], key: str) -> str | None:
    data = secret.get("data") or {}
    if key in data:
        return base64.b64decode(data[key]).decode("utf-8", errors="replace")
    string_data = secret.get("stringData") or {}
    if key in string_data:  # an emulator may store stringData as given
        return str(string_data[key])
    return None


def _configmap_value(configmap: Mapping[str, Any], key: str) -> str | None:
    if key in (configmap.get("data") or {}):
        return str(configmap["data"][key])
    if key in (configmap.get("binaryData") or {}):
        return base64.b64decode(configmap["binaryData"][key]).decode("utf-8", errors="replace")
    return None


def _all_secret(secret: Mapping[str, Any]) -> dict[str, str]:
    keys = list((secret.get("data") or {}).keys()) + list((secret.get("stringData") or {}).keys())
    return {k: v for k in keys if (v := _decode_secret(secret, k)) is not None}


def _all_configmap(configmap: Mapping[str, Any]) -> dict[str, str]:
    keys = list((configmap.get("data") or {}).keys()) + list((configmap.get("binaryData") or {}).keys())
    return {k: v for k in keys if (v := _configmap_value(configmap, k)) is not None}


@dataclass(frozen=True)
class PodNetwork:
    pod_ip: str
    host_ip: str = "127.0.0.1"
    node_name: str = "local"


async def resolve_container_env(
    pod: Mapping[str, Any], container: Mapping[str, Any], network: PodNetwork, lookups: Lookups,
) -> dict[str, str]:
    """The variables a container defines (``envFrom`` then ``env``), in order, unexpanded by the image env.

    Raises :class:`ContainerConfigError` for a missing non-optional ConfigMap/Secret or key,
    as the kubelet does (the container waits with ``CreateContainerConfigError``)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    result: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        if "configMapRef" in source:
            ref = source["configMapRef"]
            configmap = await lookups.configmap(namespace, ref["name"])
            if configmap is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'configmap "{ref["name"]}" not found')
            values = _all_configmap(configmap)
        elif "secretRef" in source:
            ref = source["secretRef"]
            secret = await lookups.secret(namespace, ref["name"])
            if secret is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'secret "{ref["name"]}" not found')
            values = _all_secret(secret)
        else:
            continue
        for key, value in values.items():
            result[prefix + key] = value

    for var in container.get("env") or []:
        name = str(var["name"])
        if "value" in var or "valueFrom" not in var:
            result[name] = expand(str(var.get("value") or ""), result.get)
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            result[name] = field_ref(pod, source["fieldRef"]["fieldPath"], network.pod_ip, network.host_ip,
                                     network.node_name)
        elif "resourceFieldRef" in source:
            result[name] = _resource_field(container, source["resourceFieldRef"])
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = await lookups.secret(namespace, ref["name"])
            secret_value = _decode_secret(secret, ref["key"]) if secret is not None else None
            if secret_value is None:
                if ref.get("optional"):
                    continue
                what = f'secret "{ref["name"]}" not found' if secret is None else \
                    f'couldn\'t find key {ref["key"]} in Secret {namespace}/{ref["name"]}'
                raise ContainerConfigError(what)
            result[name] = secret_value
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            configmap = await lookups.configmap(namespace, ref["name"])
            config_value = _configmap_value(configmap, ref["key"]) if configmap is not None else None
            if config_value is None:
                if ref.get("optional"):
                    continue
                what = f'configmap "{ref["name"]}" not found' if configmap is None else \
                    f'couldn\'t find key {ref["key"]} in ConfigMap {namespace}/{ref["name"]}'
                raise ContainerConfigError(what)
            result[name] = config_value
    return result


def build_argv(container: Mapping[str, Any], entrypoint: Sequence[str] | None, cmd: Sequence[str] | None,
               env: Mapping[str, str]) -> list[str]:
    """Kubernetes' command/args vs. ENTRYPOINT/CMD rules, with ``$(VAR)`` expanded from the container env."""
    command = container.get("command")
    args = container.get("args")
    if command:
        argv = [expand(str(x), env.get) for x in command] + [expand(str(x), env.get) for x in args or []]
    elif args is not None:
        argv = list(entrypoint or []) + [expand(str(x), env.get) for x in args]
    else:
        argv = list(entrypoint or []) + list(cmd or [])
    return argv
