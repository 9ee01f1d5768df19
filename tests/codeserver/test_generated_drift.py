"""The committed gRPC stubs are what `scripts/generate` writes from the .proto."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "sdk" / "locus" / "codeserver" / "generated"
STUBS = ("code_server_pb2.py", "code_server_pb2.pyi", "code_server_pb2_grpc.py", "code_server_pb2_grpc.pyi")


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}  # the interpreter running the tests, wherever the checkout is
    subprocess.run([str(REPO / "scripts" / "generate"), str(tmp_path)], check=True, capture_output=True, env=env)
    for name in STUBS:
        committed = GENERATED / name
        assert committed.exists(), f"{committed} is missing: run scripts/generate"
        assert (tmp_path / name).read_text() == committed.read_text(), (
            f"{committed.relative_to(REPO)} differs from what code_server.proto generates: run scripts/generate"
        )
