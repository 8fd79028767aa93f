"""OpenTelemetry tracing: a server span per HTTP request, a child span per SQL statement
(asyncpg) and per outbound HTTP call (httpx), and a span per ledger step in the worker.

On only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set;
the spans then go to that collector over OTLP/HTTP, batched, and the usual ``OTEL_*``
variables apply (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``…).
Off, nothing of OpenTelemetry is imported and no object of it is made: ``start_tracing``
returns None, the app gets no middleware, ``step_span`` is a null context.

The instrumentation is the official packages' (``provision[tracing]``): the ASGI middleware,
``AsyncPGInstrumentor``, ``HTTPXClientInstrumentor``. What a span may carry is narrowed here:
outbound URLs keep their scheme and host only (a webhook's or an alert hook's path is its
secret), a request's query string is not recorded (it may carry a token, as for the access
line), and SQL statements are recorded without their parameters (the instrumentor's default).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.logs import request_context

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
UNTRACED_PATHS = "healthz,readyz,metrics"
"""Probes and scrapes make no traces (the ASGI middleware's excluded URLs)."""

_URL_ATTRIBUTES = ("url.full", "http.url")
_QUERY_ATTRIBUTES = ("url.query",)
_TARGET_ATTRIBUTES = ("http.target",)


class TracingUnavailable(RuntimeError):
    """Tracing is asked for but its packages are not installed."""


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    values = os.environ if environ is None else environ
    return any(values.get(name) for name in ENDPOINT_VARIABLES)


class Tracing:
    """Tracing as started in this process: ``stop`` takes the instrumentation off again and,
    for a provider of our own, sends what is left and shuts it down."""

    def __init__(self, provider: Any, *, owned: bool) -> None:
        self.provider = provider
        self.owned = owned
        self.tracer = provider.get_tracer("provision")

    def stop(self) -> None:
        global _active
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        HTTPXClientInstrumentor().uninstrument()
        if _active is self:
            _active = None
        if self.owned:
            self.provider.shutdown()


_active: Tracing | None = None


def check_available() -> None:
    """Raise ``TracingUnavailable`` (one line for the operator) when tracing is asked for by
    the environment and its packages are missing; the commands call it before starting."""
    if not wanted():
        return
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.instrumentation.asgi
        import opentelemetry.instrumentation.asyncpg
        import opentelemetry.instrumentation.httpx
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as missing:
        raise TracingUnavailable(
            f"{ENDPOINT_VARIABLES[0]} is set but OpenTelemetry is not installed"
            f" ({missing.name}): install provision[tracing]"
        ) from None


def start_tracing(service: str, provider: Any = None) -> Tracing | None:
    """Instrument this process's SQL and outbound HTTP, with ``provider`` (tests pass one with
    an in-memory exporter) or, when an OTLP endpoint is set, one exporting there; else None."""
    global _active
    if provider is None and not wanted():
        return None
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    except ImportError as missing:
        raise TracingUnavailable(
            f"{ENDPOINT_VARIABLES[0]} is set but OpenTelemetry is not installed"
            f" ({missing.name}): install provision[tracing]"
        ) from None
    owned = provider is None
    if owned:
        provider = _exporting_provider(service)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    HTTPXClientInstrumentor().instrument(
        tracer_provider=provider, request_hook=_outbound_hook, async_request_hook=_async_hook
    )
    _active = Tracing(provider, owned=owned)
    return _active


def _exporting_provider(service: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else _no_loose_client_spans()
    provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _no_loose_client_spans() -> Any:
    """A statement or call outside any request or step (the worker's polls, the key refresh)
    is not a trace of its own: only spans with a parent, or server and internal ones."""
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
    )
    from opentelemetry.trace import SpanKind

    class RootsButClients(Sampler):
        def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                          attributes: Any = None, links: Any = None, trace_state: Any = None
                          ) -> SamplingResult:  # fmt: skip
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return "RootsButClients"

    return ParentBased(root=RootsButClients())


def _host_only(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/"


def _outbound_hook(span: Any, request: Any) -> None:
    if span is None or not span.is_recording():
        return
    url = _host_only(str(request.url))
    for name in _URL_ATTRIBUTES:
        span.set_attribute(name, url)


async def _async_hook(span: Any, request: Any) -> None:
    _outbound_hook(span, request)


def _server_hook(span: Any, scope: dict[str, Any]) -> None:
    if span is None or not span.is_recording():
        return
    path = scope.get("path", "")
    for name in _QUERY_ATTRIBUTES:
        span.set_attribute(name, "")
    for name in _TARGET_ATTRIBUTES:
        span.set_attribute(name, path)
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, str(attributes[name]).split("?", 1)[0])


class OperationSpanMiddleware:
    """Names the server span after the route's template and the GraphQL operation
    (``POST /graphql ViewerQuery``) as the answer starts (the ASGI middleware ends the span
    with the answer's last part)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry import trace

        span = trace.get_current_span()

        async def naming_send(message: Message) -> None:
            if message["type"] == "http.response.start" and span.is_recording():
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                operation = request_context().get("operation")
                name = f"{scope['method']} {route}"
                if operation:
                    span.set_attribute("graphql.operation.name", operation)
                    name = f"{name} {operation}"
                span.update_name(name)
                span.set_attribute("http.route", route)
            await send(message)

        await self.app(scope, receive, naming_send)


def trace_app(app: Starlette, tracing: Tracing) -> None:
    """The server span for every request (outermost), named once the request has run."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    from api.http.logs import AccessLogMiddleware

    # Inside the access log's middleware: its request context holds the operation's name.
    classes: list[object] = [entry.cls for entry in app.user_middleware]
    inner = classes.index(AccessLogMiddleware) + 1 if AccessLogMiddleware in classes else 0
    app.user_middleware.insert(inner, Middleware(OperationSpanMiddleware))
    app.user_middleware.insert(
        0,
        Middleware(
            OpenTelemetryMiddleware,
            excluded_urls=UNTRACED_PATHS,
            server_request_hook=_server_hook,
            tracer_provider=tracing.provider,
            exclude_spans=["receive", "send"],
        ),
    )


@contextlib.contextmanager
def step_span(kind: str) -> Iterator[None]:
    """A span around one ledger step (its SQL and outbound calls are its children)."""
    if _active is None:
        yield
        return
    with _active.tracer.start_as_current_span(f"ledger step {kind}", attributes={"kind": kind}):
        yield
