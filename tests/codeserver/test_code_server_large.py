"""A 10,000-asset location: its snapshot streams in several chunks, arrives
whole, and fetching plus decoding it stays far below Dagster's ~8 s."""

from __future__ import annotations

import time
from pathlib import Path

from codeserver_support import LOCATIONS, running_server, short_tmp_dir

from locus.codeserver.generated import code_server_pb2 as pb
from locus.codeserver.snapshot import encode_snapshot


def test_ten_thousand_assets_stream_in_chunks_and_round_trip(tmp_path: Path) -> None:
    with short_tmp_dir() as tmp, running_server(
        ["-f", str(LOCATIONS / "many_assets.py")], cwd=tmp, log=tmp_path / "server.log", socket_path=tmp / "s.sock"
    ) as server, server.client() as client:
        chunks = list(client._stub.GetSnapshot(pb.GetSnapshotRequest(), timeout=30))
        started = time.perf_counter()
        snapshot = client.snapshot()
        took = time.perf_counter() - started
        snapshot_id = client.snapshot_id()
    data = b"".join(c.data for c in chunks)
    assert len(chunks) >= 2 and all(len(c.data) <= 1024 * 1024 for c in chunks)
    assert chunks[0].total_size == len(data) and chunks[0].snapshot_id == snapshot_id
    assert snapshot.counts == {"assets": 10_000, "jobs": 1, "schedules": 0, "sensors": 0}
    assert encode_snapshot(snapshot) == data, "decoding and encoding again gives the server's bytes"
    last = snapshot.asset("a_99_99")
    assert last is not None and last.upstream == (("a_98_99",), ("a_98_2",)) and last.metadata == {"n": 9999}
    everything = snapshot.job("everything")
    assert everything is not None and len(everything.asset_keys) == 10_000
    print(f"10,000 assets: {len(data) / 1e6:.1f} MB in {len(chunks)} chunks, fetch+decode {took * 1000:.0f} ms")
    assert took < 2.0  # measured ~0.1 s; the bound only catches gross regressions on slow machines
