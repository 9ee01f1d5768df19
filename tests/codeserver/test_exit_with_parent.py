"""A code server started by a supervisor stops when the supervisor is killed
outright (SIGKILL gives it no chance to stop its children)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SUPERVISOR = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-m", "locus.cli.main", "api", "grpc", "--python-file", sys.argv[1],
                          "--socket", sys.argv[2], "--exit-with-parent"] + sys.argv[3:])
print(child.pid, flush=True)
child.wait()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("flagged", [True, False])
def test_server_follows_its_supervisor_only_when_asked(tmp_path: Path, flagged: bool) -> None:
    location = tmp_path / "hello.py"
    location.write_text(
        "import locus as dg\n\n@dg.asset\ndef a():\n    return 1\n\ndefs = dg.Definitions(assets=[a])\n"
    )
    script = SUPERVISOR if flagged else SUPERVISOR.replace(', "--exit-with-parent"]', "]")
    supervisor = subprocess.Popen(
        [sys.executable, "-c", script, str(location), str(tmp_path / "s.sock")], stdout=subprocess.PIPE, text=True
    )
    assert supervisor.stdout is not None
    server_pid = int(supervisor.stdout.readline())
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "s.sock").exists():
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.05)
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait()
        deadline = time.monotonic() + 10
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(server_pid) is (not flagged)
    finally:
        if _alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
