"""OpenTelemetry tracing (api/http/tracing.py), exported to the SDK's in-memory exporter: a
GraphQL request's server span has children for its SQL and for its outbound call (the JWKS of
an external provider, a local app on a real socket); off, nothing of OpenTelemetry is loaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from api.settings import Settings
from persistence.database import Database

import factories as f
from bearer import bearer
from clocks import TickingClock

ISSUER = "https://sso.example.test"
CLOCK = TickingClock(f.NOW)
KEY = RSAKey.generate_key(2048, parameters={"kid": "traced-1"}, private=True)
QUERY = "query TracedCustomers { customers { edges { node { company } } } }"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    """The external provider's JWKS, served on a real socket (secret path: /keys/s3cret)."""

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse({"keys": [{**KEY.as_dict(private=False), "alg": "RS256"}]})

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/keys/s3cret", jwks)]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ws="none",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the provider did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/keys/s3cret"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
async def traced_app(
    database_url: str, jwks_url: str, exporter: InMemorySpanExporter
) -> AsyncIterator[Starlette]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = Settings(
        database_url=database_url,
        pool_max=2,
        gc_interval=0,
        external_issuer=ISSUER,
        external_jwks_url=jwks_url,
        external_audience="provision-api",
    )
    application = create_app(settings, clock=CLOCK, tracer_provider=provider)
    async with application.router.lifespan_context(application):
        yield application


def token() -> str:
    now = int(CLOCK.now().timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "provision-api",
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
    }
    return jwt.encode({"alg": "RS256", "kid": KEY.kid}, claims, KEY)


def descendants(spans: list[ReadableSpan], root: ReadableSpan) -> list[ReadableSpan]:
    assert root.context is not None
    found, parents = [], {root.context.span_id}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        if span.parent is not None and span.parent.span_id in parents:
            found.append(span)
            assert span.context is not None
            parents.add(span.context.span_id)
    return found


async def test_a_graphql_request_has_a_server_span_with_sql_and_outbound_children(
    traced_app: Starlette, exporter: InMemorySpanExporter, jwks_url: str, clean_db: Database
) -> None:
    exporter.clear()
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        response = await http.post(
            "/graphql?probe=s3cret-query",
            json={"query": QUERY, "operationName": "TracedCustomers"},
            headers=bearer(token()),
        )
        assert response.status_code == 200
        assert "errors" not in response.json(), response.text
        assert (await http.get("/healthz")).status_code == 200
    spans = list(exporter.get_finished_spans())
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]  # none for /healthz
    assert server.name == "POST /graphql TracedCustomers"
    assert server.attributes is not None
    assert server.attributes["graphql.operation.name"] == "TracedCustomers"
    assert server.attributes["http.route"] == "/graphql"
    children = descendants(spans, server)
    sql = [s for s in children if (s.attributes or {}).get("db.system") == "postgresql"]
    assert sql, [s.name for s in spans]
    assert any("FROM customer" in str((s.attributes or {}).get("db.statement")) for s in sql)
    [outbound] = [s for s in children if s.kind is SpanKind.CLIENT and s not in sql]
    assert outbound.attributes is not None
    urls = {outbound.attributes.get(name) for name in ("url.full", "http.url")} - {None}
    assert urls == {f"http://127.0.0.1:{httpx.URL(jwks_url).port}/"}
    # What spans carry stays narrow: no query string, no secret path, no statement parameters.
    exported = repr([dict(s.attributes or {}) for s in spans])
    assert "s3cret" not in exported
    assert "db.statement.parameters" not in exported


def test_off_nothing_of_opentelemetry_is_loaded() -> None:
    """Without an OTLP endpoint, building the app and the worker's loop imports no
    OpenTelemetry module and adds no middleware of it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    program = (
        "import sys\n"
        "from api.app import create_app\n"
        "from api.settings import Settings\n"
        "import api.worker.process\n"
        "app = create_app(Settings(database_url='postgresql://nobody@127.0.0.1:1/none'))\n"
        "names = [m.cls.__name__ for m in app.user_middleware]\n"
        "assert 'OpenTelemetryMiddleware' not in names, names\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_asked_for_without_its_packages_a_command_stops_with_one_line() -> None:
    program = (
        "import sys\n"
        "sys.modules['opentelemetry.instrumentation.asyncpg'] = None  # as if not installed\n"
        "from api.cli.main import main\n"
        "sys.exit(main(['worker']))\n"
    )
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed"
        " (opentelemetry.instrumentation.asyncpg): install provision[tracing]"
    )
