"""values.yaml is documented key by key and agrees with the models the schema
is generated from; helm rejects bad values naming the key."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from helm_support import CHART, VALUES, VARIANTS, template
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from locus_operator.chart.values import ChartModel, Values

KEY_LINE = re.compile(r"^(\s*)([A-Za-z][A-Za-z0-9]*):")


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return data


def default_values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return data


def test_values_yaml_validates_against_the_schema() -> None:
    errors = list(Draft202012Validator(schema()).iter_errors(default_values()))
    assert errors == []


def test_values_yaml_holds_every_value_with_the_models_default() -> None:
    defaults = Values().model_dump(by_alias=True, exclude_none=True)
    assert default_values() == defaults


def test_every_key_in_values_yaml_has_a_comment_above() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        match = KEY_LINE.match(line)
        if match and not lines[number - 1].strip().startswith("#"):
            undocumented.append(f"values.yaml:{number + 1}: {match.group(2)}")
    assert undocumented == []


def chart_models(model: type[BaseModel] = Values) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        if isinstance(field.annotation, type) and issubclass(field.annotation, ChartModel):
            found += chart_models(field.annotation)
    return found


def test_every_value_has_a_description() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in chart_models()
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert missing == []


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "default"])
def test_variant_values_are_valid(variant: str) -> None:
    overrides = yaml.safe_load((VALUES / f"{variant}.yaml").read_text())
    merged = _merge(default_values(), overrides)
    assert list(Draft202012Validator(schema()).iter_errors(merged)) == []
    Values.model_validate(merged)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


# Each: helm arguments, and what helm's error must name.
INVALID = {
    "negative replicas": (["--set", "operator.replicas=-1"], "/operator/replicas"),
    "two operators": (["--set", "operator.replicas=2"], "/operator/replicas"),
    "not a boolean": (["--set", "postgresql.enabled=maybe"], "/postgresql/enabled"),
    "unknown top-level key": (["--set", "operatr.replicas=1"], "'operatr'"),
    "unknown nested key": (["--set", "operator.watchNamespace={a}"], "'watchNamespace'"),
    "bad namespace name": (["--set", "operator.watchNamespaces={Team_A}"], "/operator/watchNamespaces/0"),
    "a namespace twice": (["--set", "operator.watchNamespaces={a,a}"], "/operator/watchNamespaces"),
    "bad pull policy": (["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy"),
    "bad digest": (["--set", "image.digest=latest"], "/image/digest"),
    "bad instance spec": (["--set", "instance.runCoordinator.maxConcurrentRuns=-2"], "maxConcurrentRuns"),
    "unknown instance field": (["--set", "instance.runRetries.maxRetrys=1"], "'maxRetrys'"),
    "both storages": (["--set", "externalPostgresql.host=pg.example.internal"], "/externalPostgresql/host"),
    "no storage": (["--set", "postgresql.enabled=false"], "/externalPostgresql/host"),
    "external without password": (
        ["--set", "postgresql.enabled=false", "--set", "externalPostgresql.host=pg"],
        "/externalPostgresql/passwordSecret/name",
    ),
}


@pytest.mark.parametrize("args, key", INVALID.values(), ids=INVALID.keys())
def test_helm_rejects_invalid_values_naming_the_key(args: list[str], key: str) -> None:
    result = template(*args)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert key in result.stderr, result.stderr


def test_the_models_reject_the_same_storage_mistakes() -> None:
    with pytest.raises(ValidationError, match=r"postgresql\.enabled=false"):
        Values.model_validate({"externalPostgresql": {"host": "pg"}})
    with pytest.raises(ValidationError, match="the default Instance needs PostgreSQL"):
        Values.model_validate({"postgresql": {"enabled": False}})
    Values.model_validate({"postgresql": {"enabled": False}, "instance": {"enabled": False}})


# Rules the schema cannot state: the templates fail with a message naming the keys.
TEMPLATE_FAILURES = {
    "release namespace not watched": (
        ["--set", "operator.watchNamespaces={team-a,team-b}"],
        "operator.watchNamespaces [team-a team-b] leaves out the release namespace locus",
    ),
    "schema skipped, both storages": (
        ["--skip-schema-validation", "--set", "externalPostgresql.host=pg"],
        "externalPostgresql.host is set while postgresql.enabled is true",
    ),
    "schema skipped, no storage": (
        ["--skip-schema-validation", "--set", "postgresql.enabled=false"],
        "the default Instance needs PostgreSQL",
    ),
    "existing service account without a name": (
        ["--set", "serviceAccount.create=false"],
        "serviceAccount.name",
    ),
}


@pytest.mark.parametrize("args, message", TEMPLATE_FAILURES.values(), ids=TEMPLATE_FAILURES.keys())
def test_templates_fail_on_what_the_schema_cannot_check(args: list[str], message: str) -> None:
    result = template(*args)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_namespaced_mode_without_the_default_instance_needs_no_release_namespace() -> None:
    result = template("--set", "operator.watchNamespaces={team-a}", "--set", "instance.enabled=false",
                      "--set", "postgresql.enabled=false")
    assert result.returncode == 0, result.stderr
