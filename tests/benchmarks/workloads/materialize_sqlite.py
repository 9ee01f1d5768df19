"""Materialise N layered assets on a persistent SQLite instance in a fresh home directory."""

import _common

_common.materialize_layered_on_instance(_common.parse_args())
