"""Errors raised while loading the instance configuration."""

from __future__ import annotations

from locus.definitions.errors import LocusError


class InstanceConfigError(LocusError):
    """locus.yaml cannot be used: bad YAML, an unknown key, a wrong type, or a
    missing environment variable. The message names the file and the field."""
