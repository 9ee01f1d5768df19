"""Run config and tags from the command line: YAML files (-c, may repeat,
merged in order) and JSON strings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from locus.definitions.errors import LocusError
from locus.execution.run_config import deep_merge


def load_run_config(files: Sequence[str], json_text: str | None) -> dict[str, Any]:
    import yaml

    config: dict[str, Any] = {}
    for file in files:
        path = Path(file)
        if not path.is_file():
            raise LocusError(f"run config file {file} does not exist", "check the path given with -c/--config")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise LocusError(f"run config file {file} is not valid YAML: {exc}", "fix the YAML syntax") from None
        if not isinstance(loaded, dict):
            raise LocusError(
                f"run config file {file} must hold a mapping at the top level",
                "start it with `ops:` or `resources:`",
            )
        config = deep_merge(config, loaded)
    if json_text:
        try:
            loaded = json.loads(json_text)
        except json.JSONDecodeError as exc:
            raise LocusError(f"--config-json is not valid JSON: {exc}", "quote the JSON object in the shell") from None
        if not isinstance(loaded, dict):
            raise LocusError("--config-json must be a JSON object", "write --config-json '{\"ops\": {...}}'")
        config = deep_merge(config, loaded)
    return config


def parse_tags(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocusError(f"--tags is not valid JSON: {exc}", 'write --tags \'{"team": "data"}\'') from None
    if not isinstance(loaded, dict):
        raise LocusError("--tags must be a JSON object", 'write --tags \'{"team": "data"}\'')
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()}
