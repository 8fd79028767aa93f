"""The composition root: ``create_app(settings)`` wires the adapters into a Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route

from api.commands import Commands, SandboxTime
from api.graphql.fast_read import fast_reads_for
from api.graphql.graphiql import ASSETS_PATH, graphiql_assets
from api.graphql.schema import build_schema
from api.graphql.trusted import TrustedDocuments
from api.graphql.view import GraphQLView
from api.http.database_errors import DatabaseErrorMiddleware
from api.http.logs import AccessLogMiddleware
from api.http.metrics import MetricsMiddleware, process_exited, sample_pool_periodically
from api.http.middleware import BodyLimitMiddleware, RequestIdMiddleware, SecurityHeadersMiddleware
from api.http.outages import OutageLog
from api.http.tracing import start_tracing, trace_app
from api.portal.client import PORTAL_CLIENT_ID, ensure_portal_client
from api.portal.documents import trusted_documents
from api.portal.page import portal_routes
from api.rest.authorization import BearerAuthenticationMiddleware, authorization_server_routes
from api.rest.dedicated import dedicated_callback_endpoint
from api.rest.gitlab import gitlab_routes
from api.rest.gitlab_com import GITLAB_COM, gitlab_com_routes
from api.rest.health import healthz, readyz_for
from api.rest.marketplaces import marketplace_routes
from api.rest.metrics import metrics_endpoint
from api.rest.oauth import KeyRingHolder, discovery_endpoint, jwks_endpoint
from api.rest.seat_links import seat_links_endpoint
from api.settings import Settings
from api.worker.in_request import TrialProvisioning
from api.worker.loop import Worker, WorkerRegistry, new_owner_id
from api.worker.process import transition_webhooks, worker_config
from auth.backend import BearerTokenBackend, invalid_token_response
from auth.external import ExternalIssuer
from auth.external_signin import ExternalSignIn
from auth.keys import KeyRing, load_or_create
from auth.keys import load as load_keys
from auth.licenses.keys import DatabaseLicenseSigner
from auth.rate_limit import FailureLimiter
from auth.service_tokens import KeyRingServiceTokenSigner
from auth.store import OAuthStore
from domain.model.cloud_connector import SERVICE_TOKEN_LIFETIME
from domain.model.provision_event import ProvisionEvent
from domain.model.provisioning import NAMESPACE_PROVISION
from domain.ports import Clock
from integrations.clock import SystemClock
from integrations.gitlab_com.client import namespace_provision_handler
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.outbound import save_payload
from persistence.read_models import ReadModels
from persistence.tenant_time import TenantClock
from persistence.unit_of_work import PostgresUnitOfWork

logger = logging.getLogger("provision.app")


def collect_garbage_off_the_request_path() -> None:
    """Freeze what start-up built and stop the automatic cyclic collector.

    A request builds thousands of short-lived objects. CPython's collector runs every 700
    allocations and rescans every object of the requests in flight each time. Requests hold
    no reference cycles (the loaders are released and graphql-core's helper cycle is unlinked
    when an operation ends), so reference counting frees them, and the collector's scans are
    pure cost: the read benchmark reached 0.14 of its floor with the default collector and
    0.17 with this (``PROVISION_GC_INTERVAL=0`` keeps CPython's default).
    ``collect_garbage_periodically`` reclaims whatever cycles other code makes.
    """
    gc.collect()
    gc.freeze()
    gc.disable()


async def collect_garbage_periodically(interval: float) -> None:
    """Young generations every ``interval`` seconds, everything every 60 intervals."""
    ticks = 0
    while True:
        await asyncio.sleep(interval)
        ticks += 1
        gc.collect(2 if ticks % 60 == 0 else 1)


async def _load_keys(db: Database) -> KeyRing:
    async with db.pool.acquire() as connection:
        return await load_keys(connection)  # type: ignore[arg-type]


async def refresh_keys_periodically(keys: KeyRingHolder, interval: float) -> None:
    """Pick up rotations and client revocations made by other processes (and retire keys on
    time) without a restart: a revoked client's or a deleted key's tokens die here."""
    while True:
        await asyncio.sleep(interval)
        try:
            await keys.reload()
        except (OSError, asyncpg.PostgresError) as error:
            logger.warning("signing keys not reloaded: %s", type(error).__name__)


def trial_provisioning(
    settings: Settings, db: Database, clock: Clock, keys: KeyRingHolder, http: httpx.AsyncClient
) -> TrialProvisioning:
    """What a GitLab.com trial request runs its NAMESPACE_PROVISION rows with: a worker of
    this process with that one handler, the workers' own (without GITLAB_COM_URL, none: every
    such trial answers that it could not be provisioned)."""
    timeout = settings.trial_provision_timeout_seconds
    if not settings.gitlab_com_url:
        return TrialProvisioning(db, None, timeout)

    async def ring() -> KeyRing:
        return keys()

    async def save(event: ProvisionEvent) -> bool:
        return await save_payload(db, event)

    registry = WorkerRegistry()
    registry.register(
        NAMESPACE_PROVISION,
        namespace_provision_handler(
            http, settings.gitlab_com_url, settings.issuer, ring, save, clock
        ),
    )
    worker = Worker(
        PostgresLedger(db, clock),
        PostgresScheduledJobRuns(db, clock),
        registry,
        worker_config(settings),
        clock,
        owner=f"request:{new_owner_id()}",
        follow_ups=transition_webhooks(db, clock, settings),
    )
    return TrialProvisioning(db, worker, timeout)


def create_app(
    settings: Settings, *, clock: Clock | None = None, tracer_provider: Any = None
) -> Starlette:
    """The HTTP app. ``settings.database_url`` must be set (the CLI resolves the embedded one).
    Traced (api/http/tracing.py) when an OTLP endpoint is set, or with ``tracer_provider``."""
    if not settings.database_url:
        raise ValueError("create_app needs settings.database_url; `provision serve` sets it")
    tracing = start_tracing("provision-api", tracer_provider)
    db = Database(settings.database_url, pool_max=settings.pool_max)
    read = ReadModels(db)
    # Real time for tokens, keys and leases; the tenant's (a sandbox's test clock, the system
    # clock for everyone else) for what the use cases, the GraphQL context and the seat link
    # read (docs/test-clock.md).
    base = clock or SystemClock()
    clock = TenantClock(base)
    sandbox = SandboxTime(db, settings, base)
    tokens = settings.token_settings
    keys = KeyRingHolder(lambda: _load_keys(db))
    oauth_store = OAuthStore(lambda: db.pool)
    oauth = settings.oauth_settings
    limiter = FailureLimiter(lambda: db.pool, oauth.limit_window, base.now)
    commands = Commands.build(
        db,
        clock,
        failures=limiter,
        service_tokens=KeyRingServiceTokenSigner(keys, tokens.issuer),
        webhook_attempts=settings.webhook_attempts,
        webhooks_allow_http_loopback=settings.webhooks_allow_http_loopback,
        max_attempts=settings.ledger_max_attempts,
        instance_stale_days=settings.instance_stale_days,
    )
    commands = dataclasses.replace(commands, sandbox=sandbox)
    # The customer portal's documents run by id for anyone; with the setting, its own tokens
    # run nothing else (docs/portal.md).
    documents = trusted_documents()
    trusted = TrustedDocuments(
        documents, PORTAL_CLIENT_ID if settings.trusted_documents_only_for_portal else None
    )
    schema = build_schema(settings, trusted=trusted)
    fast = fast_reads_for(schema, db) if settings.fast_reads else None
    graphql = GraphQLView(
        schema,
        read=read,
        commands=commands,
        clock=clock,
        graphiql=settings.graphiql,
        documents=documents,
        # Documents it compiles answer in one statement (api/graphql/fast_read.py).
        fast=fast,
        trusted=trusted,
        sandbox=sandbox,
    )
    outages = OutageLog(logging.getLogger("provision.database"))
    external_settings = settings.external_issuer_settings
    external = ExternalIssuer(external_settings) if external_settings else None
    signin_settings = settings.external_signin_settings
    external_signin = (
        ExternalSignIn(signin_settings, keys=keys, issuer=tokens.issuer, now=base.now)
        if signin_settings
        else None
    )
    gitlab_com_http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.worker_http_timeout_seconds, connect=5.0)
    )
    provisioning = trial_provisioning(settings, db, base, keys, gitlab_com_http)
    marketplace_http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.worker_http_timeout_seconds, connect=5.0)
    )
    marketplace_inbox = commands.marketplaces.inbox

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool_logger = logging.getLogger("asyncpg.pool")
        pool_logger.addFilter(outages)
        await db.start()
        async with db.pool.acquire() as connection:
            keys.set(await load_or_create(connection, base.now()))  # type: ignore[arg-type]
        if settings.portal:
            await ensure_portal_client(db.pool, settings.issuer, base.now())
        if isinstance(commands.signer, DatabaseLicenseSigner):
            # Loaded before any request: a request holding a pooled connection in its
            # transaction must never wait for a second one to load the key - with every
            # connection held that way, the pool would wait forever (seen under load).
            await commands.signer.signing_key()
        key_refresher = asyncio.create_task(
            refresh_keys_periodically(keys, settings.key_refresh_seconds)
        )
        pool_sampler = asyncio.create_task(sample_pool_periodically("api", lambda: db.engine.pool))
        collector = None
        if settings.gc_interval > 0:
            collect_garbage_off_the_request_path()
            collector = asyncio.create_task(collect_garbage_periodically(settings.gc_interval))
        try:
            yield
        finally:
            key_refresher.cancel()
            pool_sampler.cancel()
            if collector is not None:
                collector.cancel()
                gc.enable()
            if external is not None:
                await external.close()
            if external_signin is not None:
                await external_signin.close()
            await gitlab_com_http.aclose()
            await marketplace_http.aclose()
            await db.stop()
            pool_logger.removeFilter(outages)
            process_exited()
            if tracing is not None:
                tracing.stop()

    # GraphiQL's page is the view's; its scripts and styles are files of the package.
    ide: list[BaseRoute] = [Mount(ASSETS_PATH, graphiql_assets())] if settings.graphiql else []
    portal: list[BaseRoute] = portal_routes() if settings.portal else []
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *ide,
            *portal,
            Route("/api/v1/seat_links", seat_links_endpoint(commands, sandbox), methods=["POST"]),
            Route(
                "/dedicated/callbacks",
                dedicated_callback_endpoint(lambda: PostgresUnitOfWork(db), clock, settings),
                methods=["POST"],
            ),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz_for(db), methods=["GET"]),
            Route(
                "/metrics",
                metrics_endpoint(read, base, settings.metrics_token, db),
                methods=["GET"],
            ),
            Route(
                "/oauth/jwks",
                jwks_endpoint(keys, max(tokens.lifetime, SERVICE_TOKEN_LIFETIME), base.now),
                methods=["GET"],
            ),
            Route("/.well-known/openid-configuration", discovery_endpoint(tokens), methods=["GET"]),
            *gitlab_routes(commands, read),
            *gitlab_com_routes(commands, read, settings.gitlab_com_admin_pair, provisioning),
            *authorization_server_routes(
                oauth_store, keys, tokens, oauth, limiter, base.now, external_signin
            ),
            *marketplace_routes(settings, marketplace_inbox, marketplace_http, base),
        ],
        middleware=[
            # Outermost: every request gets its access line and its id, preflights included.
            Middleware(AccessLogMiddleware),
            Middleware(MetricsMiddleware),
            Middleware(RequestIdMiddleware),
            # A browser's preflight is answered before any limit or token check.
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=["X-Request-Id", "WWW-Authenticate", "Retry-After"],
                max_age=600,
            ),
            Middleware(SecurityHeadersMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(DatabaseErrorMiddleware, outages=outages),
            Middleware(
                BearerAuthenticationMiddleware,
                backend=BearerTokenBackend(
                    keys,
                    tokens,
                    base.now,
                    is_revoked=oauth_store.family_revoked,
                    external=external,
                    reload_keys=keys.reload_if_allowed,
                    admin_pair=settings.gitlab_com_admin_pair,
                    admin_principal=GITLAB_COM,
                ),
                on_error=invalid_token_response,
            ),
        ],
        lifespan=lifespan,
    )
    if tracing is not None:
        trace_app(app, tracing)
    app.state.db = db
    app.state.outages = outages
    app.state.keys = keys
    app.state.fast_reads = fast
    app.state.clock = base
    app.state.sandbox = sandbox
    return app


def app_from_env() -> Starlette:
    """Factory for uvicorn workers: the parent process put the DSN in DATABASE_URL."""
    return create_app(Settings.from_env())
