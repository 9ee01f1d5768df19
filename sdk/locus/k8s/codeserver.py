"""The Deployment and Service of one code location: ``locus api grpc``
serving the location's code from its image, probed natively over gRPC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from locus.k8s.labels import Owner, code_server_name, object_meta, selector_labels, standard_labels
from locus.k8s.pods import (
    LOCUS_HOME_ENV,
    LOCUS_HOME_PATH,
    apply_pod_template_overrides,
    container_security_context,
    pod_security_context,
    writable_mounts,
    writable_volumes,
)

COMPONENT = "codeserver"
CONTAINER_NAME = "codeserver"
DEFAULT_PORT = 4000
PORT_NAME = "grpc"
# The code server's health-check name for "the user's code loaded"
# (locus.codeserver.server.LOADED_SERVICE; k8s sits below codeserver's imports).
LOADED_HEALTH_SERVICE = "locus.loaded"
# The code server reports this image to the daemon and API, and runs of the
# location are launched with it (like DAGSTER_CURRENT_IMAGE).
IMAGE_ENV = "LOCUS_CURRENT_IMAGE"

PullPolicy = Literal["Always", "IfNotPresent", "Never"]


@dataclass(frozen=True)
class CodeServerSpec:
    """A CodeLocation as the builders need it. ``env``, ``env_from``,
    ``resources`` and ``pod_template`` are in Kubernetes' own shape
    (``EnvVar``, ``EnvFromSource``, ``ResourceRequirements``,
    ``PodTemplateSpec``)."""

    location: str
    namespace: str
    image: str
    owner: Owner
    module: str | None = None
    python_file: str | None = None
    package: str | None = None
    attribute: str | None = None
    working_directory: str | None = None
    image_pull_policy: PullPolicy = "IfNotPresent"
    port: int = DEFAULT_PORT
    replicas: int = 1
    env: Sequence[Mapping[str, Any]] = ()
    env_from: Sequence[Mapping[str, Any]] = ()
    resources: Mapping[str, Any] | None = None
    service_account_name: str | None = None
    pod_template: Mapping[str, Any] | None = None
    instance_config_map: str | None = None
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        given = [x for x in (self.module, self.python_file, self.package) if x]
        if len(given) != 1:
            raise ValueError(f"code location {self.location!r}: set exactly one of module, python_file or package")

    @property
    def name(self) -> str:
        return code_server_name(self.location)

    @property
    def selector(self) -> dict[str, str]:
        return selector_labels(self.owner.name, COMPONENT, self.location)

    @property
    def labels(self) -> dict[str, str]:
        return standard_labels(self.owner.name, COMPONENT, self.location, self.extra_labels)


def code_server_command(spec: CodeServerSpec) -> list[str]:
    """The container's command line (flags of ``locus api grpc``)."""
    command = ["locus", "api", "grpc"]
    if spec.module:
        command += ["--module-name", spec.module]
    elif spec.python_file:
        command += ["--python-file", spec.python_file]
    elif spec.package:
        command += ["--package-name", spec.package]
    if spec.attribute:
        command += ["--attribute", spec.attribute]
    if spec.working_directory:
        command += ["--working-directory", spec.working_directory]
    command += ["--location-name", spec.location, "--host", "0.0.0.0", "--port", str(spec.port)]
    return command


def _container(spec: CodeServerSpec) -> dict[str, Any]:
    grpc_probe = {"grpc": {"port": spec.port}}
    # Ready only when the code loaded (the server's "locus.loaded" health name):
    # with maxUnavailable 0, a new revision that fails to import never replaces
    # the pods serving now. Liveness asks only whether the process is up.
    loaded_probe = {"grpc": {"port": spec.port, "service": LOADED_HEALTH_SERVICE}}
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": code_server_command(spec),
        "ports": [{"name": PORT_NAME, "containerPort": spec.port, "protocol": "TCP"}],
        "env": [
            {"name": IMAGE_ENV, "value": spec.image},
            {"name": LOCUS_HOME_ENV, "value": LOCUS_HOME_PATH},
            *(dict(var) for var in spec.env),
        ],
        # Importing user code can take long: the startup probe gives it five
        # minutes before liveness may restart the pod.
        "startupProbe": {**grpc_probe, "periodSeconds": 5, "failureThreshold": 60},
        "readinessProbe": {**loaded_probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**grpc_probe, "periodSeconds": 10, "failureThreshold": 6, "timeoutSeconds": 5},
        "securityContext": container_security_context(),
        "volumeMounts": writable_mounts(spec.instance_config_map),
    }
    if spec.env_from:
        container["envFrom"] = [dict(source) for source in spec.env_from]
    if spec.resources:
        container["resources"] = dict(spec.resources)
    return container


def _pod_template(spec: CodeServerSpec) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "containers": [_container(spec)],
        "volumes": writable_volumes(spec.instance_config_map),
        "securityContext": pod_security_context(),
        # Code servers need no Kubernetes credentials (DESIGN.md section 2).
        "automountServiceAccountToken": False,
    }
    if spec.service_account_name:
        pod_spec["serviceAccountName"] = spec.service_account_name
    template = {"metadata": {"labels": spec.labels}, "spec": pod_spec}
    return apply_pod_template_overrides(template, spec.pod_template, spec.selector)


def code_server_deployment(spec: CodeServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(spec.name, spec.namespace, spec.labels, spec.owner),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": spec.selector},
            # A new revision starts beside the old pods, which keep serving
            # until it is ready: a revision that never gets ready (bad image,
            # crash) leaves the location served by the previous one.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "revisionHistoryLimit": 3,
            "template": _pod_template(spec),
        },
    }


def code_server_service(spec: CodeServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(spec.name, spec.namespace, spec.labels, spec.owner),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.selector,
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": spec.port,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                    "appProtocol": "grpc",
                }
            ],
        },
    }


def code_server_endpoint(spec: CodeServerSpec) -> str:
    """``host:port`` of the location's Service, for the registry and status."""
    return f"{spec.name}.{spec.namespace}.svc:{spec.port}"
