"""The generated CRDs are ones the API server accepts and kubectl shows well."""

from __future__ import annotations

from typing import Any

import celpy
import kubernetes_validate
import pytest
from crd_support import PRESERVE, RULES, crd_for, schema_of, walk

from locus_operator.crd.schema import FORBIDDEN_KEYWORDS

KINDS = ["CodeLocation", "Instance"]
JUNCTORS = {"anyOf", "allOf", "oneOf", "not"}


@pytest.mark.parametrize("kind", KINDS)
def test_crd_is_a_valid_apiextensions_v1_object(kind: str) -> None:
    kubernetes_validate.validate(crd_for(kind), kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_structural(kind: str) -> None:
    schema = schema_of(crd_for(kind))
    for path, node in walk(schema):
        where = path or "<root>"
        assert "type" in node or node.get(PRESERVE) or node.get("x-kubernetes-int-or-string"), f"{where}: untyped"
        assert not (set(node) & (FORBIDDEN_KEYWORDS | JUNCTORS | {"const", "title"})), f"{where}: {set(node)}"
        assert not isinstance(node.get("additionalProperties"), bool), f"{where}: additionalProperties bool"
        assert not ("properties" in node and "additionalProperties" in node), f"{where}: both property kinds"
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(node.get(key, True), bool), f"{where}: {key} must be a boolean in OpenAPI v3.0"
    assert schema["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_cel_rule_compiles(kind: str) -> None:
    env = celpy.Environment()
    rules = [rule for _, node in walk(schema_of(crd_for(kind))) for rule in node.get(RULES, [])]
    assert rules
    for rule in rules:
        env.compile(rule["rule"])
        assert rule["message"]


def test_code_location_crd_shape() -> None:
    crd = crd_for("CodeLocation")
    assert crd["metadata"]["name"] == "codelocations.locus.dev"
    spec = crd["spec"]
    assert (spec["group"], spec["scope"]) == ("locus.dev", "Namespaced")
    assert spec["names"]["shortNames"][0] == "cl"
    assert spec["names"]["categories"] == ["locus"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = [c["name"].upper() for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["READY", "IMAGE", "ASSETS", "JOBS", "AGE"]
    rule: dict[str, Any] = schema_of(crd)["properties"]["spec"][RULES][0]
    assert rule["rule"] == "[has(self.module), has(self.pythonFile), has(self.package)].filter(x, x).size() == 1"
    assert all(name in rule["message"] for name in ("spec.module", "spec.pythonFile", "spec.package"))


def test_instance_crd_shape() -> None:
    crd = crd_for("Instance")
    assert crd["metadata"]["name"] == "instances.locus.dev"
    assert "locinst" in crd["spec"]["names"]["shortNames"]
    assert crd["spec"]["names"]["categories"] == ["locus"]
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    status = schema_of(crd)["properties"]["status"]["properties"]
    assert {"conditions", "observedGeneration", "schemaVersion", "locations", "apiEndpoint"} <= set(status)
    assert schema_of(crd)["properties"]["spec"]["required"] == ["storage"]
