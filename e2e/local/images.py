"""The local image table: which local Python environment plays which image.

The harness runs no container runtime, so an image reference has to be
translated into something runnable on this machine: a ``bin`` folder put in
front of ``PATH`` (a virtualenv's, so that ``locus`` is its console script), a
set of path mappings (what the image has at ``/opt/locus/app`` lives here in
the repository) and extra environment variables. The table is a YAML file so
that the kubelet subprocess and the test that starts it share it::

    registry.example.com/locus/example:1.0:
      bin: /abs/path/.venv/bin
      paths: {/opt/locus/app: /abs/path/examples/numbers}
      env: {LOCUS_HOME: /tmp/x}
      workdir: /opt/locus/app          # optional: the image's WORKDIR
      entrypoint: [locus]              # optional: the image's ENTRYPOINT
      cmd: [api, grpc]                 # optional: the image's CMD
    registry.example.com/data/*:       # a glob (fnmatch) matches many references
      bin: /usr/bin

An exact reference wins over globs; among globs the longest pattern wins (the
most specific). A reference found nowhere is treated like an image that
cannot be pulled (``ErrImagePull`` / ``ImagePullBackOff``).
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ImageEnv", "ImageTable", "load_images", "write_images"]


@dataclass(frozen=True)
class ImageEnv:
    """The local stand-in for one image (see the module docstring)."""

    bin: str
    paths: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None

    @classmethod
    def current_python(cls, **kwargs: Any) -> ImageEnv:
        """An image whose ``python``/console scripts are those of the running interpreter's environment."""
        return cls(bin=str(Path(sys.executable).parent), **kwargs)

    def to_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"bin": str(self.bin), "paths": {k: str(v) for k, v in self.paths.items()},
                                "env": {k: str(v) for k, v in self.env.items()}}
        if self.workdir is not None:
            data["workdir"] = self.workdir
        if self.entrypoint is not None:
            data["entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            data["cmd"] = list(self.cmd)
        return data

    @classmethod
    def from_yaml(cls, reference: str, data: Mapping[str, Any]) -> ImageEnv:
        if not isinstance(data, Mapping) or not isinstance(data.get("bin"), str):
            raise ValueError(f"image {reference!r}: an entry needs at least `bin: /path/to/bin`")
        paths = {str(k): str(v) for k, v in (data.get("paths") or {}).items()}
        for container_path, local in paths.items():
            if not container_path.startswith("/") or not os.path.isabs(local):
                raise ValueError(f"image {reference!r}: path mapping {container_path!r} -> {local!r} "
                                 "must map an absolute path to an absolute path")
        entrypoint, cmd = data.get("entrypoint"), data.get("cmd")
        return cls(
            bin=data["bin"],
            paths=paths,
            env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
            workdir=data.get("workdir"),
            entrypoint=tuple(str(x) for x in entrypoint) if entrypoint is not None else None,
            cmd=tuple(str(x) for x in cmd) if cmd is not None else None,
        )


class ImageTable:
    """Image reference -> :class:`ImageEnv`, with exact matches before globs.

    ``reload_if_changed`` lets the kubelet pick up images a test adds while
    the cluster runs: a pod stuck in ``ImagePullBackOff`` starts once its
    image appears in the file, as it would once the image is pushed."""

    def __init__(self, images: Mapping[str, ImageEnv] | None = None, path: Path | None = None) -> None:
        self._images: dict[str, ImageEnv] = dict(images or {})
        self._path = path
        self._mtime: float | None = None

    @classmethod
    def from_file(cls, path: Path) -> ImageTable:
        table = cls(path=path)
        table.reload_if_changed()
        return table

    def reload_if_changed(self) -> None:
        if self._path is None:
            return
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != self._mtime:
            self._images = load_images(self._path)
            self._mtime = mtime

    def lookup(self, reference: str) -> ImageEnv | None:
        if reference in self._images:
            return self._images[reference]
        globs = [p for p in self._images if any(ch in p for ch in "*?[") and fnmatch.fnmatchcase(reference, p)]
        if not globs:
            return None
        return self._images[max(globs, key=len)]

    def __len__(self) -> int:
        return len(self._images)


def load_images(path: Path) -> dict[str, ImageEnv]:
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: the image table must be a mapping of image reference -> environment")
    return {str(ref): ImageEnv.from_yaml(str(ref), entry) for ref, entry in data.items()}


def write_images(path: Path, images: Mapping[str, ImageEnv]) -> None:
    """Writes atomically, so a kubelet reloading the table never reads half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(yaml.safe_dump({ref: env.to_yaml() for ref, env in images.items()}, sort_keys=True))
    partial.replace(path)
