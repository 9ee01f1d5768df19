"""What every Locus pod shares: a non-root, read-only container with
writable ``emptyDir`` folders for ``/tmp`` and ``$LOCUS_HOME``, and the
merge of a user's pod template overrides into a built pod template."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

LOCUS_HOME_ENV = "LOCUS_HOME"
LOCUS_HOME_PATH = "/locus-home"
TMP_PATH = "/tmp"
CONFIG_FILE_NAME = "locus.yaml"

# The UID of the `locus` user in the images (images/); any non-zero UID works
# because nothing is written outside the emptyDir volumes.
RUN_AS_USER = 10001

HOME_VOLUME = "locus-home"
TMP_VOLUME = "tmp"
CONFIG_VOLUME = "locus-config"


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def writable_volumes(config_map: str | None) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": TMP_VOLUME, "emptyDir": {}},
        {"name": HOME_VOLUME, "emptyDir": {}},
    ]
    if config_map is not None:
        volumes.append({"name": CONFIG_VOLUME, "configMap": {"name": config_map}})
    return volumes


def writable_mounts(config_map: str | None) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"name": TMP_VOLUME, "mountPath": TMP_PATH},
        {"name": HOME_VOLUME, "mountPath": LOCUS_HOME_PATH},
    ]
    if config_map is not None:
        # Locus reads $LOCUS_HOME/locus.yaml. A subPath mount does not follow
        # ConfigMap updates, so the pod templates carry a hash of the config
        # (see instance.py) and roll when it changes.
        mounts.append(
            {
                "name": CONFIG_VOLUME,
                "mountPath": f"{LOCUS_HOME_PATH}/{CONFIG_FILE_NAME}",
                "subPath": CONFIG_FILE_NAME,
                "readOnly": True,
            }
        )
    return mounts


# Lists that Kubernetes' strategic merge patch merges by a key instead of
# replacing; every other list in an override replaces the built one.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
}


def merge_overrides(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into ``base`` as ``kubectl patch --type strategic``
    would: mappings merge recursively, containers (and volumes, env, mounts,
    ports) merge by name, an unknown name is appended, other lists and
    scalars replace. Neither input is modified."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_overrides(current, value)
        elif key in _MERGE_KEYS and isinstance(current, list) and isinstance(value, list):
            merged[key] = _merge_list(current, value, _MERGE_KEYS[key])
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_list(base: list[Any], override: list[Any], key: str) -> list[Any]:
    merged = list(base)
    for item in override:
        index = next(
            (
                i
                for i, existing in enumerate(merged)
                if isinstance(item, Mapping) and isinstance(existing, Mapping) and existing.get(key) == item.get(key)
            ),
            None,
        )
        if index is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[index] = merge_overrides(merged[index], item)
    return merged


def apply_pod_template_overrides(
    template: dict[str, Any], overrides: Mapping[str, Any] | None, fixed_labels: Mapping[str, str]
) -> dict[str, Any]:
    """``template`` with the user's overrides merged in; ``fixed_labels``
    (the Deployment's selector) are put back so an override cannot orphan
    the pods."""
    if not overrides:
        return template
    merged = merge_overrides(template, overrides)
    merged.setdefault("metadata", {}).setdefault("labels", {}).update(fixed_labels)
    return merged
