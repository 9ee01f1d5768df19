"""Import a module of N layered assets, build Definitions, then build and serialise the whole location
snapshot: what a code server does once at start before it can answer the first snapshot request.

Dagster: ``RepositorySnap.from_def(repository)`` (job snapshots included) and ``serialize_value``;
Locus: ``build_snapshot(defs)`` and ``encode_snapshot``. Whole-process time, as the baseline's row.
"""

import _common

args = _common.parse_args()
dg = _common.import_system(args.system)
source = _common.layered_assets_source(args.system, args.size, args.width)
module = _common.load_generated(args.cache, f"layered_{args.system}_{args.size}_{args.width}", source)
assert len(module.ASSETS) == args.size

if args.system == "dagster":
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    snap = RepositorySnap.from_def(module.defs.get_repository_def())
    data = serialize_value(snap).encode()
    assert len(snap.asset_nodes) == args.size, len(snap.asset_nodes)
else:
    from locus.codeserver.snapshot import build_snapshot, decode_snapshot, encode_snapshot

    data = encode_snapshot(build_snapshot(module.defs, "bench", {}, None))
    assert len(decode_snapshot(data).assets) == args.size
_common.emit(assets=args.size, snapshot_bytes=len(data))
