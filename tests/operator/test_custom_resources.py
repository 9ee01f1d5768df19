"""Sample custom resources are accepted; broken ones are rejected by the CRD
schema (as the API server would) and by the models, naming the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crd_support import SAMPLES, api_server_errors, load_sample
from pydantic import BaseModel, ValidationError

from locus_operator.resources import CodeLocation, Instance, InstanceRef

MODELS: dict[str, type[BaseModel]] = {"CodeLocation": CodeLocation, "Instance": Instance}
SHARED_SAMPLES = Path("/work/shared/examples/k8s")


@pytest.mark.parametrize("name", ["codelocation.yaml", "instance.yaml"])
def test_sample_is_accepted_by_the_crd_and_parsed_by_the_model(name: str) -> None:
    cr = load_sample(name)
    assert api_server_errors(cr) == []
    MODELS[cr["kind"]].model_validate(cr)


def test_sample_code_location_reads_as_written() -> None:
    location = CodeLocation.model_validate(load_sample("codelocation.yaml"))
    assert location.spec.module == "numbers_k8s"
    assert location.spec.instance == InstanceRef(name="default")
    assert location.spec.replicas == 1
    assert location.spec.resources == {"requests": {"cpu": "250m", "memory": "256Mi"}}


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="no shared samples beside the repo")
@pytest.mark.parametrize("name", ["codelocation.yaml", "instance.yaml"])
def test_samples_match_the_shared_ones(name: str) -> None:
    assert (SAMPLES / name).read_text() == (SHARED_SAMPLES / name).read_text()


def _without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.pop(key)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.__setitem__(key, value)


# (what is wrong, the change to the sample's spec, text both the schema error and the model error must name)
INVALID_CODE_LOCATIONS = [
    ("no image", _without("image"), "image"),
    ("empty image", _set("image", ""), "image"),
    ("module and pythonFile", _set("pythonFile", "defs.py"), "spec.pythonFile"),
    ("module and package", _set("package", "numbers"), "spec.package"),
    ("no code target", _without("module"), "spec.module"),
    ("negative replicas", _set("replicas", -1), "replicas"),
    ("port out of range", _set("port", 70000), "port"),
    ("misspelt field", _set("imagePullPolcy", "Always"), "imagePullPolcy"),
    ("unknown pull policy", _set("imagePullPolicy", "Sometimes"), "imagePullPolicy"),
]


@pytest.mark.parametrize(
    ("problem", "change", "field"), INVALID_CODE_LOCATIONS, ids=[c[0] for c in INVALID_CODE_LOCATIONS]
)
def test_invalid_code_location_is_rejected(problem: str, change: Callable[[dict[str, Any]], None], field: str) -> None:
    cr = copy.deepcopy(load_sample("codelocation.yaml"))
    change(cr["spec"])
    errors = api_server_errors(cr)
    assert errors, f"the CRD schema accepts a CodeLocation with {problem}"
    assert any(field in error for error in errors), errors
    with pytest.raises(ValidationError) as raised:
        CodeLocation.model_validate(cr)
    assert field in str(raised.value)


def test_instance_ref_may_name_a_namespace_but_must_be_a_name_or_a_reference() -> None:
    cr = copy.deepcopy(load_sample("codelocation.yaml"))
    cr["spec"]["instanceRef"] = {"name": "shared", "namespace": "platform"}
    assert api_server_errors(cr) == []
    assert CodeLocation.model_validate(cr).spec.instance == InstanceRef(name="shared", namespace="platform")
    cr["spec"]["instanceRef"] = {"nmae": "shared"}
    with pytest.raises(ValidationError, match="instanceRef"):
        CodeLocation.model_validate(cr)


INVALID_INSTANCES = [
    ("no storage", lambda spec: spec.pop("storage"), "storage"),
    ("no database host", lambda spec: spec["storage"]["postgres"].pop("host"), "host"),
    ("negative tag limit", lambda spec: spec["runCoordinator"]["tagConcurrencyLimits"][0].update(limit=-1), "limit"),
    (
        "value and per-unique-value limit",
        lambda spec: spec["runCoordinator"]["tagConcurrencyLimits"][0].update(applyLimitPerUniqueValue=True),
        "applyLimitPerUniqueValue",
    ),
    ("secret ref without key", lambda spec: spec["storage"]["postgres"]["passwordSecretRef"].pop("key"), "key"),
]


@pytest.mark.parametrize(("problem", "change", "field"), INVALID_INSTANCES, ids=[c[0] for c in INVALID_INSTANCES])
def test_invalid_instance_is_rejected(problem: str, change: Callable[[dict[str, Any]], None], field: str) -> None:
    cr = copy.deepcopy(load_sample("instance.yaml"))
    change(cr["spec"])
    errors = api_server_errors(cr)
    assert errors, f"the CRD schema accepts an Instance with {problem}"
    assert any(field in error for error in errors), errors
    with pytest.raises(ValidationError) as raised:
        Instance.model_validate(cr)
    assert field in str(raised.value)
