"""The chart grants the operator exactly the API calls it makes
(locus_operator.rbac.RULES): nothing more, nothing missing, in both modes."""

from __future__ import annotations

from typing import Any

from helm_support import NAMESPACE, Rendered, render

from locus_operator.rbac import RULES, Rule

Triple = tuple[str, str, str]
OPERATOR_ACCOUNT = {"kind": "ServiceAccount", "name": "locus-operator", "namespace": NAMESPACE}


def triples(rules: list[Rule] | tuple[Rule, ...]) -> set[Triple]:
    return {(r.group, resource, verb) for r in rules for resource in r.resources for verb in r.verbs}


def granted(role: dict[str, Any]) -> set[Triple]:
    out = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, f"unexpected rule keys: {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {role['metadata']['name']}: {rule}"
                    out.add((group, resource, verb))
    return out


def binding_grants(rendered: Rendered, binding: dict[str, Any]) -> dict[str, Any]:
    """The role a binding binds, after checking it binds it to the operator's account only."""
    assert binding["subjects"] == [OPERATOR_ACCOUNT]
    ref = binding["roleRef"]
    assert ref["apiGroup"] == "rbac.authorization.k8s.io"
    namespace = binding["metadata"].get("namespace")
    (role,) = [
        o for o in rendered.of_kind(ref["kind"])
        if o["metadata"]["name"] == ref["name"] and o["metadata"].get("namespace") == namespace
    ]
    return role


def test_cluster_wide_mode_grants_every_rule_in_one_cluster_role() -> None:
    rendered = render("default")
    assert rendered.of_kind("Role") == [] and rendered.of_kind("RoleBinding") == []
    role = binding_grants(rendered, rendered.one("ClusterRoleBinding"))
    assert role is rendered.one("ClusterRole")
    assert granted(role) == triples(RULES)


def test_namespaced_mode_grants_roles_per_namespace_and_only_discovery_cluster_wide() -> None:
    rendered = render("namespaced")
    namespaced = [r for r in RULES if not r.cluster_scoped and not r.cluster_wide_only]
    cluster = [r for r in RULES if r.cluster_scoped and not r.cluster_wide_only]
    bindings = rendered.of_kind("RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["locus", "team-a"]
    assert len(rendered.of_kind("Role")) == 2
    for binding in bindings:
        role = binding_grants(rendered, binding)
        assert role["kind"] == "Role"
        assert granted(role) == triples(namespaced)
    cluster_role = binding_grants(rendered, rendered.one("ClusterRoleBinding"))
    assert granted(cluster_role) == triples(cluster)
    # Together: everything but what only cluster-wide mode needs.
    everything = set().union(*(granted(r) for r in [*rendered.of_kind("Role"), cluster_role]))
    assert everything == triples([r for r in RULES if not r.cluster_wide_only])


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    rendered = render("instance-disabled")
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert rendered.of_kind(kind) == []

