"""Prometheus metrics of a process, with ``prometheus-client``: requests, database pools and
worker steps (the ledger's figures are read from the database when ``/metrics`` is scraped,
api/rest/metrics.py).

Several processes on one host (``provision serve`` with ``PROVISION_WORKERS`` > 1, workers
beside it) share their figures through prometheus-client's multiprocess mode: with
``PROMETHEUS_MULTIPROC_DIR`` set before this module is imported, every process writes its
values to files there and ``/metrics`` adds them up (``registry()``). A process that ends calls
``process_exited()`` so its live gauges (pool connections) stop counting; its counters and
histograms stay, as a counter must.

Label values are bounded: the route is the route's template (``unmatched`` for a 404), the
GraphQL operation name is kept for the first ``OPERATION_NAMES`` names a process sees and is
``other`` after that (clients choose those names), the status is the HTTP status code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    make_wsgi_app,
    multiprocess,
)
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.logs import request_context

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
OPERATION_NAMES = 200
POOL_SAMPLE_SECONDS = 5.0

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

REQUESTS = Counter(
    "provision_http_requests",
    "HTTP requests answered, by route, GraphQL operation name and status.",
    ["route", "operation", "status"],
)
REQUEST_SECONDS = Histogram(
    "provision_http_request_duration_seconds",
    "Time from a request's arrival to its answer's end, by route, operation and status.",
    ["route", "operation", "status"],
    buckets=REQUEST_BUCKETS,
)
POOL_CONNECTIONS = Gauge(
    "provision_db_pool_connections",
    "Database pool connections by state (open, in_use, idle), summed over live processes.",
    ["pool", "state"],
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "provision_db_pool_max_connections",
    "The pools' maximum sizes, summed over live processes: what they may open.",
    ["pool"],
    multiprocess_mode="livesum",
)
STEP_SECONDS = Histogram(
    "provision_worker_step_duration_seconds",
    "Time a ledger step's handler ran, by kind and outcome (succeeded, failed, dead).",
    ["kind", "outcome"],
    buckets=STEP_BUCKETS,
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


def registry() -> CollectorRegistry:
    """What ``/metrics`` shows of the processes: every process's files in multiprocess mode,
    else this process's registry (with its process and platform collectors)."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    combined = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(combined, path=path)  # type: ignore[no-untyped-call]
    return combined


def process_exited() -> None:
    """This process's live gauges stop counting (multiprocess mode; nothing otherwise)."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]


_names: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return ""
    if name in _names:
        return name
    if len(_names) >= OPERATION_NAMES:
        return "other"
    _names.add(name)
    return name


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def observe_request(route: str, operation: str, status: int, seconds: float) -> None:
    labels = (route, operation_label(operation), str(status))
    REQUESTS.labels(*labels).inc()
    REQUEST_SECONDS.labels(*labels).observe(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP request (inside ``AccessLogMiddleware``, whose request
    context carries the GraphQL operation name when the request ends)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except ClientDisconnect:
            status = 499  # as the access line says
            raise
        finally:
            observe_request(
                route_label(scope),
                request_context().get("operation") or "",
                status,
                time.perf_counter() - started,
            )


def sample_pool(name: str, pool: Any) -> None:
    """Record an asyncpg pool's connections now (``pool`` may be None: not started)."""
    if pool is None:
        return
    size = pool.get_size()
    idle = pool.get_idle_size()
    POOL_CONNECTIONS.labels(name, "open").set(size)
    POOL_CONNECTIONS.labels(name, "idle").set(idle)
    POOL_CONNECTIONS.labels(name, "in_use").set(size - idle)
    POOL_MAX.labels(name).set(pool.get_max_size())


async def sample_pool_periodically(
    name: str, pool: Callable[[], Any], every: float = POOL_SAMPLE_SECONDS
) -> None:
    """Keep a pool's gauges fresh for the scrapes other processes answer."""
    while True:
        with contextlib.suppress(Exception):
            sample_pool(name, pool())
        await asyncio.sleep(every)


def observe_step(kind: str, outcome: str, seconds: float) -> None:
    STEP_SECONDS.labels(kind, outcome).observe(seconds)


def bearer_matches(authorization: str, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries the metrics token (any, without one)."""
    if not token:
        return True
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def serve_process_metrics(
    host: str, port: int, token: str | None
) -> tuple[int, Callable[[], None]]:
    """This process's metrics over HTTP on a port of its own, from a thread (``provision
    worker`` has no web server): the port listened on, and how to stop. The same bearer
    token as the API's ``/metrics`` when one is set."""
    app = make_wsgi_app(registry())

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if not bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("WWW-Authenticate", 'Bearer realm="metrics"'),
                ],
            )
            return [b"a bearer token is needed for /metrics\n"]
        answer: list[bytes] = app(environ, start_response)
        return answer

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

    class Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    server = make_server(host, port, guarded, Threaded, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return server.server_port, stop
