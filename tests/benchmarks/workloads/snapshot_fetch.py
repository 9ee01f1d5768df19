"""Fetch and decode the full snapshot of a running code server's location of N layered assets.

The server is started and waited for (health SERVING) before the timed part; the reported time is this
client's first snapshot request: fetch and decode, as a webserver does when it loads the location. The
reported RSS is this client process's peak (VmHWM) while it holds the decoded snapshot; the server is a
separate process and not counted.

* Locus: ``CodeServerClient(target).snapshot()``, a ``LocationSnapshot``.
* Dagster: ``GrpcServerCodeLocation(GrpcServerCodeLocationOrigin(...), instance)``, what its webserver's
  workspace builds per gRPC location: ListRepositories, GetServerId, ExternalRepository (deferred job
  snapshots, the webserver's default) and one ExternalJob per job, each deserialised into Dagster's
  snapshot classes.
"""

import time
from typing import Any

import _codeserver
import _common

args = _common.parse_args()
source = _common.layered_assets_source(args.system, args.size, args.width)
module_path = _codeserver.write_module(args.cache, f"layered_{args.system}_{args.size}_{args.width}", source)
expected_last = list(_common.layered_assets_expected(args.size, args.width))[-1]
layer, index = (int(p) for p in expected_last.split("_")[1:])
expected_parents = sorted(_common.layer_inputs(layer, index, args.width))

# Everything the fetch needs is imported (and Dagster's instance made) before the timed part.
if args.system == "dagster":
    # GrpcServerCodeLocation imports these three lazily, in the timed part otherwise.
    import dagster._api.get_server_id  # type: ignore[import-not-found, unused-ignore]
    import dagster._api.list_repositories  # type: ignore[import-not-found, unused-ignore]
    import dagster._api.snapshot_repository  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    from dagster import DagsterInstance  # type: ignore[import-not-found, unused-ignore]
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin  # type: ignore[import-not-found, unused-ignore]
    from dagster._core.remote_representation.code_location import (  # type: ignore[import-not-found, unused-ignore]
        GrpcServerCodeLocation,
    )

    instance = DagsterInstance.ephemeral()
else:
    from locus.codeserver.client import CodeServerClient  # type: ignore[import-not-found, unused-ignore]


def fetch(server: _codeserver.Server) -> tuple[Any, Any]:
    """The decoded snapshot, and what must stay open while it is held (the client)."""
    if args.system == "dagster":
        origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=server.port, location_name="bench")
        location = GrpcServerCodeLocation(origin, instance)
        return location.get_repository("__repository__"), location
    client = CodeServerClient(server.target)
    return client.snapshot(), client


def check(snapshot: Any) -> int:
    """Assert the snapshot holds every asset and the last one's upstream; return the asset count."""
    if args.system == "dagster":
        nodes = snapshot.get_asset_node_snaps()
        last = next(n for n in nodes if n.asset_key.path == [expected_last])
        parents = sorted(e.parent_asset_key.path[-1] for e in last.parent_edges)
        count = len(nodes)
    else:
        count = len(snapshot.assets)
        assert snapshot.counts["assets"] == count, snapshot.counts
        last = snapshot.asset((expected_last,))
        parents = sorted(key[-1] for key in last.upstream)
    assert count == args.size, (count, args.size)
    assert parents == expected_parents, (parents, expected_parents)
    return count


with _codeserver.running_server(args.system, module_path, args.scratch) as server:
    before = _codeserver.own_status_kib()
    start = time.perf_counter()
    snapshot, holder = fetch(server)
    seconds = time.perf_counter() - start
    held = _codeserver.own_status_kib()  # while the decoded snapshot is held
    assets = check(snapshot)
    _common.emit(
        assets=assets,
        seconds=seconds,
        rss_kib=held["VmHWM"],
        client_rss_before_kib=before["VmRSS"],
        client_rss_holding_kib=held["VmRSS"],
        client_rss_growth_kib=held["VmRSS"] - before["VmRSS"],
    )
    if args.system == "dagster":
        holder.cleanup()
    else:
        holder.close()
