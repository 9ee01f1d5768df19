"""Start a code server on a module of N layered assets: time from spawn to gRPC health SERVING.

The reported time is measured here, from spawning ``dagster api grpc`` / ``locus api grpc`` to the first
SERVING answer; the reported RSS is the server process's peak (VmHWM) at that moment, not this script's.
Both servers answer SERVING even when the user code failed to load (and serve the error), so after the
timed part the script asks the server whether its code loaded.
"""

from typing import Any

import _codeserver
import _common


def assert_loaded(system: str, server: _codeserver.Server, size: int) -> None:
    """Fail unless the server loaded the module (untimed: after the measured figures are taken)."""
    if system == "dagster":
        from dagster._api.list_repositories import (  # type: ignore[import-not-found, unused-ignore]
            sync_list_repositories_grpc,
        )
        from dagster._grpc.client import DagsterGrpcClient  # type: ignore[import-not-found, unused-ignore]

        # Raises DagsterUserCodeProcessError when the server holds a load error instead of repositories.
        response: Any = sync_list_repositories_grpc(DagsterGrpcClient(port=server.port, host="127.0.0.1"))
        names = [symbol.repository_name for symbol in response.repository_symbols]
        assert names == ["__repository__"], names
        return
    from locus.codeserver.client import CodeServerClient  # type: ignore[import-not-found, unused-ignore]

    with CodeServerClient(server.target) as client:
        info = client.server_info()
        assert info.load_error is None, info.load_error
        counts = client.snapshot().counts
        assert counts["assets"] == size, counts


args = _common.parse_args()
source = _common.layered_assets_source(args.system, args.size, args.width)
module_path = _codeserver.write_module(args.cache, f"layered_{args.system}_{args.size}_{args.width}", source)
with _codeserver.running_server(args.system, module_path, args.scratch) as server:
    status = server.status_at_serving
    assert status and status["VmRSS"] > 0, status
    assert_loaded(args.system, server, args.size)
    _common.emit(
        assets=args.size,
        seconds=server.seconds_to_serving,
        rss_kib=status["VmHWM"],
        server_rss_at_serving_kib=status["VmRSS"],
    )
