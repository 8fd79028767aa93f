"""Stripe-Billing-style intake end to end: signed ``customer.subscription.*`` events POSTed to
us (the test plays Stripe, signing as Stripe signs), applied by the worker: created → a
WEB_DIRECT subscription (GitLab.com here, waiting for its group) and the customer; updated →
new seats; deleted → cancelled; a duplicate id, a late older update, a forged or stale
signature, and an event for an unknown price."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from api.worker.loop import Worker
from api.worker.process import WorkerContext, marketplace_apply
from domain.model.enums import Deployment
from domain.model.marketplace import InboxState, Marketplace
from integrations.marketplaces.stripe import StripePeer, sign
from persistence.database import Database
from persistence.marketplace import PostgresMarketplaceInbox

import factories as f
from clocks import SESSION_CLOCK
from marketplace_peers import (
    MARKETPLACE_TABLES,
    in_process_worker,
    map_offer,
    marketplace_settings,
    run_due,
)

SECRET = "whsec_test_provision"


@pytest.fixture(scope="module")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return marketplace_settings(
        database_url, tmp_path_factory.mktemp("stripe"), stripe_webhook_secret=SECRET
    )


@pytest.fixture(scope="module")
async def stripe_app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings, clock=SESSION_CLOCK)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def world(
    stripe_app: Starlette, clean_db: Database, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Worker]]:
    await clean_db.fetch(f"TRUNCATE {MARKETPLACE_TABLES}")
    transport = httpx.ASGITransport(app=stripe_app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http,
        in_process_worker(settings, clean_db) as worker,
    ):
        yield http, worker


def event(
    event_id: str,
    kind: str,
    created: int,
    *,
    quantity: int = 5,
    price: str = "price_premium_yearly",
    status: str = "active",
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": {
            "object": {
                "id": "sub_1",
                "object": "subscription",
                "customer": "cus_1",
                "status": status,
                "cancel_at_period_end": False,
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": "si_1",
                            "quantity": quantity,
                            "price": {"id": price, "product": "prod_gitlab"},
                        }
                    ],
                },
                "metadata": {
                    "company": "Globex",
                    "contact_name": "Hank",
                    "contact_email": "hank@globex.test",
                },
            }
        },
    }


async def post(
    http: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    secret: str = SECRET,
    signed_at: int | None = None,
) -> httpx.Response:
    raw = orjson.dumps(body)
    header = sign(
        raw, secret, signed_at if signed_at is not None else int(SESSION_CLOCK.now().timestamp())
    )
    return await http.post(
        "/marketplaces/stripe/events",
        content=raw,
        headers={"stripe-signature": header, "content-type": "application/json"},
    )


async def _subscription(db: Database) -> Any:
    return await db.fetchrow(
        "SELECT s.channel, s.partner_id, s.plan, s.deployment, s.cancelled_at, g.seats,"
        " c.contact_email FROM subscription s JOIN subscription_segment g"
        " ON g.subscription = s.id JOIN customer c ON c.id = s.customer"
    )


async def test_created_updated_deleted_run_a_web_direct_subscription(
    world: tuple[httpx.AsyncClient, Worker], clean_db: Database
) -> None:
    http, worker = world
    await map_offer(
        clean_db,
        Marketplace.STRIPE,
        "prod_gitlab",
        "price_premium_yearly",
        deployment=Deployment.GITLAB_COM,
    )
    t = int(SESSION_CLOCK.now().timestamp())
    created = await post(http, event("evt_1", "customer.subscription.created", t))
    assert created.status_code == 200, created.text
    await run_due(worker)
    sub = await _subscription(clean_db)
    assert sub is not None
    assert dict(sub) | {"cancelled_at": None} == {
        "channel": "WEB_DIRECT",
        "partner_id": None,
        "plan": "ULTIMATE",
        "deployment": "GITLAB_COM",
        "cancelled_at": None,
        "seats": 5,
        "contact_email": "hank@globex.test",
    }

    updated = event("evt_2", "customer.subscription.updated", t + 10, quantity=12)
    assert (await post(http, updated)).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 12

    deleted = event("evt_3", "customer.subscription.deleted", t + 20, status="canceled")
    assert (await post(http, deleted)).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["cancelled_at"] is not None
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 1
    # Each change is in the audit chain, by the marketplace, in the event's transaction.
    audited = await clean_db.fetch(
        "SELECT action, actor_subject FROM audit_entry"
        " WHERE object_type = 'Subscription' ORDER BY chain, sequence"
    )
    assert sorted((r["action"], r["actor_subject"]) for r in audited) == [
        ("cancelSubscription", "marketplace:stripe"),
        ("changeSubscription", "marketplace:stripe"),
        ("createSubscription", "marketplace:stripe"),
    ]


async def test_duplicates_late_updates_forgeries_and_stale_signatures_change_nothing(
    world: tuple[httpx.AsyncClient, Worker], clean_db: Database
) -> None:
    http, worker = world
    await map_offer(clean_db, Marketplace.STRIPE, "prod_gitlab", "price_premium_yearly")
    t = int(SESSION_CLOCK.now().timestamp())
    # Stripe does not keep order: the update comes first, then the older created.
    newer = event("evt_b", "customer.subscription.updated", t + 10, quantity=9)
    older = event("evt_a", "customer.subscription.created", t, quantity=5)
    assert (await post(http, newer)).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 9
    assert (await post(http, older)).status_code == 200
    again = await post(http, newer)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 9
    states = await clean_db.fetch("SELECT message_id, state FROM marketplace_inbox ORDER BY 1")
    assert [(r["message_id"], r["state"]) for r in states] == [
        ("evt_a", "IGNORED_STALE"),
        ("evt_b", "APPLIED"),
    ]

    cancel = event("evt_c", "customer.subscription.deleted", t + 30, status="canceled")
    forged = await post(http, cancel, secret="whsec_someone_else")
    assert forged.status_code == 400
    stale = await post(http, cancel, signed_at=int(SESSION_CLOCK.now().timestamp()) - 301)
    assert stale.status_code == 400
    unsigned = await http.post("/marketplaces/stripe/events", content=orjson.dumps(cancel))
    assert unsigned.status_code == 400
    await run_due(worker)
    assert (await _subscription(clean_db))["cancelled_at"] is None
    assert await clean_db.fetchval("SELECT count(*) FROM marketplace_inbox") == 2


async def test_an_unknown_price_or_a_malformed_event_goes_dead_with_its_reason(
    world: tuple[httpx.AsyncClient, Worker], clean_db: Database
) -> None:
    http, worker = world
    t = int(SESSION_CLOCK.now().timestamp())
    unknown = event("evt_u", "customer.subscription.created", t, price="price_nobody_mapped")
    malformed = event("evt_m", "customer.subscription.created", t)
    malformed["data"]["object"]["id"] = "sub_2"
    del malformed["data"]["object"]["items"]
    for body in (unknown, malformed):
        assert (await post(http, body)).status_code == 200
    other = {"id": "evt_o", "type": "invoice.paid", "created": t, "data": {"object": {}}}
    assert (await post(http, other)).json()["ignored"] is True
    await run_due(worker)
    rows = await clean_db.fetch(
        "SELECT status, attempts, last_error FROM provision_event"
        " WHERE kind = 'MARKETPLACE_EVENT' ORDER BY last_error"
    )
    assert [(r["status"], r["attempts"]) for r in rows] == [("DEAD", 1), ("DEAD", 1)]
    errors = sorted(r["last_error"] for r in rows)
    assert "no item with a price" in errors[0]
    assert "unknown offer" in errors[1]
    assert "'price_nobody_mapped'" in errors[1]
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 0


async def test_a_gitlab_com_purchase_links_the_chosen_group_and_provisions_it(
    world: tuple[httpx.AsyncClient, Worker], clean_db: Database
) -> None:
    http, worker = world
    await map_offer(
        clean_db, Marketplace.STRIPE, "prod_gitlab", "price_premium_yearly",
        deployment=Deployment.GITLAB_COM,
    )  # fmt: skip
    t = int(SESSION_CLOCK.now().timestamp())
    body = event("evt_ns", "customer.subscription.created", t)
    body["data"]["object"]["metadata"]["gitlab_namespace_id"] = "4242"
    assert (await post(http, body)).status_code == 200
    row_id = await clean_db.fetchval(
        "SELECT id FROM provision_event WHERE kind = 'MARKETPLACE_EVENT'"
    )
    first = await worker.run_now(row_id, 30)
    # GitLab.com has not told us of the group yet: the row retries (it is not DEAD).
    assert first is not None
    assert first.status.value == "FAILED"
    assert "4242 is not known here yet" in (first.last_error or "")
    await f.store(clean_db, f.namespace(4242))
    again = await worker.run_now(row_id, 30)
    assert again is not None
    assert again.status.value == "SUCCEEDED"
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 1
    provision = await clean_db.fetchrow(
        "SELECT payload FROM provision_event WHERE kind = 'NAMESPACE_PROVISION'"
    )
    assert provision is not None
    sent = orjson.loads(provision["payload"])
    assert sent["namespace"] == 4242
    assert (
        sent["provision"]["base_product"]["plan_code"],
        sent["provision"]["base_product"]["seats"],
    ) == ("ultimate", 5)
    linked = await clean_db.fetchval(
        "SELECT n.gitlab_id FROM subscription s JOIN namespace n ON n.id = s.namespace"
    )
    assert linked == 4242


async def test_an_event_and_what_it_changed_commit_together(
    world: tuple[httpx.AsyncClient, Worker], clean_db: Database
) -> None:
    """One transaction per event: an attempt that fails after the subscription was created
    (the buyer's group is not known yet) leaves no customer and no subscription behind, and
    the retry creates them once, with the inbox row settled in the same commit."""
    http, worker = world
    await map_offer(
        clean_db, Marketplace.STRIPE, "prod_gitlab", "price_premium_yearly",
        deployment=Deployment.GITLAB_COM,
    )  # fmt: skip
    t = int(SESSION_CLOCK.now().timestamp())
    body = event("evt_atomic", "customer.subscription.created", t)
    body["data"]["object"]["metadata"]["gitlab_namespace_id"] = "4343"
    assert (await post(http, body)).status_code == 200
    row_id = await clean_db.fetchval(
        "SELECT id FROM provision_event WHERE kind = 'MARKETPLACE_EVENT'"
    )
    first = await worker.run_now(row_id, 30)
    assert first is not None
    assert first.status.value == "FAILED"
    left = await clean_db.fetchrow(
        "SELECT (SELECT count(*) FROM subscription) AS subscriptions,"
        " (SELECT count(*) FROM customer) AS customers,"
        " (SELECT count(*) FROM audit_entry WHERE action = 'createSubscription') AS audits,"
        " (SELECT count(*) FROM marketplace_link) AS links,"
        " (SELECT state FROM marketplace_inbox) AS state"
    )
    assert dict(left) == {
        "subscriptions": 0, "customers": 0, "audits": 0, "links": 0, "state": "RECEIVED"
    }  # fmt: skip
    await f.store(clean_db, f.namespace(4343))
    again = await worker.run_now(row_id, 30)
    assert again is not None
    assert again.status.value == "SUCCEEDED"
    settled = await clean_db.fetchrow(
        "SELECT (SELECT count(*) FROM subscription) AS subscriptions,"
        " (SELECT count(*) FROM marketplace_link) AS links,"
        " (SELECT state FROM marketplace_inbox) AS state"
    )
    assert dict(settled) == {"subscriptions": 1, "links": 1, "state": "APPLIED"}


async def test_a_second_attempt_of_an_applied_event_does_nothing_more(
    world: tuple[httpx.AsyncClient, Worker], clean_db: Database, settings: Settings
) -> None:
    """Two attempts of one row (the first's lease ran out while it waited): both read the
    inbox row RECEIVED, the second takes the lock after the first committed. It finds the
    row settled under the lock and changes nothing - no idempotency record is needed."""
    http, worker = world
    await map_offer(clean_db, Marketplace.STRIPE, "prod_gitlab", "price_premium_yearly")
    t = int(SESSION_CLOCK.now().timestamp())
    assert (await post(http, event("evt_c", "customer.subscription.created", t))).status_code == 200
    await run_due(worker)
    entry = await PostgresMarketplaceInbox(clean_db, SESSION_CLOCK, 8).get(
        await clean_db.fetchval("SELECT id FROM marketplace_inbox WHERE message_id = 'evt_c'")
    )
    assert entry is not None
    newer = event("evt_u", "customer.subscription.updated", t + 10, quantity=7)
    assert (await post(http, newer)).status_code == 200
    await run_due(worker)

    entry = replace(entry, state=InboxState.RECEIVED)  # what the late attempt read first
    async with httpx.AsyncClient() as client:
        context = WorkerContext(clean_db, client, settings, SESSION_CLOCK, worker.config)
        again = await marketplace_apply(context)(entry.id, await StripePeer().order(entry))
    assert again.state is InboxState.APPLIED
    states = await clean_db.fetch("SELECT message_id, state FROM marketplace_inbox ORDER BY 1")
    assert [(r["message_id"], r["state"]) for r in states] == [
        ("evt_c", "APPLIED"),
        ("evt_u", "APPLIED"),
    ]
    assert (await _subscription(clean_db))["seats"] == 7
    counts = await clean_db.fetchrow(
        "SELECT (SELECT count(*) FROM subscription) AS subscriptions,"
        " (SELECT count(*) FROM idempotency_record) AS records,"
        " (SELECT count(*) FROM audit_entry WHERE object_type = 'Subscription'"
        "  AND idempotency_key LIKE 'marketplace:%') AS audited"
    )
    assert dict(counts) == {"subscriptions": 1, "records": 0, "audited": 2}


async def test_a_second_subscription_of_the_same_stripe_customer_has_the_same_customer(
    world: tuple[httpx.AsyncClient, Worker], clean_db: Database
) -> None:
    http, worker = world
    await map_offer(clean_db, Marketplace.STRIPE, "prod_gitlab", "price_premium_yearly")
    t = int(SESSION_CLOCK.now().timestamp())
    first = event("evt_s1", "customer.subscription.created", t)
    second = event("evt_s2", "customer.subscription.created", t + 5)
    second["data"]["object"]["id"] = "sub_2"
    second["data"]["object"]["metadata"]["company"] = "Globex again"
    other = event("evt_s3", "customer.subscription.created", t + 5)
    other["data"]["object"] |= {"id": "sub_3", "customer": "cus_other"}
    for body in (first, second, other):
        assert (await post(http, body)).status_code == 200
        await run_due(worker)
    rows = await clean_db.fetch(
        "SELECT l.subscription_key, s.customer FROM marketplace_link l"
        " JOIN subscription s ON s.id = l.subscription_id ORDER BY 1"
    )
    owner = {r["subscription_key"]: r["customer"] for r in rows}
    assert owner["sub_1"] == owner["sub_2"] != owner["sub_3"]
    assert await clean_db.fetchval("SELECT count(*) FROM customer") == 2
