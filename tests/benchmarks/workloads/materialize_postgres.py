"""Materialise N layered assets on a PostgreSQL instance (the harness supplies a fresh scratch database)."""

import _common

args = _common.parse_args()
assert args.postgres_url, "--postgres-url is required"
_common.materialize_layered_on_instance(args)
