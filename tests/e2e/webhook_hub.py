"""A scriptable webhook receiver on a real socket (uvicorn in a thread) and an in-process
delivery worker on the real ledger, for the delivery tests and the bench.

The receiver verifies every request with the ``standardwebhooks`` package (an independent
implementation) and answers what ``answer`` says; the worker is the real ``Worker`` with the
real WEBHOOK_DELIVERY handler (SSRF-guarded client, results, endpoint health) on a
FixedClock the test moves past backoff waits, so retries cost no waiting."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.worker.loop import Worker, WorkerConfig, WorkerRegistry
from domain.model.webhook import (
    WEBHOOK_DELIVERY_KIND,
    WebhookEndpoint,
    WebhookEventType,
    new_secret,
)
from domain.use_cases.webhooks import EndpointHealth
from integrations.webhooks.delivery import webhook_delivery_handler
from integrations.webhooks.egress import Resolve, guarded_client, system_resolve
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.repositories import PostgresWebhookDeliveries, PostgresWebhookEndpoints
from persistence.unit_of_work import PostgresUnitOfWork

from fakes import FixedClock
from ledger_peer import free_port

Answer = Callable[[str, int], tuple[int, dict[str, str]]]
"""(path, the request's number, from 1) → (status, headers)."""


@dataclass
class Received:
    path: str
    webhook_id: str
    verified: dict[str, Any] | None
    refusal: str | None
    status: int


@dataclass
class Hub:
    url: str
    secret: str | None = None
    answer: Answer = lambda path, n: (204, {})
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self, secret: str | None = None, answer: Answer | None = None) -> None:
        with self._lock:
            self.received.clear()
            self.secret = secret
            self.answer = answer or (lambda path, n: (204, {}))

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    def accepted_ids(self) -> Counter[str]:
        return Counter(r.webhook_id for r in self.accepted())


def _app(hub: Hub) -> Starlette:
    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        verified: dict[str, Any] | None = None
        refusal: str | None = None
        try:
            assert hub.secret is not None, "the test did not give the hub its secret"
            verified = Webhook(hub.secret).verify(body, headers)
        except WebhookVerificationError as error:
            refusal = str(error)
        with hub._lock:
            number = len(hub.received) + 1
            status, extra = (400, {}) if refusal else hub.answer(request.url.path, number)
            hub.received.append(
                Received(request.url.path, headers.get("webhook-id", ""), verified, refusal, status)
            )
        return Response(status_code=status, headers=extra)

    return Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])


@contextmanager
def serving_hub() -> Iterator[Hub]:
    port = free_port()
    hub = Hub(url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        _app(hub),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        backlog=2048,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the webhook hub did not start"
        time.sleep(0.02)
    try:
        yield hub
    finally:
        server.should_exit = True
        thread.join(timeout=10)


CONFIG = WorkerConfig(
    concurrency=16,
    lease=timedelta(seconds=60),
    poll_seconds=0.05,
    grace_seconds=1,
    max_attempts=3,
    backoff_base=timedelta(seconds=1),
    backoff_max=timedelta(seconds=1),
)


@dataclass
class DeliveryWorker:
    """The delivery handler on the real ledger, run one claim round at a time."""

    db: Database
    clock: FixedClock
    worker: Worker
    close: Callable[[], Any]

    async def round(self) -> int:
        """Claim what is due, run it to its outcome; the number of rows run."""
        _, claimed = await self.worker.tick()
        await self.worker.drain()
        return claimed

    async def until_settled(
        self, *, step: timedelta = timedelta(seconds=1), rounds: int = 5000
    ) -> None:
        """Rounds until no delivery is PENDING, RUNNING or FAILED, moving the clock past each
        backoff wait (no real waiting)."""
        for _ in range(rounds):
            await self.round()
            open_rows = await self.db.fetchval(
                "SELECT count(*) FROM provision_event WHERE kind = 'WEBHOOK_DELIVERY'"
                " AND status IN ('PENDING', 'RUNNING', 'FAILED')"
            )
            if not open_rows:
                return
            self.clock.advance(step)
        raise AssertionError("the deliveries did not settle")


@asynccontextmanager
async def delivery_worker(
    db: Database,
    clock: FixedClock,
    *,
    allow_loopback: bool = True,
    resolve: Resolve = system_resolve,
    threshold: int = 10,
    staff_email: str | None = None,
    config: WorkerConfig = CONFIG,
) -> AsyncIterator[DeliveryWorker]:
    http = guarded_client(
        allow_loopback=allow_loopback,
        timeout=5.0,
        max_connections=config.concurrency * 2,
        resolve=resolve,
    )
    registry = WorkerRegistry()
    health = EndpointHealth(
        lambda: PostgresUnitOfWork(db), clock, threshold=threshold, staff_email=staff_email
    )
    registry.register(
        WEBHOOK_DELIVERY_KIND,
        webhook_delivery_handler(
            http,
            PostgresWebhookEndpoints(db).get,
            clock,
            record_result=PostgresWebhookDeliveries(db).record_result,
            health=health,
        ),
    )
    worker = Worker(
        PostgresLedger(db, clock),
        PostgresScheduledJobRuns(db, clock),
        registry,
        config,
        clock,
        owner=f"test:{uuid.uuid4().hex[:8]}",
        random_source=lambda: 0.999,
    )
    try:
        yield DeliveryWorker(db, clock, worker, http.aclose)
    finally:
        await http.aclose()


async def add_endpoint(
    db: Database,
    url: str,
    clock: FixedClock,
    *,
    customer_id: uuid.UUID | None = None,
    types: tuple[WebhookEventType, ...] = tuple(WebhookEventType),
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url=url,
        event_types=types,
        secret=new_secret(),
        created_at=clock.now(),
        customer_id=customer_id,
    )
    await PostgresWebhookEndpoints(db).add(endpoint)
    return endpoint
