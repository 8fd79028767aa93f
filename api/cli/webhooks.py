"""``provision webhooks list|create|disable|enable|deliveries|resend``: staff's hands on the
webhook endpoints, through the same use cases as the GraphQL mutations (audited as the CLI),
taking and showing the ids the API shows (``whe_…``, ``whd_…``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from api.cli.support import database
from api.ids import global_id, parse_typed_id
from api.settings import Settings
from domain.errors import DomainError
from domain.model.webhook import WebhookDelivery, WebhookEndpoint, WebhookEventType
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.webhooks import CreateWebhookEndpoint, UpdateWebhookEndpoint, WebhookEndpoints
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.migrations import migrate
from persistence.repositories import PostgresWebhookDeliveries, PostgresWebhookEndpoints
from persistence.unit_of_work import PostgresUnitOfWork

T = TypeVar("T")
CLI = Principal(PrincipalKind.STAFF, subject="cli:webhooks", scopes=grantable(PrincipalKind.STAFF))
STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "DEAD", "RESOLVED")


def add_webhooks_parser(commands: Any) -> None:
    webhooks = commands.add_parser(
        "webhooks", help="webhook endpoints and their deliveries (staff)"
    ).add_subparsers(dest="webhooks_command", required=True)
    listing = webhooks.add_parser("list", help="every endpoint")
    listing.add_argument("--json", action="store_true", help="a JSON array of objects")
    create = webhooks.add_parser("create", help="register an endpoint; prints its secret once")
    create.add_argument("--url", required=True, help="https://… (http only to loopback in dev)")
    create.add_argument(
        "--event",
        action="append",
        required=True,
        help="an event type (subscription.created or SUBSCRIPTION_CREATED); repeat for more",
    )
    create.add_argument("--customer", help="the customer's id (cus_…); none: a global endpoint")
    create.add_argument("--description", default="", help="a note")
    for name, what in (("disable", "stop sending to"), ("enable", "send again to")):
        toggle = webhooks.add_parser(name, help=f"{what} an endpoint")
        toggle.add_argument("endpoint", help="whe_…")
    deliveries = webhooks.add_parser("deliveries", help="an endpoint's deliveries, newest first")
    deliveries.add_argument("endpoint", help="whe_…")
    deliveries.add_argument("--status", choices=STATUSES, help="only these")
    deliveries.add_argument("--first", type=int, default=20, help="how many (20; at most 100)")
    deliveries.add_argument("--json", action="store_true", help="a JSON array of objects")
    resend = webhooks.add_parser("resend", help="send a delivery again (same webhook-id)")
    resend.add_argument("delivery", help="whd_…")


def _endpoint_row(endpoint: WebhookEndpoint) -> dict[str, object]:
    owner = (
        global_id("Customer", endpoint.customer_id)
        if endpoint.customer_id
        else f"partner:{endpoint.partner_id}"
        if endpoint.partner_id
        else "global"
    )
    return {
        "id": global_id("WebhookEndpoint", endpoint.id),
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "owner": owner,
        "eventTypes": [t.value for t in endpoint.event_types],
        "description": endpoint.description,
    }


def _delivery_row(delivery: WebhookDelivery) -> dict[str, object]:
    return {
        "id": global_id("WebhookDelivery", delivery.id),
        "status": delivery.status,
        "eventType": delivery.event_type,
        "eventId": delivery.webhook_id,
        "responseCode": delivery.status_code,
        "latencyMs": delivery.latency_ms,
        "attempts": delivery.attempts,
        "nextAttemptAt": delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None,
        "createdAt": delivery.created_at.isoformat(),
        "lastError": delivery.last_error,
    }


def _event_type(value: str) -> str:
    try:
        return WebhookEventType(value).value
    except ValueError:
        try:
            return WebhookEventType[value.upper()].value
        except KeyError:
            known = ", ".join(t.value for t in WebhookEventType)
            raise DomainError(f"unknown event type {value!r} (known: {known})") from None


def _print_table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> None:
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def webhooks_cli(settings: Settings, args: argparse.Namespace) -> int:
    """Run one ``provision webhooks`` command; 0, or 2 with the reason on stderr."""

    async def on_database(work: Callable[[Database, WebhookEndpoints], Awaitable[T]]) -> T:
        with database(settings) as dsn:
            await migrate(dsn)
            db = Database(dsn, pool_min=1, pool_max=2)
            await db.start()
            try:
                endpoints = WebhookEndpoints(
                    lambda: PostgresUnitOfWork(db),
                    SystemClock(),
                    allow_http_loopback=settings.webhooks_allow_http_loopback,
                    delivery_attempts=settings.webhook_attempts,
                )
                return await work(db, endpoints)
            finally:
                await db.stop()

    command = args.webhooks_command
    try:
        if command == "list":
            page = asyncio.run(
                on_database(
                    lambda db, _: PostgresWebhookEndpoints(db).visible_to(CLI, 10_000, None)
                )
            )
            rows = [_endpoint_row(e) for e in page.items]
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                _print_table(rows, ("id", "enabled", "owner", "url"))
            return 0
        if command == "create":
            customer = (
                parse_typed_id(args.customer, "Customer", path=("customer",))
                if args.customer
                else None
            )
            wanted = CreateWebhookEndpoint(
                url=args.url,
                event_types=tuple(_event_type(e) for e in args.event),
                description=args.description,
                customer_id=customer,
            )
            created = asyncio.run(on_database(lambda _, uc: uc.create(CLI, wanted)))
            print(f"id: {global_id('WebhookEndpoint', created.endpoint.id)}")
            print(f"secret: {created.secret}  (shown once: verify deliveries with it)")
            return 0
        if command in ("disable", "enable"):
            endpoint_id = parse_typed_id(args.endpoint, "WebhookEndpoint", path=("endpoint",))
            change = UpdateWebhookEndpoint(endpoint_id, enabled=command == "enable")
            changed = asyncio.run(on_database(lambda _, uc: uc.update(CLI, change)))
            state = "enabled" if changed.enabled else "disabled"
            print(f"{global_id('WebhookEndpoint', changed.id)} {state}")
            return 0
        if command == "deliveries":
            endpoint_id = parse_typed_id(args.endpoint, "WebhookEndpoint", path=("endpoint",))
            first = max(0, min(args.first, 100))

            async def listed(db: Database, uc: WebhookEndpoints) -> list[WebhookDelivery]:
                await uc.get(CLI, endpoint_id)  # NOT_FOUND for an unknown endpoint
                page = await PostgresWebhookDeliveries(db).for_endpoint(
                    endpoint_id, first, None, args.status
                )
                return page.items

            rows = [_delivery_row(d) for d in asyncio.run(on_database(listed))]
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                _print_table(
                    rows, ("id", "status", "responseCode", "attempts", "eventType", "createdAt")
                )
            return 0
        delivery_id = parse_typed_id(args.delivery, "WebhookDelivery", path=("delivery",))
        again = asyncio.run(on_database(lambda _, uc: uc.resend(CLI, delivery_id)))
        print(f"{global_id('WebhookDelivery', again.id)} PENDING (webhook-id {again.webhook_id})")
        return 0
    except DomainError as refused:
        print(f"provision webhooks {command}: {refused}", file=sys.stderr)
        return 2
