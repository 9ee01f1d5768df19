"""Pod volumes as local directories, and the mount-path mapping they imply.

There are no mount namespaces, so a volume is a directory under the pod's
work folder and a ``volumeMount`` becomes a path mapping (``mountPath`` ->
that directory, or -> one file of it with ``subPath``) that the kubelet
applies to the container's env, args and working directory. ConfigMap and
Secret volumes are written once when the pod starts (later edits of the
ConfigMap are not propagated, unlike a real kubelet's periodic sync).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from e2e.local._kubelet_env import ContainerConfigError, Lookups, field_ref

log = logging.getLogger("kubelet.volumes")

__all__ = ["VolumeError", "mount_paths", "prepare_volumes"]


class VolumeError(ContainerConfigError):
    """A volume's source is missing (the pod waits in ``ContainerCreating``, as with FailedMount)."""


def _write(directory: Path, relative: str, content: bytes, mode: int | None) -> None:
    target = directory / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    if mode is not None:
        target.chmod(mode)


def _key_files(data: Mapping[str, bytes], items: list[dict[str, Any]] | None, what: str) -> dict[str, bytes]:
    """Keys as files: all of them, or just ``items`` (key -> path)."""
    if not items:
        return dict(data)
    files = {}
    for item in items:
        if item["key"] not in data:
            raise VolumeError(f"{what}: no key {item['key']!r}")
        files[item["path"]] = data[item["key"]]
    return files


def _configmap_bytes(configmap: Mapping[str, Any]) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (configmap.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (configmap.get("binaryData") or {}).items()})
    return data


def _secret_bytes(secret: Mapping[str, Any]) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()})
    return data


async def _source_files(source: Mapping[str, Any], kind: str, namespace: str, lookups: Lookups,
                        pod: Mapping[str, Any], pod_ip: str) -> dict[str, bytes] | None:
    if kind == "configMap":
        name = source.get("name", "")
        configmap = await lookups.configmap(namespace, name)
        if configmap is None:
            if source.get("optional"):
                return {}
            raise VolumeError(f'configmap "{name}" not found')
        return _key_files(_configmap_bytes(configmap), source.get("items"), f"configmap {name}")
    if kind == "secret":
        name = source.get("secretName") or source.get("name", "")
        secret = await lookups.secret(namespace, name)
        if secret is None:
            if source.get("optional"):
                return {}
            raise VolumeError(f'secret "{name}" not found')
        return _key_files(_secret_bytes(secret), source.get("items"), f"secret {name}")
    if kind == "downwardAPI":
        files = {}
        for item in source.get("items") or []:
            if "fieldRef" in item:
                files[item["path"]] = field_ref(pod, item["fieldRef"]["fieldPath"], pod_ip, "127.0.0.1",
                                                "local").encode()
        return files
    if kind == "serviceAccountToken":
        return {source.get("path", "token"): b"local-harness-token"}
    return None


async def prepare_volumes(pod: Mapping[str, Any], pod_dir: Path, shared_dir: Path, lookups: Lookups,
                          pod_ip: str) -> dict[str, str]:
    """Create every volume of the pod; returns volume name -> local directory."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    result: dict[str, str] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume["name"]
        directory = pod_dir / "volumes" / name
        if "hostPath" in volume:
            path = Path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") in ("DirectoryOrCreate", None, ""):
                with contextlib.suppress(OSError):  # a read-only system path is used as it is
                    path.mkdir(parents=True, exist_ok=True)
            result[name] = str(path)
            continue
        if "persistentVolumeClaim" in volume:
            directory = shared_dir / "pvcs" / namespace / volume["persistentVolumeClaim"]["claimName"]
            directory.mkdir(parents=True, exist_ok=True)
            result[name] = str(directory)
            continue
        directory.mkdir(parents=True, exist_ok=True)
        result[name] = str(directory)
        sources: list[tuple[str, Mapping[str, Any], int | None]] = []
        for kind in ("configMap", "secret", "downwardAPI"):
            if kind in volume:
                sources.append((kind, volume[kind], volume[kind].get("defaultMode")))
        if "projected" in volume:
            mode = volume["projected"].get("defaultMode")
            for entry in volume["projected"].get("sources") or []:
                for kind, source in entry.items():
                    sources.append((kind, source, mode))
        if not sources and "emptyDir" not in volume:
            log.warning("pod %s: volume %s of an unsupported type is an empty directory: %s",
                        pod_dir.name, name, json.dumps(volume)[:200])
        for kind, source, mode in sources:
            files = await _source_files(source, kind, namespace, lookups, pod, pod_ip)
            for relative, content in (files or {}).items():
                _write(directory, relative, content, mode)
    return result


def mount_paths(container: Mapping[str, Any], volumes: Mapping[str, str]) -> dict[str, str]:
    """The container's mountPath -> local path mapping (``subPath`` selects one file or folder)."""
    mapping: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        local = volumes.get(mount["name"])
        if local is None:
            raise VolumeError(f"volumeMount {mount['name']!r}: no such volume in the pod")
        sub_path = mount.get("subPath") or ""
        if sub_path:
            target = Path(local) / sub_path
            if not target.exists():
                target.mkdir(parents=True, exist_ok=True)  # as the kubelet does for a missing subPath
            local = str(target)
        mapping[str(mount["mountPath"])] = local
    _nest(mapping)
    return mapping


def _nest(mapping: Mapping[str, str]) -> None:
    """A mount inside another mount's path (``/locus-home/locus.yaml`` over
    the ``/locus-home`` emptyDir) shows inside the outer one, as in a real
    container: a symlink in the outer mount's folder points at it. Programs
    that list or join paths under the outer mount then find it there."""
    for inner, local in mapping.items():
        outer = max((m for m in mapping if m != inner and inner.startswith(m.rstrip("/") + "/")), key=len,
                    default=None)
        if outer is None:
            continue
        link = Path(mapping[outer]) / inner[len(outer.rstrip("/")) + 1:]
        if link.is_symlink() or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(local)
