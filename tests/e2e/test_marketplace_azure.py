"""Azure-SaaS-Fulfillment-style intake end to end, against a fake Azure on 127.0.0.1 (its
token endpoint and Fulfillment API v2): the landing page's token resolved → a subscription,
then Activate on the marketplace; the webhook operations (ChangeQuantity, ChangePlan, Suspend,
Reinstate, Renew, Unsubscribe), each confirmed by Get Operation with our client-credentials
token and acknowledged where Azure expects it; forged, mismatched, unauthorized, duplicated
and reordered webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from api.worker.loop import Worker
from domain.model.enums import Deployment, Plan
from domain.model.marketplace import Marketplace
from persistence.database import Database

from clocks import SESSION_CLOCK
from marketplace_peers import (
    AZURE_CLIENT,
    AZURE_WEBHOOK_BEARER,
    MARKETPLACE_TABLES,
    FakeAzure,
    in_process_worker,
    map_offer,
    marketplace_settings,
    run_due,
    serving_azure,
)

SUB = "37f9dea2-4345-438f-b0bd-03d40d28c7e0"


@pytest.fixture(scope="module")
def azure_peer() -> Iterator[FakeAzure]:
    with serving_azure() as peer:
        yield peer


@pytest.fixture(scope="module")
def settings(
    database_url: str, azure_peer: FakeAzure, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return marketplace_settings(
        database_url,
        tmp_path_factory.mktemp("azure"),
        azure_marketplace_url=azure_peer.url,
        azure_token_url=f"{azure_peer.url}/token",
        azure_client_id=AZURE_CLIENT[0],
        azure_client_secret=AZURE_CLIENT[1],
        azure_webhook_bearer=AZURE_WEBHOOK_BEARER,
    )


@pytest.fixture(scope="module")
async def azure_app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings, clock=SESSION_CLOCK)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def world(
    azure_app: Starlette, azure_peer: FakeAzure, clean_db: Database, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeAzure, Worker]]:
    await clean_db.fetch(f"TRUNCATE {MARKETPLACE_TABLES}")
    azure_peer.reset()
    for plan_key, plan in (("ultimate-yearly", Plan.ULTIMATE), ("premium-yearly", Plan.PREMIUM)):
        await map_offer(
            clean_db,
            Marketplace.AZURE,
            "provision-saas",
            plan_key,
            plan=plan,
            deployment=Deployment.SELF_MANAGED,
        )
    transport = httpx.ASGITransport(app=azure_app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http,
        in_process_worker(settings, clean_db) as worker,
    ):
        yield http, azure_peer, worker


async def _hook(
    http: httpx.AsyncClient, body: dict[str, Any], bearer: str = AZURE_WEBHOOK_BEARER
) -> httpx.Response:
    return await http.post(
        "/marketplaces/azure/webhook", json=body, headers={"authorization": f"Bearer {bearer}"}
    )


async def _subscription(db: Database) -> Any:
    return await db.fetchrow(
        "SELECT s.channel, s.partner_id, s.plan, s.auto_renew, s.cancelled_at,"
        " (SELECT count(*) FROM subscription_segment g WHERE g.subscription = s.id) AS terms,"
        " (SELECT g.seats FROM subscription_segment g WHERE g.subscription = s.id"
        "  ORDER BY g.start_date LIMIT 1) AS seats FROM subscription s"
    )


async def _buy(http: httpx.AsyncClient, peer: FakeAzure, worker: Worker) -> None:
    peer.buyer_subscribes("landing-token/1+", SUB, "ultimate-yearly", 15)
    page = await http.get("/marketplaces/azure/landing", params={"token": "landing-token/1+"})
    assert page.status_code == 200, page.text
    await run_due(worker)


async def test_landing_resolves_activates_and_every_operation_applies(
    world: tuple[httpx.AsyncClient, FakeAzure, Worker], clean_db: Database
) -> None:
    http, peer, worker = world
    await _buy(http, peer, worker)
    sub = await _subscription(clean_db)
    assert (sub["channel"], sub["partner_id"], sub["plan"], sub["seats"]) == (
        "MARKETPLACE",
        "azure-marketplace",
        "ULTIMATE",
        15,
    )
    assert peer.activations == [(SUB, {"planId": "ultimate-yearly", "quantity": 15})]
    email = await clean_db.fetchval(
        "SELECT payload->>'to' FROM provision_event WHERE kind = 'EMAIL'"
    )
    assert email == "megan@contoso.test"

    now = SESSION_CLOCK.now()

    async def operate(action: str, op: str, minutes: int, **fields: Any) -> None:
        body = peer.operation(action, SUB, op, now + timedelta(minutes=minutes), **fields)
        answer = await _hook(http, body)
        assert answer.status_code == 200, answer.text
        await run_due(worker)

    await operate("ChangeQuantity", "op-1", 1, planId="ultimate-yearly", quantity=40)
    assert (await _subscription(clean_db))["seats"] == 40
    await operate("ChangePlan", "op-2", 2, planId="premium-yearly")
    assert ((await _subscription(clean_db))["plan"], (await _subscription(clean_db))["seats"]) == (
        "PREMIUM",
        40,
    )
    assert [(s, o, b) for s, o, b in peer.acknowledged] == [
        (SUB, "op-1", {"status": "Success"}),
        (SUB, "op-2", {"status": "Success"}),
    ]
    await operate("Suspend", "op-3", 3, planId="premium-yearly", quantity=40)
    assert (await _subscription(clean_db))["auto_renew"] is False
    await operate("Reinstate", "op-4", 4, planId="premium-yearly", quantity=40)
    assert (await _subscription(clean_db))["auto_renew"] is True
    await operate("Renew", "op-5", 5, planId="premium-yearly", quantity=40)
    assert (await _subscription(clean_db))["terms"] == 2
    await operate("Unsubscribe", "op-6", 6, planId="premium-yearly", quantity=40)
    assert (await _subscription(clean_db))["cancelled_at"] is not None
    # One client-credentials token for the app and one for the worker, each reused.
    assert peer.token_requests == 2
    states = await clean_db.fetch("SELECT DISTINCT state FROM marketplace_inbox")
    assert [r["state"] for r in states] == ["APPLIED"]


async def test_forged_mismatched_unauthorized_duplicated_and_reordered_webhooks(
    world: tuple[httpx.AsyncClient, FakeAzure, Worker], clean_db: Database
) -> None:
    http, peer, worker = world
    await _buy(http, peer, worker)
    now = SESSION_CLOCK.now()
    forged = {
        "id": "op-forged",
        "subscriptionId": SUB,
        "action": "Unsubscribe",
        "timeStamp": now.isoformat(),
    }
    assert (await _hook(http, forged)).status_code == 403  # Get Operation: 404
    real = peer.operation(
        "ChangeQuantity",
        SUB,
        "op-10",
        now + timedelta(minutes=2),
        planId="ultimate-yearly",
        quantity=30,
    )
    tampered = {**real, "quantity": 3000}
    assert (await _hook(http, tampered)).status_code == 403
    assert (await _hook(http, real, bearer="wrong")).status_code == 401
    unsigned = await http.post("/marketplaces/azure/webhook", json=real)
    assert unsigned.status_code == 401
    assert (await _hook(http, {"no": "id"})).status_code == 400
    assert await clean_db.fetchval("SELECT count(*) FROM marketplace_inbox") == 1  # the landing

    assert (await _hook(http, real)).status_code == 200
    duplicate = await _hook(http, real)
    assert duplicate.status_code == 200
    assert duplicate.json()["duplicate"] is True
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 30
    older = peer.operation(
        "ChangeQuantity",
        SUB,
        "op-9",
        now + timedelta(minutes=1),
        planId="ultimate-yearly",
        quantity=20,
    )
    assert (await _hook(http, older)).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 30
    stale = await clean_db.fetchval("SELECT state FROM marketplace_inbox WHERE message_id = 'op-9'")
    assert stale == "IGNORED_STALE"
    assert (await _subscription(clean_db))["cancelled_at"] is None


async def test_a_bad_landing_token_is_refused_and_an_unknown_plan_goes_dead(
    world: tuple[httpx.AsyncClient, FakeAzure, Worker], clean_db: Database
) -> None:
    http, peer, worker = world
    bad = await http.get("/marketplaces/azure/landing", params={"token": "never-issued"})
    assert bad.status_code == 400
    assert (await http.get("/marketplaces/azure/landing")).status_code == 400
    peer.buyer_subscribes("tok-x", SUB, "enterprise-plus", 5)
    assert (
        await http.get("/marketplaces/azure/landing", params={"token": "tok-x"})
    ).status_code == 200
    await run_due(worker)
    row = await clean_db.fetchrow(
        "SELECT status, last_error FROM provision_event WHERE kind = 'MARKETPLACE_EVENT'"
    )
    assert row is not None
    assert row["status"] == "DEAD"
    assert "'enterprise-plus'" in row["last_error"]
    assert peer.activations == []  # not billed for what we could not set up
