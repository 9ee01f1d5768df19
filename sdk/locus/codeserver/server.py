"""The gRPC code server: one process per code location (``locus api grpc``).

It loads the location's code once, at start, and keeps serving whatever
happens: a location that fails to load answers every call that needs its
definitions with the load error and traceback, and reports SERVING on the
standard health service (the process is up; the error is the location's).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from locus.codeserver.evaluation import Evaluator, evaluate_schedule, evaluate_sensor
from locus.codeserver.generated import code_server_pb2 as pb
from locus.codeserver.generated import code_server_pb2_grpc as pb_grpc
from locus.codeserver.location import LoadedLocation, served_pointer
from locus.codeserver.results import PROTOCOL_VERSION, TickResult, dumps, error_bytes, json_or
from locus.codeserver.run_processes import RunProcesses
from locus.definitions.errors import LocusError
from locus.execution.code_pointer import CodePointer

SERVICE_NAME = "locus.codeserver.v1.CodeServer"
# A health-check name that is SERVING only when the user's code loaded. The
# plain check says the process is up (liveness); this one is for readiness, so
# a rollout whose new code fails to import never replaces the pods serving now.
LOADED_SERVICE = "locus.loaded"
CHUNK_SIZE = 1024 * 1024
IMAGE_ENV = "LOCUS_CURRENT_IMAGE"
# Threads for calls other than evaluations, so that pings, snapshots and
# run starts answer even while every evaluation worker is busy.
SPARE_HANDLER_THREADS = 16
STOP_GRACE_SECONDS = 3.0
CHILD_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class CodeServerSpec:
    pointer: CodePointer
    location_name: str | None = None  # default: the pointer's default name
    host: str = "127.0.0.1"
    port: int | None = None
    socket: str | None = None  # a unix socket path instead of host:port
    sensor_timeout: float = 60.0
    schedule_timeout: float = 60.0
    # Schedule/sensor evaluations at once, timed-out ones still running included.
    max_workers: int = 16
    # Stop when the process that started this server goes away (set by the
    # workspace manager), so a supervisor killed outright leaves no orphans.
    exit_with_parent: bool = False

    def __post_init__(self) -> None:
        if (self.port is None) == (self.socket is None):
            raise LocusError("a code server listens on a port or a socket", "pass --port PORT or --socket PATH")

    @property
    def name(self) -> str:
        return self.location_name or self.pointer.default_location_name

    @property
    def target(self) -> str:
        """What clients pass to ``CodeServerClient``."""
        if self.socket is not None:
            return f"unix:{os.path.abspath(self.socket)}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class _Servicer(pb_grpc.CodeServerServicer):
    def __init__(self, spec: CodeServerSpec, location: LoadedLocation, stop: threading.Event) -> None:
        self.spec = spec
        self.location = location
        self.stop = stop
        self.server_id = str(uuid.uuid4())
        self.evaluator = Evaluator(spec.max_workers)
        self.runs = RunProcesses(location.pointer.working_directory)
        self.chunks = location.chunks(CHUNK_SIZE)

    def Ping(self, request: Any, context: Any) -> Any:
        return pb.PingReply(echo=request.echo)

    def GetServerInfo(self, request: Any, context: Any) -> Any:
        loc = self.location
        return pb.GetServerInfoReply(
            server_id=self.server_id,
            location_name=loc.name,
            image=loc.image,
            pid=os.getpid(),
            code_pointer_json=dumps(loc.pointer.to_dict()),
            load_error=error_bytes(loc.load_error),
            protocol_version=PROTOCOL_VERSION,
        )

    def GetSnapshotId(self, request: Any, context: Any) -> Any:
        return pb.GetSnapshotIdReply(snapshot_id=self.location.snapshot_id, load_error=self._load_error())

    def GetSnapshot(self, request: Any, context: Any) -> Iterator[Any]:
        if self.location.load_error is not None:
            yield pb.SnapshotChunk(load_error=self._load_error())
            return
        yield pb.SnapshotChunk(
            data=self.chunks[0], snapshot_id=self.location.snapshot_id, total_size=len(self.location.snapshot)
        )
        for chunk in self.chunks[1:]:
            yield pb.SnapshotChunk(data=chunk)

    def GetExecutionPlan(self, request: Any, context: Any) -> Any:
        if self.location.load_error is not None:
            return pb.GetExecutionPlanReply(load_error=self._load_error())
        try:
            run_config = json_or(request.run_config_json, None)
            selection = json_or(request.asset_selection_json, None)
            step_keys = json_or(request.step_keys_json, None)
        except json.JSONDecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"a JSON field of the request is invalid: {exc}")
        plan = self.location.plan(request.job_name, run_config, selection, step_keys)
        return pb.GetExecutionPlanReply(plan_json=plan.to_json())

    def EvaluateSchedule(self, request: Any, context: Any) -> Any:
        defs = self.location.definitions
        if defs is None:
            return pb.TickReply(load_error=self._load_error())
        when = request.scheduled_time if request.HasField("scheduled_time") else None
        timeout = self._timeout(request, self.spec.schedule_timeout)
        result = self.evaluator.run(
            f"schedule '{request.name}'", lambda: evaluate_schedule(defs, request.name, when), timeout
        )
        return pb.TickReply(tick_json=result.to_json())

    def EvaluateSensor(self, request: Any, context: Any) -> Any:
        defs = self.location.definitions
        if defs is None:
            return pb.TickReply(load_error=self._load_error())
        cursor = request.cursor if request.HasField("cursor") else None
        last_run_key = request.last_run_key if request.HasField("last_run_key") else None
        timeout = self._timeout(request, self.spec.sensor_timeout)
        result: TickResult = self.evaluator.run(
            f"sensor '{request.name}'", lambda: evaluate_sensor(defs, request.name, cursor, last_run_key), timeout
        )
        return pb.TickReply(tick_json=result.to_json())

    def StartRun(self, request: Any, context: Any) -> Any:
        if not request.run_id or not request.instance_home:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "StartRun needs run_id and instance_home")
        if self.stop.is_set():  # its runs are being terminated: this one would escape that
            context.abort(grpc.StatusCode.UNAVAILABLE, "the code server is shutting down")
        pid = self.runs.start(request.run_id, request.instance_home, dict(request.env))
        return pb.StartRunReply(pid=pid)

    def CancelRun(self, request: Any, context: Any) -> Any:
        return pb.CancelRunReply(canceled=self.runs.cancel(request.run_id))

    def Shutdown(self, request: Any, context: Any) -> Any:
        self.stop.set()
        return pb.ShutdownReply()

    def _load_error(self) -> bytes:
        return error_bytes(self.location.load_error)

    @staticmethod
    def _timeout(request: Any, default: float) -> float:
        if request.HasField("timeout_seconds") and request.timeout_seconds > 0:
            return float(request.timeout_seconds)
        return default


def _prepare_socket(path: str) -> None:
    """Remove a socket file left by a server that died; refuse a live one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise LocusError(f"{path} exists and is not a socket", "pick another --socket path")
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
    else:
        raise LocusError(f"another process is serving on {path}", "stop it or pick another --socket path")
    finally:
        probe.close()


def serve(spec: CodeServerSpec, on_ready: Callable[[LoadedLocation, str], None] | None = None) -> None:
    """Load the code, serve until SIGTERM/SIGINT or a Shutdown call, then stop
    gracefully: in-flight calls finish, run children are terminated, the socket
    file is removed. ``on_ready`` is called once the server accepts calls."""
    # Who started us, read before anything else: a supervisor killed while the
    # code loads must still be noticed (read later, it would be the new parent).
    parent = os.getppid()
    server = grpc.server(
        ThreadPoolExecutor(max_workers=spec.max_workers + SPARE_HANDLER_THREADS, thread_name_prefix="locus-grpc"),
        options=[
            # Without this, gRPC on Linux lets a second server bind the same port silently.
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
            ("grpc.http2.max_pings_without_data", 0),
        ],
    )
    # Bind before loading the code, so that a taken address fails at once.
    if spec.socket is not None:
        _prepare_socket(spec.socket)
    address = spec.target
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise LocusError(f"could not listen on {address}", "is another process using it? pick another port/socket")
    pointer = served_pointer(spec.pointer)
    location = LoadedLocation.load(pointer, spec.name, os.environ.get(IMAGE_ENV) or None)
    stop = threading.Event()
    servicer = _Servicer(spec, location, stop)
    pb_grpc.add_CodeServerServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    server.start()
    for service in ("", SERVICE_NAME):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    loaded = location.load_error is None
    health_servicer.set(
        LOADED_SERVICE,
        health_pb2.HealthCheckResponse.SERVING if loaded else health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    if on_ready is not None:
        on_ready(location, address)
    try:
        while not stop.wait(0.5):
            servicer.runs.reap()
            if spec.exit_with_parent and os.getppid() != parent:
                print(
                    f"{spec.name}: the process that started this server (pid {parent}) is gone; stopping",
                    file=sys.stderr,
                    flush=True,
                )
                stop.set()
    finally:
        health_servicer.enter_graceful_shutdown()
        # Runs first: cancelling takes them a moment, and a supervisor may
        # SIGKILL this server a few seconds after its SIGTERM.
        servicer.runs.signal_all(signal.SIGTERM)
        server.stop(STOP_GRACE_SECONDS).wait()
        servicer.runs.wait_all(CHILD_GRACE_SECONDS)
        if spec.socket is not None and os.path.exists(spec.socket):
            os.unlink(spec.socket)
        sys.stdout.flush()
