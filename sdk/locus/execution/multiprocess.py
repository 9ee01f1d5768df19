"""The multiprocess executor: each step in its own child process
(``python -m locus.execution.step_worker``), up to ``max_concurrent`` at
once. Children stream their events over a pipe; the parent stores them, so
only one process writes the run's log. Step stdout/stderr go straight to the
compute-log files, kept open with the compute-log manager until the step's
process exits (so a remote manager uploads them while the step runs)."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from locus.definitions.errors import ExecutionError
from locus.execution.compute_logs import ComputeLogManager, LocalComputeLogManager
from locus.execution.engine import Emitter, RunSpec, refuse_in_memory_outputs, skip_if_blocked
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.plan import ExecutionPlan, Step
from locus.execution.store import ExecutionInstance

TERMINAL = {EventType.STEP_SUCCESS: True, EventType.STEP_FAILURE: False}


@dataclass
class _Child:
    step: Step
    proc: subprocess.Popen[bytes]
    reader: IO[bytes]
    err_path: Path
    # Holds the step's compute logs open until its process has exited.
    logs: ExitStack = field(default_factory=ExitStack)
    buffer: bytes = b""
    result: bool | None = None
    eof: bool = False


def _launch(spec: RunSpec, step: Step, instance: ExecutionInstance, logs: ComputeLogManager) -> _Child:
    assert spec.pointer is not None
    stack = ExitStack()
    files = stack.enter_context(logs.open_step(spec.run.run_id, step.key))
    read_fd, write_fd = os.pipe()
    payload = {
        "pointer": spec.pointer.to_dict(),
        "run": spec.run.to_dict(),
        "step_key": step.key,
        "storage_dir": str(instance.storage_dir),
        "event_fd": write_fd,
    }
    try:
        with files.stdout.open("ab") as out, files.stderr.open("ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "locus.execution.step_worker"],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                pass_fds=(write_fd,),
                # Unbuffered, so each print reaches the log file (and its upload) at once.
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
    except BaseException:
        os.close(read_fd)
        stack.close()
        raise
    finally:
        os.close(write_fd)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload).encode())
    proc.stdin.close()
    return _Child(step, proc, os.fdopen(read_fd, "rb", buffering=0), files.stderr, stack)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_multiprocess(
    spec: RunSpec, plan: ExecutionPlan, instance: ExecutionInstance, emit: Emitter
) -> dict[str, bool | None]:
    if spec.pointer is None:
        raise ExecutionError(
            f"job '{spec.job.name}' uses the multiprocess executor, whose step processes must load the code "
            "again, but this run was started from objects in memory",
            "use job.execute_in_process(), or run it with `locus job execute -f FILE -j JOB`",
        )
    refuse_in_memory_outputs(
        spec,
        plan,
        "the step processes of the multiprocess executor",
        "use FilesystemIOManager, or run the job with executor_def=in_process_executor",
    )
    limit = int(spec.resolved.executor_config.get("max_concurrent") or 0) or (os.cpu_count() or 1)
    # Without a manager the files are still needed, for the tail of a crashed step's stderr.
    logs = instance.compute_log_manager or LocalComputeLogManager(Path(tempfile.mkdtemp(prefix="locus-logs-")))
    status: dict[str, bool | None] = {}
    pending = list(plan.steps)
    running: dict[int, _Child] = {}
    selector = selectors.DefaultSelector()
    try:
        while pending or running:
            progressed = True
            while progressed:
                progressed = False
                for step in list(pending):
                    if skip_if_blocked(step, status, spec.run.run_id, emit):
                        pending.remove(step)
                        progressed = True
                    elif all(status.get(u) is True for u in step.upstream) and len(running) < limit:
                        pending.remove(step)
                        child = _launch(spec, step, instance, logs)
                        running[child.reader.fileno()] = child
                        selector.register(child.reader, selectors.EVENT_READ, child)
                        progressed = True
            for key, _ in selector.select(timeout=1.0):
                child = key.data
                chunk = child.reader.read(65536)
                if not chunk:
                    child.eof = True
                    selector.unregister(child.reader)
                    child.reader.close()
                    continue
                child.buffer += chunk
                *lines, child.buffer = child.buffer.split(b"\n")
                for line in lines:
                    event = Event.from_json(line.decode())
                    emit(event)
                    if event.event_type in TERMINAL and event.step_key == child.step.key:
                        child.result = TERMINAL[event.event_type]
            for fd, child in list(running.items()):
                if not child.eof:
                    continue
                code = child.proc.wait()
                child.logs.close()
                del running[fd]
                if child.result is None:
                    tail = _tail(child.err_path)
                    message = f"{child.step.key}: step process exited with code {code} before reporting a result"
                    emit(
                        Event(
                            spec.run.run_id,
                            EventType.STEP_FAILURE,
                            message,
                            child.step.key,
                            "ERROR",
                            error=ErrorInfo("StepProcessExited", message, tail),
                        )
                    )
                    child.result = False
                status[child.step.key] = child.result
    finally:
        for child in running.values():
            child.proc.kill()
            child.proc.wait()
            child.logs.close()
        selector.close()
    return status
