"""AWS-Marketplace-style intake end to end, against a fake AWS on 127.0.0.1: the buyer's form
POST → ResolveCustomer → GetEntitlements → a self-managed subscription whose activation code
arrives by email (SMTP on a real socket); entitlement-updated → new seats and a new license on
the next seat link; unsubscribe-success → cancelled; duplicated, reordered, forged and
stale-signed notifications, and an unknown offer (DEAD, an alert, retried by staff)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.ids import global_id
from api.settings import Settings
from api.worker.loop import Worker
from domain.model.marketplace import Marketplace
from persistence.database import Database

from bearer import bearer, token_for
from clocks import SESSION_CLOCK
from mail_peer import MailPeer, serving_smtp
from marketplace_peers import (
    AWS_TOKEN,
    MARKETPLACE_TABLES,
    PRODUCT,
    FakeAws,
    _key_and_cert,
    in_process_worker,
    map_offer,
    marketplace_settings,
    run_due,
    serving_aws,
)
from seat_link_flow import INSTANCE

ACTIVATE = """mutation($input: ActivateSubscriptionInput!) { activateSubscription(input: $input) {
  licenseKey errors { code message } } }"""
RETRY = """mutation($input: RetryProvisionEventInput!) { retryProvisionEvent(input: $input) {
  errors { code } } }"""


@pytest.fixture(scope="module")
def aws_peer() -> Iterator[tuple[FakeAws, bytes]]:
    with serving_aws() as served:
        yield served


@pytest.fixture(scope="module")
def module_smtp() -> Iterator[MailPeer]:
    with serving_smtp() as peer:
        yield peer


@pytest.fixture(scope="module")
def settings(
    database_url: str,
    aws_peer: tuple[FakeAws, bytes],
    module_smtp: MailPeer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    peer, cert = aws_peer
    tmp = tmp_path_factory.mktemp("aws")
    (tmp / "sns.pem").write_bytes(cert)
    return marketplace_settings(
        database_url,
        tmp,
        aws_marketplace_url=peer.url,
        aws_marketplace_token=AWS_TOKEN,
        aws_marketplace_sns_cert=tmp / "sns.pem",
        smtp_url=module_smtp.url,
    )


@pytest.fixture(scope="module")
async def aws_app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings, clock=SESSION_CLOCK)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def world(
    aws_app: Starlette,
    aws_peer: tuple[FakeAws, bytes],
    module_smtp: MailPeer,
    clean_db: Database,
    settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeAws, MailPeer, Worker]]:
    await clean_db.fetch(f"TRUNCATE {MARKETPLACE_TABLES}")
    peer = aws_peer[0]
    peer.reset()
    module_smtp.reset()
    transport = httpx.ASGITransport(app=aws_app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http,
        in_process_worker(settings, clean_db) as worker,
    ):
        yield http, peer, module_smtp, worker


async def _register(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(
        "/marketplaces/aws/fulfillment",
        data={
            "x-amzn-marketplace-token": token,
            "company": "Initech",
            "contact_name": "Peter",
            "contact_email": "peter@initech.test",
        },
    )


async def _notify(http: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await http.post(
        "/marketplaces/aws/notifications", content=body, headers={"content-type": "text/plain"}
    )


async def _subscription(db: Database) -> Any:
    return await db.fetchrow(
        "SELECT s.id, s.channel, s.partner_id, s.plan, s.cancelled_at, g.seats FROM subscription s"
        " JOIN subscription_segment g ON g.subscription = s.id"
    )


async def test_a_purchase_becomes_a_subscription_whose_code_arrives_by_email_then_changes_and_ends(
    world: tuple[httpx.AsyncClient, FakeAws, MailPeer, Worker],
    clean_db: Database,
    aws_app: Starlette,
) -> None:
    http, peer, smtp, worker = world
    await map_offer(clean_db, Marketplace.AWS, PRODUCT, "users")
    peer.buyer_subscribes("tok-1", "111122223333", 20, "users")

    # The browser first posts the token alone: we ask who they are.
    first = await http.post(
        "/marketplaces/aws/fulfillment", data={"x-amzn-marketplace-token": "tok-1"}
    )
    assert first.status_code == 200
    assert "contact_email" in first.text
    answer = await _register(http, "tok-1")
    assert answer.status_code == 200, answer.text
    assert "being set up" in answer.text
    await run_due(worker)

    sub = await _subscription(clean_db)
    assert sub is not None
    assert (sub["channel"], sub["partner_id"], sub["plan"], sub["seats"]) == (
        "MARKETPLACE",
        "aws-marketplace",
        "ULTIMATE",
        20,
    )
    assert [target for target, _ in peer.calls] == [
        "AWSMPMeteringService.ResolveCustomer",
        "AWSMPMeteringService.ResolveCustomer",
        "AWSMPEntitlementService.GetEntitlements",
    ]
    assert smtp.recipients == [["peter@initech.test"]]
    text = smtp.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    code = re.search(r"Activation code: (\S+)", text)
    assert code is not None

    staff = bearer(token_for(aws_app))
    activated = (
        await http.post(
            "/graphql",
            json={
                "query": ACTIVATE,
                "variables": {
                    "input": {"activationCode": code.group(1), "instanceIdentifier": INSTANCE}
                },
            },
        )
    ).json()["data"]["activateSubscription"]
    assert activated["errors"] == [], activated
    key = activated["licenseKey"]

    # The buyer adds seats on AWS: the notification makes us read the entitlements again.
    peer.entitlement("111122223333", 35, "users")
    now = SESSION_CLOCK.now()
    assert (
        await _notify(
            http, peer.notification("entitlement-updated", "111122223333", message_id="m-1", at=now)
        )
    ).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 35
    link = await http.post(
        "/api/v1/seat_links",
        json={
            "gitlab_version": "18.6.0-ee",
            "timestamp": SESSION_CLOCK.now().isoformat(),
            "license_key": key,
            "max_historical_user_count": 10,
            "billable_users_count": 10,
            "hostname": "gitlab.initech.test",
            "instance_id": INSTANCE,
            "unique_instance_id": "6f1c1a52-5d0e-4b7e-9d55-3c3d0b1e2a44",
        },
    )
    assert link.status_code == 200, link.text
    assert link.json().get("license"), "the seat link brings the license with 35 seats"

    # Unsubscribed.
    peer.entitlements["111122223333"] = []
    later = now + timedelta(seconds=5)
    assert (
        await _notify(
            http,
            peer.notification("unsubscribe-success", "111122223333", message_id="m-2", at=later),
        )
    ).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["cancelled_at"] is not None
    states = await clean_db.fetch("SELECT state FROM marketplace_inbox ORDER BY received_at")
    assert [r["state"] for r in states] == ["APPLIED", "APPLIED", "APPLIED"]
    assert staff  # staff's token is valid for this app


async def test_duplicated_reordered_forged_and_stale_notifications_change_nothing(
    world: tuple[httpx.AsyncClient, FakeAws, MailPeer, Worker], clean_db: Database
) -> None:
    http, peer, _, worker = world
    await map_offer(clean_db, Marketplace.AWS, PRODUCT, "users")
    peer.buyer_subscribes("tok-2", "444455556666", 10, "users")
    assert (await _register(http, "tok-2")).status_code == 200
    assert (await _register(http, "tok-2")).status_code == 200  # the buyer submits twice
    await run_due(worker)
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 1

    now = SESSION_CLOCK.now()
    peer.entitlement("444455556666", 30, "users")
    newer = peer.notification("entitlement-updated", "444455556666", message_id="n-2", at=now)
    older = peer.notification(
        "entitlement-updated", "444455556666", message_id="n-1", at=now - timedelta(minutes=1)
    )
    assert (await _notify(http, newer)).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 30
    # The same message again: 200 so SNS stops, and nothing is stored twice.
    again = await _notify(http, newer)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    # An older one arriving late (AWS has meanwhile gone down to 5 seats) undoes nothing.
    peer.entitlement("444455556666", 5, "users")
    assert (await _notify(http, older)).status_code == 200
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 30
    stale = await clean_db.fetchval("SELECT state FROM marketplace_inbox WHERE message_id = 'n-1'")
    assert stale == "IGNORED_STALE"

    forger, _ = _key_and_cert()
    forged = peer.notification(
        "unsubscribe-success", "444455556666", message_id="f-1", at=now, key=forger
    )
    assert (await _notify(http, forged)).status_code == 403
    replayed = peer.notification(
        "unsubscribe-success", "444455556666", message_id="f-2", at=now - timedelta(hours=2)
    )
    assert (await _notify(http, replayed)).status_code == 400
    assert (await _notify(http, b"not json")).status_code == 400
    await run_due(worker)
    assert (await _subscription(clean_db))["cancelled_at"] is None
    assert (
        await clean_db.fetchval(
            "SELECT count(*) FROM marketplace_inbox WHERE message_id LIKE 'f-%'"
        )
        == 0
    )
    assert await clean_db.fetchval("SELECT count(*) FROM marketplace_inbox") == 3


async def test_an_unknown_offer_goes_dead_with_an_alert_and_staff_retry_it_once_mapped(
    world: tuple[httpx.AsyncClient, FakeAws, MailPeer, Worker],
    clean_db: Database,
    aws_app: Starlette,
) -> None:
    http, peer, _, worker = world
    peer.buyer_subscribes("tok-3", "777788889999", 10, "admins")
    assert (await _register(http, "tok-3")).status_code == 200
    await run_due(worker)
    row = await clean_db.fetchrow(
        "SELECT id, status, attempts, last_error FROM provision_event"
        " WHERE kind = 'MARKETPLACE_EVENT'"
    )
    assert row is not None
    assert (row["status"], row["attempts"]) == ("DEAD", 1)
    assert "unknown offer" in row["last_error"]
    assert "'admins'" in row["last_error"]
    alert = await clean_db.fetchval(
        "SELECT payload->>'kind' FROM provision_event WHERE kind = 'ALERT'"
    )
    assert alert == "MARKETPLACE_EVENT"
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 0

    await map_offer(clean_db, Marketplace.AWS, PRODUCT, "admins", seats=3)
    retried = (
        await http.post(
            "/graphql",
            json={
                "query": RETRY,
                "variables": {"input": {"eventId": global_id("ProvisionEvent", row["id"])}},
            },
            headers=bearer(token_for(aws_app)),
        )
    ).json()
    assert "errors" not in retried, retried
    await run_due(worker)
    assert (await _subscription(clean_db))["seats"] == 3


async def test_a_bad_or_expired_registration_token_is_refused(
    world: tuple[httpx.AsyncClient, FakeAws, MailPeer, Worker], clean_db: Database
) -> None:
    http, _, _, _ = world
    assert (await _register(http, "never-issued")).status_code == 400
    missing = await http.post("/marketplaces/aws/fulfillment", data={"company": "x"})
    assert missing.status_code == 400
    assert await clean_db.fetchval("SELECT count(*) FROM marketplace_inbox") == 0
