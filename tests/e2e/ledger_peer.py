"""A fake downstream peer and alert webhook for the ledger tests: a small ASGI app on a real
socket (uvicorn in a thread) that counts HTTP_PING deliveries by event id.

A ping's body may ask the peer to misbehave: ``{"fail_times": n}`` answers 503 to the first n
attempts; ``{"hang_first": true}`` never answers the first attempt (its worker gets killed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PROVISION = [sys.executable, "-m", "api.cli.main"]


@dataclass
class Peer:
    url: str
    attempts: Counter[str] = field(default_factory=Counter)
    successes: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    hook_failures: int = 0
    hook_calls: int = 0
    closing: bool = False

    @property
    def ping_url(self) -> str:
        return f"{self.url}/ping"

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook/T000/B000/secret-token"

    def reset(self) -> None:
        self.attempts.clear()
        self.successes.clear()
        self.alerts.clear()
        self.hook_failures = 0
        self.hook_calls = 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _app(peer: Peer) -> Starlette:
    async def ping(request: Request) -> Response:
        delivery = await request.json()
        event_id = delivery["event_id"]
        assert request.headers["idempotency-key"] == delivery["idempotency_key"]
        peer.attempts[event_id] += 1
        body = delivery.get("body") or {}
        if peer.attempts[event_id] <= body.get("fail_times", 0):
            return JSONResponse({"error": "try later"}, status_code=503)
        if body.get("hang_first") and peer.attempts[event_id] == 1:
            # Until the peer stops (its caller is killed long before). A plain flag: the test
            # thread sets it, and an asyncio.Event belongs to the peer's loop.
            while not peer.closing:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return Response(status_code=503)
        peer.successes[event_id] += 1
        return JSONResponse({"ok": True})

    async def hook(request: Request) -> Response:
        peer.hook_calls += 1
        if peer.hook_calls <= peer.hook_failures:
            return Response(status_code=500)
        peer.alerts.append(await request.json())
        return Response("ok")

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["POST"]),
            Route("/hook/{rest:path}", hook, methods=["POST"]),
        ]
    )


@contextmanager
def serving_peer() -> Iterator[Peer]:
    port = free_port()
    peer = Peer(url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        _app(peer),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the peer did not start"
        time.sleep(0.02)
    try:
        yield peer
    finally:
        peer.closing = True
        server.should_exit = True
        thread.join(timeout=10)


WORKER_ENV = {
    "PROVISION_WORKER_CONCURRENCY": "16",
    # Long enough that a worker starved of CPU on a busy machine keeps its rows: a lost lease
    # would let another worker run a row again, failing (or hiding) an exactly-once check.
    "PROVISION_WORKER_LEASE_SECONDS": "60",
    "PROVISION_WORKER_POLL_SECONDS": "0.1",
    "PROVISION_WORKER_GRACE_SECONDS": "3",
    "PROVISION_WORKER_HTTP_TIMEOUT": "30",
    "PROVISION_LEDGER_MAX_ATTEMPTS": "5",
    "PROVISION_LEDGER_BACKOFF_BASE_SECONDS": "0.1",
    "PROVISION_LEDGER_BACKOFF_MAX_SECONDS": "0.5",
    # Webhook receivers in the tests listen on 127.0.0.1 (the SSRF guard refuses it otherwise).
    "PROVISION_WEBHOOKS_ALLOW_HTTP_LOOPBACK": "true",
    # These processes read the real clock, while test data is dated at factories.NOW: a week
    # after NOW (or in the shifted-date pass) every instance would look "stopped syncing" and
    # get its reminder email in tests about other emails. Fleet's own tests run that job on
    # a test clock (tests/e2e/test_instances.py).
    "PROVISION_INSTANCE_STALE_DAYS": "36500",
}
# For a worker the test kills so that another reclaims its row: the lease must run out soon.
SHORT_LEASE = {"PROVISION_WORKER_LEASE_SECONDS": "2"}


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        """SIGTERM, as an orchestrator sends; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def start_worker(
    database_url: str, log: Path, extra: dict[str, str] | None = None
) -> WorkerProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PICCOLO_CONF",)}
    env.update(WORKER_ENV)
    env["DATABASE_URL"] = database_url
    env.update(extra or {})
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PROVISION, "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    worker = WorkerProcess(process, log)
    deadline = time.monotonic() + 60
    try:
        while " started: " not in worker.output():
            assert process.poll() is None, worker.output()
            assert time.monotonic() < deadline, f"not started in 60 s:\n{worker.output()}"
            time.sleep(0.05)
    except BaseException:
        # A worker left running would go on claiming the session database's rows under
        # the tests that follow.
        process.kill()
        process.wait()
        raise
    return worker


@contextmanager
def workers(
    database_url: str, folder: Path, count: int, **extra: str
) -> Iterator[list[WorkerProcess]]:
    """``count`` ``provision worker`` processes; each must stop cleanly on SIGTERM."""
    started: list[WorkerProcess] = []
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for n in range(count):
            started.append(start_worker(database_url, folder / f"worker-{n}.log", extra))
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                assert worker.stop() == 0, worker.output()
