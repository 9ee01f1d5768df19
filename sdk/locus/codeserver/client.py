"""The client the API, the daemon and ``locus dev`` use to talk to a code
server. Calls fail fast when the server is down (``CodeServerUnavailable``,
naming the target) instead of waiting for it, and a location whose code
failed to load raises ``LocationLoadError`` with the user's traceback."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from locus.codeserver.generated import code_server_pb2 as pb
from locus.codeserver.generated import code_server_pb2_grpc as pb_grpc
from locus.codeserver.results import (
    LocationLoadError,
    PlanResult,
    ServerInfo,
    TickResult,
    dumps,
    error_from_bytes,
)
from locus.codeserver.snapshot import LocationSnapshot, decode_snapshot
from locus.definitions.errors import LocusError

__all__ = [
    "CodeServerClient",
    "CodeServerError",
    "CodeServerUnavailable",
    "LocationLoadError",
    "PlanResult",
    "ServerInfo",
    "TickResult",
]

T = TypeVar("T")

CHANNEL_OPTIONS = [
    # Notice a dead peer (a killed pod, a suspended laptop) within ~40 s.
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    # Reconnect soon after a server (re)starts: the default backoff grows to 2 minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    # The snapshot streams in 1 MiB chunks; anything larger is a bug, not a limit to raise.
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


# The call deadline of an evaluation without its own timeout.
EVALUATION_DEADLINE = 600.0


class CodeServerUnavailable(LocusError):
    """The code server cannot be reached (not running, wrong address, or not
    answering within the timeout)."""

    def __init__(self, target: str, detail: str) -> None:
        super().__init__(
            f"code server at {target} is unavailable: {detail}",
            "check that its process (`locus api grpc ...`) is running and listening on that address",
        )
        self.target = target


class CodeServerError(LocusError):
    """The code server answered a call with an error (a bug or a bad request)."""


class CodeServerClient:
    def __init__(self, target: str, default_timeout: float = 30.0) -> None:
        self.target = target
        self.default_timeout = default_timeout
        self._channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._stub = pb_grpc.CodeServerStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    # -- plumbing ------------------------------------------------------------

    def _call(self, fn: Callable[[], T], timeout: float | None) -> T:
        try:
            return fn()
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                raise CodeServerUnavailable(self.target, exc.details() or "connection failed") from None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                waited = timeout if timeout is not None else self.default_timeout
                raise CodeServerUnavailable(self.target, f"no answer within {waited:g}s") from None
            raise CodeServerError(f"code server at {self.target} failed: {code.name}: {exc.details()}") from None

    def _timeout(self, timeout: float | None) -> float:
        return self.default_timeout if timeout is None else timeout

    def _unary(self, method: str, request: Any, timeout: float | None) -> Any:
        rpc = getattr(self._stub, method)
        # wait_for_ready=False: a call to a server that is down fails at once
        # with UNAVAILABLE instead of waiting out its deadline.
        return self._call(lambda: rpc(request, timeout=self._timeout(timeout), wait_for_ready=False), timeout)

    def _raise_load_error(self, load_error: bytes) -> None:
        info = error_from_bytes(load_error)
        if info is not None:
            raise LocationLoadError(self._location_name(), info)

    def _location_name(self) -> str:
        try:
            return self.server_info(timeout=5).location_name
        except LocusError:
            return self.target

    # -- calls ---------------------------------------------------------------

    def ping(self, timeout: float | None = None, echo: str = "ping") -> str:
        """The server echoes ``echo`` back."""
        reply = self._unary("Ping", pb.PingRequest(echo=echo), timeout)
        return str(reply.echo)

    def health(self, timeout: float | None = None) -> bool:
        """True when the standard gRPC health service says SERVING; False
        when the server is unreachable or not serving."""
        request = health_pb2.HealthCheckRequest(service="")
        try:
            reply = self._health.Check(request, timeout=self._timeout(timeout), wait_for_ready=False)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def server_info(self, timeout: float | None = None) -> ServerInfo:
        reply = self._unary("GetServerInfo", pb.GetServerInfoRequest(), timeout)
        return ServerInfo(
            server_id=reply.server_id,
            location_name=reply.location_name,
            image=reply.image if reply.HasField("image") else None,
            pid=int(reply.pid),
            code_pointer=json.loads(reply.code_pointer_json) if reply.code_pointer_json else {},
            load_error=error_from_bytes(reply.load_error),
        )

    def snapshot_id(self, timeout: float | None = None) -> str:
        """The id of the location's snapshot; ``LocationLoadError`` if the code failed to load."""
        reply = self._unary("GetSnapshotId", pb.GetSnapshotIdRequest(), timeout)
        self._raise_load_error(reply.load_error)
        return str(reply.snapshot_id)

    def snapshot(self, timeout: float | None = None) -> LocationSnapshot:
        def fetch() -> tuple[bytes, bytes, str, int]:
            stream = self._stub.GetSnapshot(
                pb.GetSnapshotRequest(), timeout=self._timeout(timeout), wait_for_ready=False
            )
            parts: list[bytes] = []
            load_error, expected_id, expected_size = b"", "", -1
            for i, chunk in enumerate(stream):
                if i == 0:
                    load_error, expected_id, expected_size = chunk.load_error, chunk.snapshot_id, chunk.total_size
                parts.append(chunk.data)
            return b"".join(parts), load_error, expected_id, expected_size

        data, load_error, expected_id, expected_size = self._call(fetch, timeout)
        self._raise_load_error(load_error)
        if len(data) != expected_size or hashlib.sha256(data).hexdigest()[:16] != expected_id:
            raise CodeServerError(
                f"the snapshot from {self.target} arrived incomplete ({len(data)} of {expected_size} bytes)"
            )
        return decode_snapshot(data)

    def execution_plan(
        self,
        job_name: str,
        run_config: Mapping[str, Any] | None = None,
        asset_selection: Sequence[Sequence[str]] | None = None,
        step_keys: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> PlanResult:
        """The run's steps, or its config/selection errors in ``PlanResult.errors``."""
        request = pb.GetExecutionPlanRequest(
            job_name=job_name,
            run_config_json=dumps(dict(run_config)) if run_config is not None else b"",
            asset_selection_json=dumps([list(k) for k in asset_selection]) if asset_selection is not None else b"",
            step_keys_json=dumps(list(step_keys)) if step_keys is not None else b"",
        )
        reply = self._unary("GetExecutionPlan", request, timeout)
        self._raise_load_error(reply.load_error)
        return PlanResult.from_json(reply.plan_json)

    def evaluate_schedule(
        self, name: str, scheduled_time: float | None = None, timeout: float | None = None
    ) -> TickResult:
        """``timeout`` bounds the user's function (the server's default when None)."""
        request = pb.EvaluateScheduleRequest(name=name, scheduled_time=scheduled_time, timeout_seconds=timeout)
        reply = self._unary("EvaluateSchedule", request, self._rpc_timeout(timeout))
        self._raise_load_error(reply.load_error)
        return TickResult.from_json(reply.tick_json)

    def evaluate_sensor(
        self,
        name: str,
        cursor: str | None = None,
        last_run_key: str | None = None,
        timeout: float | None = None,
    ) -> TickResult:
        """``timeout`` bounds the user's function (the server's default when None)."""
        request = pb.EvaluateSensorRequest(
            name=name, cursor=cursor, last_run_key=last_run_key, timeout_seconds=timeout
        )
        reply = self._unary("EvaluateSensor", request, self._rpc_timeout(timeout))
        self._raise_load_error(reply.load_error)
        return TickResult.from_json(reply.tick_json)

    def _rpc_timeout(self, evaluation_timeout: float | None) -> float:
        # The server answers a timed-out evaluation itself: give it room to.
        # Its default evaluation timeout is unknown here, so allow a long one.
        return (evaluation_timeout if evaluation_timeout is not None else EVALUATION_DEADLINE) + 10.0

    def start_run(
        self, run_id: str, instance_home: str, env: Mapping[str, str] | None = None, timeout: float | None = None
    ) -> int:
        """Start ``locus execute run RUN_ID`` as a child of the server; its pid."""
        home = os.path.abspath(instance_home)  # the server's working directory is not ours
        request = pb.StartRunRequest(run_id=run_id, instance_home=home, env=dict(env or {}))
        return int(self._unary("StartRun", request, timeout).pid)

    def cancel_run(self, run_id: str, timeout: float | None = None) -> bool:
        """SIGTERM the run's child; False when the server runs no such run."""
        return bool(self._unary("CancelRun", pb.CancelRunRequest(run_id=run_id), timeout).canceled)

    def shutdown(self, timeout: float | None = None) -> None:
        self._unary("Shutdown", pb.ShutdownRequest(), timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> CodeServerClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
