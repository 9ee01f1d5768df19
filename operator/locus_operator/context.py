"""The operator's settings and the state its reconcilers share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from locus_operator.kube import KubeClient
from locus_operator.probe import CodeServerProber
from locus_operator.runs import InstanceRuns
from locus_operator.storages import InstanceKey, InstanceStorages
from locus_operator.workqueue import WorkQueue

SYSTEM_IMAGE_ENV = "LOCUS_SYSTEM_IMAGE"
DEFAULT_SYSTEM_IMAGE = "ghcr.io/locus/locus:0.1.0"

LocationKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class OperatorSettings:
    """``locus operator run``'s flags."""

    namespaces: tuple[str, ...] = ()  # empty: every namespace
    system_image: str = field(default_factory=lambda: os.environ.get(SYSTEM_IMAGE_ENV) or DEFAULT_SYSTEM_IMAGE)
    health_host: str = "0.0.0.0"
    health_port: int = 8080
    workers: int = 8
    resync_seconds: float = 60.0

    @property
    def cluster_wide(self) -> bool:
        return not self.namespaces


@dataclass
class OperatorContext:
    settings: OperatorSettings
    client: KubeClient
    prober: CodeServerProber = field(default_factory=CodeServerProber)
    storages: InstanceStorages = field(default_factory=InstanceStorages)
    # Which Instance each CodeLocation registers with, so that an Instance
    # becoming ready wakes its locations.
    location_instances: dict[LocationKey, InstanceKey] = field(default_factory=dict)
    # Label value of locus.dev/location -> CodeLocation name, per namespace
    # (labels are shortened with a hash when names are long).
    location_labels: dict[tuple[str, str], str] = field(default_factory=dict)
    # Per Instance: the run queue and monitor threads (started once its storage is ready).
    runs: dict[InstanceKey, InstanceRuns] = field(default_factory=dict)
    locations: WorkQueue | None = None
    instances: WorkQueue | None = None
