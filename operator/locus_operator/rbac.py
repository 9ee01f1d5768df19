"""Every Kubernetes API call the operator may make, as RBAC rules.

The operator's API client refuses a call that is not listed here, so this
table is exactly what the operator uses; the Helm chart's Role/ClusterRole is
compared with it by a test (nothing more granted, nothing missing)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One RBAC PolicyRule: API group, resources and verbs."""

    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    # A cluster-scoped resource: granted by a ClusterRole whatever the mode.
    cluster_scoped: bool = False
    # Needed only when the operator watches every namespace.
    cluster_wide_only: bool = False


READ = ("get", "list", "watch")
MANAGE = (*READ, "create", "patch", "delete")

RULES: tuple[Rule, ...] = (
    # The custom resources: kopf watches them and patches its annotations,
    # the operator writes their status.
    Rule("locus.dev", ("codelocations", "instances"), (*READ, "patch")),
    Rule("locus.dev", ("codelocations/status", "instances/status"), ("get", "patch")),
    # Children of CodeLocations and Instances, run and step Jobs.
    Rule("apps", ("deployments",), MANAGE),
    Rule("", ("services", "configmaps"), MANAGE),
    Rule("batch", ("jobs",), MANAGE),
    # Pods are read for load errors and run health, deleted on termination.
    Rule("", ("pods",), (*READ, "delete")),
    Rule("", ("pods/log",), ("get",)),
    # The database password of an Instance, for registering locations.
    Rule("", ("secrets",), ("get",)),
    # Kubernetes events for important transitions.
    Rule("", ("events",), ("get", "create", "patch")),  # get: to bump the count of a repeated event
    Rule("events.k8s.io", ("events",), ("create", "patch")),
    # kopf: resource discovery and, cluster-wide, the namespaces it serves.
    Rule("apiextensions.k8s.io", ("customresourcedefinitions",), ("list", "watch"), cluster_scoped=True),
    Rule("", ("namespaces",), ("list", "watch"), cluster_scoped=True, cluster_wide_only=True),
)


def allows(group: str, resource: str, verb: str) -> bool:
    return any(group == r.group and resource in r.resources and verb in r.verbs for r in RULES)
