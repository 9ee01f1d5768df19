"""Network namespaces for Python containers: wildcard binds become the pod's own IP.

Each pod has its own loopback address (127.0.X.Y), but without network
namespaces a server that listens on all interfaces still takes the port on
every address: two pods of one Deployment (old and new revision during a
rollout) that both listen on ``0.0.0.0:8080`` would collide. A literal
``0.0.0.0`` in command/args/env is rewritten by the kubelet; servers that bind
the wildcard by default (aiohttp, kopf's health endpoint, ``socketserver``)
are covered by this file, which the kubelet copies into
``<work-dir>/python-site/sitecustomize.py`` and puts first on the
containers' ``PYTHONPATH``. In a container's Python process it wraps
``socket.socket.bind``:

* IPv4 ``""``/``0.0.0.0`` -> the pod IP (env ``KUBELET_LOCAL_POD_IP``);
* IPv6 ``""``/``::`` -> an ephemeral port instead: pods have no IPv6 address,
  and a server that listens on both families (asyncio's ``create_server`` with
  no host) must neither fail nor collide with another pod's IPv6 socket; it is
  reached through its IPv4 socket. (A server that listens on IPv6 *only* is
  therefore unreachable: give it ``0.0.0.0``.)

Non-Python programs are not covered (only the argument rewriting applies).
Another ``sitecustomize`` later on ``sys.path`` still runs after this one.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

ENV = "KUBELET_LOCAL_POD_IP"
FILE_NAME = "sitecustomize.py"


def patch_bind(pod_ip: str) -> None:
    original = socket.socket.bind

    def bind(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address and address[0] in ("", "0.0.0.0", "::"):
            if self.family == socket.AF_INET:
                address = (pod_ip, *address[1:])
            elif self.family == socket.AF_INET6:
                address = (address[0], 0, *address[2:])
        original(self, address)

    socket.socket.bind = bind  # type: ignore[method-assign,assignment]


def _chain() -> None:
    """Run the next ``sitecustomize`` on the path, as if this one were not there."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if os.path.abspath(entry or ".") == here:
            continue
        candidate = os.path.join(entry or ".", FILE_NAME)
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_next_sitecustomize", candidate)
            if spec is not None and spec.loader is not None:
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


def install(directory: str) -> str:
    """Copy this module as ``sitecustomize.py`` into ``directory``; returns the directory."""
    os.makedirs(directory, exist_ok=True)
    with open(__file__, encoding="utf-8") as source:
        text = source.read()
    target = os.path.join(directory, FILE_NAME)
    partial = target + ".partial"
    with open(partial, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(partial, target)
    return directory


if __name__ == "sitecustomize":
    if os.environ.get(ENV):
        patch_bind(os.environ[ENV])
    _chain()
