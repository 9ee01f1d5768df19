"""The ``scale`` and ``log`` subresources.

``pods/log`` has no container runtime behind it here: the harness's kubelet
writes each container's output to a file and names it in a pod annotation,
``local.locus.dev/log-path`` (all containers) or
``local.locus.dev/log-path.<container>`` (one container), and keeps the run
before as ``<container>.previous.log`` beside it; in-process users can
instead register a callback in ``LocalKubernetes.log_sources``. A pod with
neither has an empty log, as a pod that printed nothing. ``follow=true`` tails
the file until the pod is gone or has finished, or the client hangs up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp.web

from e2e.local._apiserver_patch import apply_patch

Obj = dict[str, Any]
LOG_PATH_ANNOTATION = "local.locus.dev/log-path"
LogSource = Callable[[str | None], str]  # container name (or None for the default) -> the log text
FOLLOW_INTERVAL = 0.2


def scale_of(deployment: Obj) -> Obj:
    meta = deployment["metadata"]
    selector = (deployment.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": (deployment.get("spec") or {}).get("replicas", 1)},
        "status": {"replicas": (deployment.get("status") or {}).get("replicas", 0),
                   "selector": ",".join(f"{k}={v}" for k, v in selector.items())},
    }


def replicas_after(deployment: Obj, content_type: str | None, body: Any) -> Obj:
    """The main-resource merge patch that a write to ``/scale`` amounts to."""
    scale = scale_of(deployment)
    new_scale = apply_patch(content_type, scale, body, strategic=True) if content_type else body
    replicas = ((new_scale or {}).get("spec") or {}).get("replicas", scale["spec"]["replicas"])
    return {"spec": {"replicas": replicas}}


def log_path(pod: Obj, params: dict[str, str]) -> Path | None:
    """The container's log file; with ``previous=true``, the last run's (``<name>.previous.log`` beside it)."""
    annotations = pod["metadata"].get("annotations") or {}
    container = params.get("container")
    path = annotations.get(f"{LOG_PATH_ANNOTATION}.{container}") if container else None
    path = path or annotations.get(LOG_PATH_ANNOTATION)
    if not path:
        return None
    current = Path(path)
    return current.with_name(f"{current.stem}.previous{current.suffix}") if params.get("previous") == "true" \
        else current


def _read(path: Path | None, offset: int = 0) -> bytes:
    if path is None or not path.is_file():
        return b""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read()


def _tail(data: bytes, params: dict[str, str]) -> bytes:
    if params.get("tailLines"):
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-int(params["tailLines"]):]) if int(params["tailLines"]) > 0 else b""
    if params.get("limitBytes"):
        data = data[: int(params["limitBytes"])]
    return data


def initial_log(pod: Obj, params: dict[str, str], sources: dict[tuple[str, str], LogSource]) -> bytes:
    source = sources.get((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))
    data = source(params.get("container")).encode() if source else _read(log_path(pod, params))
    return _tail(data, params)


async def follow_log(raw: aiohttp.web.BaseRequest, pod: Obj, first: bytes, still_running: Callable[[], bool],
                     params: dict[str, str]) -> aiohttp.web.StreamResponse:
    """Stream the log file as it grows (``follow=true``)."""
    path = log_path(pod, params)
    response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(raw)
    await response.write(first)
    offset = len(_read(path))
    while True:
        running = still_running()
        chunk = _read(path, offset)
        if chunk:
            offset += len(chunk)
            await response.write(chunk)
        elif not running:
            break
        await asyncio.sleep(FOLLOW_INTERVAL)  # a file has no change notification we can await portably
    await response.write_eof()
    return response
