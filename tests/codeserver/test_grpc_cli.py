"""`locus api grpc` refuses unusable flags with a message and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from codeserver_support import EXAMPLES

from support import run_locus


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "numbers_assets.py"], "listens on a port or a socket"),
        (["-f", "numbers_assets.py", "--port", "1", "--socket", "/tmp/x.sock"], "listens on a port or a socket"),
        (["--port", "1"], "serves exactly one code location"),
        (["-f", "a.py", "-m", "b", "--port", "1"], "serves exactly one code location"),
    ],
)
def test_bad_flags_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_locus("api", "grpc", *args, cwd=EXAMPLES, home=tmp_path, timeout=30)
    assert done.code == 2 and message in done.stderr and "fix:" in done.stderr


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_locus("api", "grpc", "-f", "numbers_assets.py", "--port", str(port), cwd=EXAMPLES, home=tmp_path)
    assert done.code == 2 and f"could not listen on 127.0.0.1:{port}" in done.stderr
