"""Write the chart's generated files: `python -m locus_operator.chart.generate CHART_DIR`
(run by scripts/generate on charts/locus; tests/operator/test_crd_drift.py checks them).

* `values.schema.json` from `Values`;
* `crds/*.yaml`, the same CRDs as the repository's `crds/`;
* `files/rbac-rules.yaml`, the operator's API calls (`locus_operator.rbac.RULES`)
  sorted by where the templates grant them;
* the values table of `README.md`, between its two marker lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from locus_operator.chart.values import ChartModel, Quantity, Values
from locus_operator.crdgen import generator_main, render_crds, write_files
from locus_operator.rbac import RULES, Rule

GENERATED_BY = "by scripts/generate; do not edit."
TABLE_START = "<!-- values table: generated from operator/locus_operator/chart/values.py " + GENERATED_BY + " -->"
TABLE_END = "<!-- end of values table -->"


class _NoFieldTitles(GenerateJsonSchema):
    """Field titles would only repeat the key ("Existingsecret"); descriptions say more."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def values_schema() -> dict[str, Any]:
    schema = Values.model_json_schema(by_alias=True, schema_generator=_NoFieldTitles)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated from operator/locus_operator/chart/values.py " + GENERATED_BY,
        **schema,
    }


def render_values_schema() -> str:
    return json.dumps(values_schema(), indent=2) + "\n"


def _policy_rule(rule: Rule) -> dict[str, list[str]]:
    return {"apiGroups": [rule.group], "resources": list(rule.resources), "verbs": list(rule.verbs)}


def rbac_rules() -> dict[str, list[dict[str, list[str]]]]:
    """`namespaced`: a Role per watched namespace (or the ClusterRole when
    cluster-wide); `clusterScoped`: the ClusterRole in either mode;
    `clusterWideOnly`: the ClusterRole in cluster-wide mode only."""
    return {
        "namespaced": [_policy_rule(r) for r in RULES if not r.cluster_scoped and not r.cluster_wide_only],
        "clusterScoped": [_policy_rule(r) for r in RULES if r.cluster_scoped and not r.cluster_wide_only],
        "clusterWideOnly": [_policy_rule(r) for r in RULES if r.cluster_wide_only],
    }


def render_rbac_rules() -> str:
    header = f"# Generated from operator/locus_operator/rbac.py {GENERATED_BY}\n"
    return header + yaml.safe_dump(rbac_rules(), sort_keys=False, width=120, default_flow_style=None)


_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `list[string]`, `map[string]`, `Always or Never`."""
    if annotation == Quantity:
        return "quantity"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " or ".join(str(a) for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if origin is dict:
        return "object" if args[1] is Any else f"map[{_type_name(args[1])}]"
    if origin in (Union, UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    return "object" if annotation is Any or isinstance(annotation, type) else str(annotation)


def _json(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_none=True)
    return "`" + json.dumps(value) + "`"


def values_rows(values: BaseModel | None = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every value, depth first; the
    chart's own nested models are expanded, the CRD's models are one row."""
    values = Values() if values is None else values
    rows = []
    for name, field in type(values).model_fields.items():
        key = prefix + (field.alias or name)
        default = getattr(values, name)
        if isinstance(default, ChartModel):
            rows.append((key, "object", "", field.description or ""))
            rows += values_rows(default, key + ".")
        else:
            rows.append((key, _type_name(field.annotation), _json(default), field.description or ""))
    return rows


def render_values_table() -> str:
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for key, type_name, default, description in values_rows():
        # Markdown would take <fullname> for an HTML tag and hide it.
        text = description.replace("<", "&lt;").replace(">", "&gt;")
        cells = (f"`{key}`", type_name, default, text)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def render_readme(current: str) -> str:
    """`current` with the text between the marker lines replaced by the table."""
    before, start, rest = current.partition(TABLE_START)
    _, end, after = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"the chart README needs the lines {TABLE_START!r} and {TABLE_END!r}")
    return f"{before}{TABLE_START}\n{render_values_table()}\n{TABLE_END}{after}"


def render_chart_files(chart_dir: Path) -> dict[str, str]:
    """Path relative to the chart -> text, for every generated file."""
    files = {f"crds/{name}": text for name, text in render_crds().items()}
    files["values.schema.json"] = render_values_schema()
    files["files/rbac-rules.yaml"] = render_rbac_rules()
    files["README.md"] = render_readme((chart_dir / "README.md").read_text(encoding="utf-8"))
    return files


def write_chart_files(chart_dir: Path) -> list[Path]:
    return write_files(chart_dir, render_chart_files(chart_dir))


def main(argv: list[str] | None = None) -> int:
    return generator_main(argv, "python -m locus_operator.chart.generate CHART_DIR", write_chart_files)


if __name__ == "__main__":
    raise SystemExit(main())
