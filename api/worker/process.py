"""``provision worker``: one worker process on the database, its built-in handlers and jobs,
plugins named in PROVISION_WORKER_PLUGINS, and a graceful stop on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from api.commands import SandboxTime
from api.http.metrics import process_exited, sample_pool_periodically, serve_process_metrics
from api.http.tracing import start_tracing
from api.settings import Settings
from api.worker.handlers import (
    FAILURE_BURST_JOB,
    GIVE_UP_LOST_ROWS_JOB,
    failure_burst_job,
    give_up_lost_rows_job,
)
from api.worker.loop import FollowUps, JobBody, Worker, WorkerConfig, WorkerRegistry
from auth.keys import KeyRing, load, load_or_create
from auth.licenses.keys import DatabaseLicenseSigner
from domain.model.dedicated import DEDICATED_TENANT_KIND
from domain.model.email import EMAIL_KIND
from domain.model.marketplace import MARKETPLACE_EVENT_KIND, Marketplace, MarketplacePeer
from domain.model.provision_event import ALERT_KIND, ProvisionEvent
from domain.model.provisioning import NAMESPACE_PROVISION
from domain.model.webhook import PROVISIONING_KINDS, WEBHOOK_DELIVERY_KIND
from domain.ports import Clock
from domain.use_cases.cancel_subscription import CancelSubscriptionHandler
from domain.use_cases.change_subscription import ChangeSubscriptionHandler
from domain.use_cases.create_subscription import CreateSubscriptionHandler
from domain.use_cases.dedicated import DedicatedSettings, DedicatedSteps, TenantSweeps
from domain.use_cases.emails import Reminders, ReminderSettings
from domain.use_cases.link_namespace import LinkNamespaceHandler
from domain.use_cases.marketplace import ApplyMarketplaceOrder
from domain.use_cases.renew_subscription import RenewSubscriptionHandler
from domain.use_cases.transfer_subscription import ApplyDueTransfers
from domain.use_cases.trials import Trials
from domain.use_cases.webhooks import EndpointHealth, ledger_transition_webhooks
from integrations.alerts import alert_handler
from integrations.clock import SystemClock
from integrations.dedicated.client import HttpTenantProvisioner
from integrations.email.handler import email_handler
from integrations.email.messages import template_environment
from integrations.email.transports import (
    DirectoryTransport,
    SmtpTransport,
    Transport,
    parse_smtp_url,
)
from integrations.gitlab_com.client import namespace_provision_handler
from integrations.http_ping import HTTP_PING_KIND, http_ping_handler
from integrations.marketplaces.aws import AwsMarketplaceClient, AwsPeer
from integrations.marketplaces.azure import AzurePeer, configured_client
from integrations.marketplaces.handler import AfterApplied, marketplace_event_handler
from integrations.marketplaces.stripe import StripePeer
from integrations.webhooks.delivery import webhook_delivery_handler
from integrations.webhooks.egress import guarded_client
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.marketplace import PostgresMarketplaceInbox, PostgresMarketplaceLinks
from persistence.outbound import license_key, save_payload
from persistence.repositories import PostgresWebhookDeliveries, PostgresWebhookEndpoints
from persistence.unit_of_work import JoiningUnitOfWork, PostgresUnitOfWork

logger = logging.getLogger("provision.worker")


@dataclass(frozen=True)
class WorkerContext:
    """What handlers and jobs may use: the database, an HTTP client (timeouts set), the
    settings and the clock. Plugins receive it with the registry."""

    db: Database
    http: httpx.AsyncClient
    settings: Settings
    clock: Clock
    config: WorkerConfig


Plugin = Callable[[WorkerRegistry, WorkerContext], None]


def transition_webhooks(db: Database, clock: Clock, settings: Settings) -> FollowUps:
    """The worker's follow-ups: the webhook deliveries a ledger row's outcome causes
    (``namespace.provisioned``, ``provisioning.failed``), recorded with that outcome."""

    async def follow_ups(event: ProvisionEvent) -> list[ProvisionEvent]:
        if event.kind not in PROVISIONING_KINDS:
            return []  # most rows (deliveries, emails): no transaction opened for nothing
        async with PostgresUnitOfWork(db) as uow:  # reads only; rolled back
            return await ledger_transition_webhooks(
                uow, event, clock.now(), settings.webhook_attempts
            )

    return follow_ups


def worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        concurrency=settings.worker_concurrency,
        lease=timedelta(seconds=settings.worker_lease_seconds),
        poll_seconds=settings.worker_poll_seconds,
        grace_seconds=settings.worker_grace_seconds,
        max_attempts=settings.ledger_max_attempts,
        backoff_base=timedelta(seconds=settings.ledger_backoff_base_seconds),
        backoff_max=timedelta(seconds=settings.ledger_backoff_max_seconds),
    )


def load_plugin(spec: str) -> Plugin:
    """``module:function`` → the function (it registers handlers and jobs)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"a worker plugin is module:function, not {spec!r}")
    plugin: Plugin = getattr(importlib.import_module(module_name), attribute)
    return plugin


def build_registry(context: WorkerContext) -> WorkerRegistry:
    """The built-in handlers and jobs, then every configured plugin's."""
    registry = WorkerRegistry()
    registry.register(ALERT_KIND, alert_handler(context.http, context.settings.alert_webhook_url))
    registry.register(HTTP_PING_KIND, http_ping_handler(context.http))
    register_webhooks(registry, context)
    registry.register_job(
        GIVE_UP_LOST_ROWS_JOB,
        max(context.config.lease, timedelta(seconds=1)),
        give_up_lost_rows_job(
            PostgresLedger(context.db, context.clock), context.clock, context.config
        ),
    )
    registry.register_job(TRIAL_EXPIRY_JOB, timedelta(minutes=1), trial_expiry_job(context))
    registry.register_job(TRANSFERS_JOB, timedelta(minutes=1), transfers_job(context))
    register_reminders(registry, context)
    register_outbound(registry, context)
    register_marketplaces(registry, context)
    register_dedicated(registry, context)
    registry.register_job(SANDBOX_CLOCKS_JOB, timedelta(minutes=1), sandbox_clocks_job(context))
    if context.settings.alert_failures_threshold > 0:
        window = timedelta(seconds=context.settings.alert_failures_window_seconds)
        registry.register_job(
            FAILURE_BURST_JOB,
            timedelta(minutes=1),
            failure_burst_job(
                context.db,
                context.clock,
                threshold=context.settings.alert_failures_threshold,
                window=window,
                max_attempts=context.config.max_attempts,
            ),
        )
    for spec in context.settings.worker_plugins:
        load_plugin(spec)(registry, context)
    return registry


def webhook_health(context: WorkerContext) -> EndpointHealth:
    settings = context.settings
    return EndpointHealth(
        lambda: PostgresUnitOfWork(context.db),
        context.clock,
        threshold=settings.webhook_disable_after,
        staff_email=settings.webhook_staff_email,
        max_attempts=settings.ledger_max_attempts,
    )


def register_webhooks(
    registry: WorkerRegistry, context: WorkerContext, http: httpx.AsyncClient | None = None
) -> None:
    """WEBHOOK_DELIVERY on its own client: the SSRF guard, keep-alive, the per-attempt
    timeout (``http``: the caller's, which must be as guarded)."""
    settings = context.settings
    client = http or guarded_client(
        allow_loopback=settings.webhooks_allow_http_loopback,
        timeout=settings.webhook_timeout_seconds,
        max_connections=context.config.concurrency * 2,
    )
    registry.register(
        WEBHOOK_DELIVERY_KIND,
        webhook_delivery_handler(
            client,
            PostgresWebhookEndpoints(context.db).get,
            context.clock,
            record_result=PostgresWebhookDeliveries(context.db).record_result,
            health=webhook_health(context),
        ),
    )
    if http is None:
        registry.closers.append(client.aclose)


TRIAL_EXPIRY_JOB = "trials.expire"


def trial_expiry_job(context: WorkerContext) -> JobBody:
    """Ends trials whose time has passed: each due minute, at most once across workers (the
    job claim), and each trial once even if two runs overlap (the trial claim)."""
    trials = Trials(
        lambda: PostgresUnitOfWork(context.db),
        context.clock,
        webhook_attempts=context.settings.webhook_attempts,
    )

    async def run(due: datetime) -> None:
        await trials.expire(context.clock.today())

    return run


SANDBOX_CLOCKS_JOB = "sandbox.clocks"


def sandbox_clocks_job(context: WorkerContext) -> JobBody:
    """The time-driven jobs of each sandbox whose test clock is ahead, on its own clock and
    scoped to it (docs/test-clock.md); the jobs above serve real time."""
    sandbox = SandboxTime(context.db, context.settings, context.clock)

    async def run(due: datetime) -> None:
        await sandbox.sweep()

    return run


TRANSFERS_JOB = "transfers.apply_due"


def transfers_job(context: WorkerContext) -> JobBody:
    """Applies channel transfers whose moment has come (docs/partners.md): each due minute,
    at most once across workers, each transfer once (claimed with SKIP LOCKED)."""
    apply_due = ApplyDueTransfers(lambda: PostgresUnitOfWork(context.db), context.clock)

    async def run(due: datetime) -> None:
        await apply_due()

    return run


TRIAL_ENDING_SOON_JOB = "emails.trial_ending_soon"
SUBSCRIPTION_EXPIRING_JOB = "emails.subscription_expiring"
INSTANCES_STOPPED_SYNCING_JOB = "emails.instances_stopped_syncing"


def reminders(context: WorkerContext) -> Reminders:
    settings = context.settings
    return Reminders(
        lambda: PostgresUnitOfWork(context.db),
        context.clock,
        ReminderSettings(
            trial_ending_days=settings.mail_trial_ending_days,
            subscription_expiring_days=settings.mail_subscription_expiring_days,
            max_attempts=settings.ledger_max_attempts,
            instance_stale_days=settings.instance_stale_days,
        ),
    )


def register_reminders(registry: WorkerRegistry, context: WorkerContext) -> None:
    """The reminder emails: sweeps of everything inside their window not told yet, so a
    missed run is caught up by the next; each email once per subject (its ``once`` key)."""
    jobs = reminders(context)
    every = timedelta(seconds=context.settings.mail_reminders_every_seconds)

    async def trials_ending(due: datetime) -> None:
        await jobs.trials_ending_soon()

    async def subscriptions_expiring(due: datetime) -> None:
        await jobs.subscriptions_expiring()

    async def instances_stopped_syncing(due: datetime) -> None:
        await jobs.instances_stopped_syncing()

    registry.register_job(TRIAL_ENDING_SOON_JOB, every, trials_ending)
    registry.register_job(SUBSCRIPTION_EXPIRING_JOB, every, subscriptions_expiring)
    registry.register_job(INSTANCES_STOPPED_SYNCING_JOB, every, instances_stopped_syncing)


def register_outbound(registry: WorkerRegistry, context: WorkerContext) -> None:
    """EMAIL (SMTP when SMTP_URL is set, else .eml files), and NAMESPACE_PROVISION when
    GITLAB_COM_URL is set (without it those rows wait, PENDING, for a worker that has it)."""
    settings = context.settings

    parsed: list[KeyRing] = []

    def stamp(pairs: Iterable[tuple[str, object]]) -> frozenset[tuple[str, object]]:
        return frozenset(pairs)

    async def keys() -> KeyRing:
        # Checked each call: a rotation by any process is used at once (one small query).
        # Parsing a private key costs tens of ms, so the ring is parsed again only when the
        # stored kids or their retirement changed.
        async with context.db.pool.acquire() as connection:
            rows = await connection.fetch("SELECT kid, retired_at FROM auth_signing_key")
            now = stamp((r["kid"], r["retired_at"]) for r in rows)
            cached = parsed[0] if parsed else None
            if (
                cached is not None
                and stamp((k.kid, k.retired_at) for k in cached.keys) == now
                and any(k.retired_at is None for k in cached.keys)
            ):
                return cached
            ring = await load(connection)  # type: ignore[arg-type]
            if not any(k.retired_at is None for k in ring.keys):
                ring = await load_or_create(connection, context.clock.now())  # type: ignore[arg-type]
            parsed[:] = [ring]
            return ring

    async def save(event: ProvisionEvent) -> bool:
        return await save_payload(context.db, event)

    async def key_of(license_id: uuid.UUID) -> str | None:
        return await license_key(context.db, license_id)

    transport: Transport = (
        SmtpTransport(parse_smtp_url(settings.smtp_url), settings.worker_http_timeout_seconds)
        if settings.smtp_url
        else DirectoryTransport(settings.mail_dir)
    )
    registry.register(
        EMAIL_KIND,
        email_handler(
            template_environment(), transport, settings.mail_from, key_of, save, context.clock
        ),
    )
    if settings.gitlab_com_url:
        registry.register(
            NAMESPACE_PROVISION,
            namespace_provision_handler(
                context.http, settings.gitlab_com_url, settings.issuer, keys, save, context.clock
            ),
        )


def marketplace_apply(context: WorkerContext) -> ApplyMarketplaceOrder:
    """The intake use case as the worker runs it, on the context's database."""
    settings, clock = context.settings, context.clock

    def unit_of_work() -> PostgresUnitOfWork:
        # Inside the event's link session the use cases join its transaction: one BEGIN and
        # COMMIT per event, and the subscription, the link and the inbox outcome commit
        # together (docs/marketplaces.md). The session makes the event happen once (the
        # inbox row checked under its lock, settled in its transaction), so the use cases'
        # idempotency keys keep no record.
        return JoiningUnitOfWork(context.db, keys_kept_by_caller=True)

    return ApplyMarketplaceOrder(
        unit_of_work,
        clock,
        PostgresMarketplaceLinks(context.db, clock),
        create=CreateSubscriptionHandler(
            unit_of_work,
            clock,
            max_attempts=settings.ledger_max_attempts,
            webhook_attempts=settings.webhook_attempts,
        ),
        change=ChangeSubscriptionHandler(unit_of_work, clock),
        cancel=CancelSubscriptionHandler(unit_of_work, clock, settings.webhook_attempts),
        renew=RenewSubscriptionHandler(unit_of_work, clock),
        link_namespace=LinkNamespaceHandler(unit_of_work, clock, settings.ledger_max_attempts),
    )


def register_marketplaces(registry: WorkerRegistry, context: WorkerContext) -> None:
    """MARKETPLACE_EVENT: stored marketplace events applied through the subscription use
    cases (docs/marketplaces.md); AWS and Azure only when their URLs are set."""
    settings, clock = context.settings, context.clock
    apply = marketplace_apply(context)
    peers: dict[Marketplace, MarketplacePeer] = {Marketplace.STRIPE: StripePeer()}
    if settings.aws_marketplace_url:
        peers[Marketplace.AWS] = AwsPeer(
            AwsMarketplaceClient(
                context.http, settings.aws_marketplace_url, settings.aws_marketplace_token
            )
        )
    after: dict[Marketplace, AfterApplied] = {}
    azure = configured_client(
        context.http,
        clock,
        settings.azure_marketplace_url,
        settings.azure_token_url,
        settings.azure_client_id,
        settings.azure_client_secret,
    )
    if azure is not None:
        azure_peer = AzurePeer(azure)
        peers[Marketplace.AZURE] = azure_peer
        after[Marketplace.AZURE] = azure_peer.after_applied
    inbox = PostgresMarketplaceInbox(context.db, clock, settings.ledger_max_attempts)
    registry.register(
        MARKETPLACE_EVENT_KIND, marketplace_event_handler(inbox.get, peers, apply, after)
    )


DEDICATED_SWEEP_JOB = "dedicated.sweep"


def register_dedicated(registry: WorkerRegistry, context: WorkerContext) -> None:
    """DEDICATED_TENANT steps when PROVISION_DEDICATED_PROVISIONER_URL is set (without it the
    rows wait, PENDING), and the sweep of renewals and cancellations (docs/dedicated.md)."""
    settings = context.settings
    dedicated = DedicatedSettings(
        max_attempts=settings.ledger_max_attempts, renewal_days=settings.dedicated_renewal_days
    )

    def unit_of_work() -> PostgresUnitOfWork:
        return PostgresUnitOfWork(context.db)

    sweeps = TenantSweeps(unit_of_work, context.clock, dedicated)

    async def sweep(due: datetime) -> None:
        await sweeps()

    registry.register_job(DEDICATED_SWEEP_JOB, timedelta(minutes=1), sweep)
    if settings.dedicated_provisioner_url:
        provisioner = HttpTenantProvisioner(
            context.http, settings.dedicated_provisioner_url, settings.dedicated_provisioner_token
        )
        signer = DatabaseLicenseSigner(lambda: context.db.pool, context.clock.now)
        registry.register(
            DEDICATED_TENANT_KIND,
            DedicatedSteps(unit_of_work, provisioner, signer, context.clock, dedicated),
        )


async def run_worker(
    settings: Settings, dsn: str, stop: asyncio.Event | None = None, *, clock: Clock | None = None
) -> None:
    """Run one worker until SIGTERM/SIGINT (or ``stop``), then stop gracefully. Every time it
    reads or writes comes from ``clock`` (the system clock unless given)."""
    stop = stop or asyncio.Event()
    # httpx logs every request's URL at INFO; a webhook URL is a secret, and 1 line per step
    # is noise. Outcomes are logged by the worker itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    config = worker_config(settings)
    tracing = start_tracing("provision-worker")
    stop_metrics = None
    if settings.worker_metrics_port:
        address = f"{settings.host}:{settings.worker_metrics_port}"
        try:
            _, stop_metrics = serve_process_metrics(
                settings.host, settings.worker_metrics_port, settings.metrics_token
            )
        except OSError as error:
            raise SystemExit(
                f"PROVISION_WORKER_METRICS_PORT: cannot listen on {address}: {error.strerror}"
            ) from None
        print(f"worker metrics on http://{address}/metrics", file=sys.stderr, flush=True)
    db = Database(dsn, pool_min=1, pool_max=config.concurrency + 4)
    await db.start()
    pool_sampler = asyncio.create_task(sample_pool_periodically("worker", lambda: db.engine.pool))
    timeout = httpx.Timeout(settings.worker_http_timeout_seconds, connect=5.0)
    limits = httpx.Limits(max_connections=config.concurrency * 2)
    try:
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
            context = WorkerContext(db, http, settings, clock or SystemClock(), config)
            worker = Worker(
                PostgresLedger(db, context.clock),
                PostgresScheduledJobRuns(db, context.clock),
                build_registry(context),
                config,
                context.clock,
                follow_ups=transition_webhooks(db, context.clock, settings),
            )
            print(
                f"worker {worker.owner} started: kinds {sorted(worker.registry.handlers)},"
                f" concurrency {config.concurrency}",
                file=sys.stderr,
                flush=True,
            )
            try:
                await worker.run(stop)
            finally:
                for close in worker.registry.closers:
                    await close()
            print(
                f"worker {worker.owner} stopped: ran {worker.steps_run} steps",
                file=sys.stderr,
                flush=True,
            )
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        pool_sampler.cancel()
        if stop_metrics is not None:
            stop_metrics()
        await db.stop()
        process_exited()
        if tracing is not None:
            tracing.stop()
