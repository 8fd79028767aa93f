"""Webhook delivery per the spec, on the real ledger and a real receiver on 127.0.0.1 that
verifies every request with the ``standardwebhooks`` package: 1,000 events through a receiver
failing a third of the time (all arrive, in order per subscription, none twice after its
first 2xx), redirects not followed, 410 disabling, Retry-After honoured, the SSRF guard at
delivery time, auto-disable with its email and audit entry."""

from __future__ import annotations

import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from webhook_hub import CONFIG, Hub, add_endpoint, delivery_worker, serving_hub

from domain.model.provision_event import ProvisionEvent
from domain.model.webhook import WebhookEventType, delivery_row, message
from persistence.database import Database
from persistence.ledger import PostgresOutbox

import factories as f
from fakes import FixedClock
from graphql_client import GraphQL

CHANGED = WebhookEventType.SUBSCRIPTION_CHANGED


@pytest.fixture(scope="module")
def module_hub() -> Iterator[Hub]:
    with serving_hub() as hub:
        yield hub


@pytest.fixture
def hub(module_hub: Hub) -> Hub:
    module_hub.reset()
    return module_hub


@pytest.fixture
def clock() -> FixedClock:
    # Real time: the receiver's library refuses timestamps more than 5 minutes off its clock.
    return FixedClock(datetime.now(UTC))


async def _record(db: Database, rows: list[ProvisionEvent]) -> None:
    async with db.engine.transaction():
        await PostgresOutbox(db).record_many(rows)


def _rows(
    endpoint_id: uuid.UUID,
    clock: FixedClock,
    subscriptions: list[uuid.UUID],
    per_subscription: int,
    max_attempts: int = 50,
) -> list[ProvisionEvent]:
    """``per_subscription`` events for each subscription, interleaved, numbered in order."""
    rows = []
    for seq, sub in itertools.product(range(per_subscription), subscriptions):
        body = message(CHANGED, clock.now(), {"subscription": {"id": str(sub)}, "seq": seq})
        rows.append(delivery_row(endpoint_id, CHANGED, body, clock.now(), max_attempts, sub))
    return rows


async def _row(db: Database, event_id: uuid.UUID) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT e.status, e.attempts, e.last_error, e.next_attempt_at, r.status_code"
        " FROM provision_event e LEFT JOIN webhook_delivery_result r ON r.id = e.id"
        " WHERE e.id = $1",
        event_id,
    )
    assert row is not None
    return dict(row)


async def test_a_thousand_events_through_a_flaky_receiver_arrive_once_each_in_order(
    clean_db: Database, hub: Hub, clock: FixedClock
) -> None:
    endpoint = await add_endpoint(clean_db, f"{hub.url}/flaky", clock)
    # Every third request answers 500, whatever it carries: a third of attempts fail.
    hub.reset(endpoint.secret, lambda path, n: (500, {}) if n % 3 == 0 else (204, {}))
    subscriptions = [uuid.uuid4() for _ in range(50)]
    rows = _rows(endpoint.id, clock, subscriptions, 20)
    assert len(rows) == 1000
    await _record(clean_db, rows)

    # One worker with a slot per lane: every round runs the head of every lane at once.
    async with delivery_worker(clean_db, clock, config=replace(CONFIG, concurrency=50)) as worker:
        await worker.until_settled()

    assert all(r.refusal is None for r in hub.received), hub.received[0].refusal
    failed = [r for r in hub.received if r.status == 500]
    assert len(failed) >= 400  # a third of ~1,500 attempts
    # All arrived, each once after its first 2xx (the webhook-id is the receiver's dedupe key).
    accepted = hub.accepted_ids()
    assert set(accepted) == {f"msg_{r.id.hex}" for r in rows}
    assert set(accepted.values()) == {1}
    # In order per subscription: each subscription's events were accepted 0, 1, 2, ...
    order: dict[str, list[int]] = defaultdict(list)
    for received in hub.accepted():
        assert received.verified is not None
        data = received.verified["data"]
        order[data["subscription"]["id"]].append(data["seq"])
    assert order == {str(s): list(range(20)) for s in subscriptions}
    statuses = await clean_db.fetch("SELECT status, count(*) FROM provision_event GROUP BY status")
    assert {r["status"]: r["count"] for r in statuses} == {"SUCCEEDED": 1000}


async def test_a_redirect_is_a_failure_and_is_not_followed(
    clean_db: Database, hub: Hub, clock: FixedClock
) -> None:
    endpoint = await add_endpoint(clean_db, f"{hub.url}/moved", clock)
    hub.reset(
        endpoint.secret,
        lambda path, n: (307, {"location": "/elsewhere"}) if path == "/moved" else (204, {}),
    )
    [row] = _rows(endpoint.id, clock, [uuid.uuid4()], 1)
    await _record(clean_db, [row])
    async with delivery_worker(clean_db, clock) as worker:
        assert await worker.round() == 1
    assert [r.path for r in hub.received] == ["/moved"]
    stored = await _row(clean_db, row.id)
    assert stored["status"] == "FAILED"
    assert stored["status_code"] == 307
    assert "answered 307" in stored["last_error"]


async def test_retry_after_is_honoured_and_410_disables_the_endpoint(
    clean_db: Database, hub: Hub, clock: FixedClock
) -> None:
    owner = f.customer()
    await f.store(clean_db, owner)
    endpoint = await add_endpoint(clean_db, f"{hub.url}/busy", clock, customer_id=owner.id)
    answers = iter([(503, {"retry-after": "120"}), (410, {})])
    hub.reset(endpoint.secret, lambda path, n: next(answers))
    [row] = _rows(endpoint.id, clock, [uuid.uuid4()], 1)
    await _record(clean_db, [row])
    async with delivery_worker(clean_db, clock) as worker:
        await worker.round()
        busy = await _row(clean_db, row.id)
        assert busy["status"] == "FAILED"
        # The backoff alone would wait at most 1 s; the receiver asked for 120.
        assert busy["next_attempt_at"] >= clock.now() + timedelta(seconds=120)
        clock.advance(timedelta(seconds=60))
        assert await worker.round() == 0  # not before its Retry-After
        clock.advance(timedelta(seconds=61))
        assert await worker.round() == 1
    gone = await _row(clean_db, row.id)
    assert gone["status_code"] == 410
    assert (
        await clean_db.fetchval("SELECT enabled FROM webhook_endpoint WHERE id = $1", endpoint.id)
        is False
    )
    audit = await clean_db.fetchrow(
        "SELECT action, actor_subject FROM audit_entry WHERE object_id = $1", endpoint.id
    )
    assert audit is not None
    assert audit["action"] == "disableWebhookEndpoint"
    assert audit["actor_subject"] == "provision:webhooks"
    [mail] = await clean_db.fetch(
        "SELECT payload::text AS p FROM provision_event WHERE kind = 'EMAIL'"
    )
    payload = json.loads(mail["p"])
    assert payload["template"] == "webhook_endpoint_disabled"
    assert payload["to"] == owner.contact_email
    assert "410 Gone" in payload["context"]["reason"]


@pytest.mark.parametrize(
    ("url", "answers", "allow_loopback", "why"),
    [
        ("https://169.254.169.254/latest/meta-data", {}, True, "link-local"),
        ("https://hooks.internal.test/in", {"hooks.internal.test": ["10.1.2.3"]}, True, "private"),
        # One bad address among good ones refuses the host (no race between answers).
        (
            "https://mixed.test/in",
            {"mixed.test": ["93.184.215.14", "192.168.0.9"]},
            True,
            "private",
        ),
        ("http://127.0.0.1:9/in", {}, False, "loopback"),
        ("https://[::ffff:10.0.0.1]/in", {}, True, "private"),
    ],
)
async def test_the_ssrf_guard_refuses_internal_addresses_at_delivery(
    clean_db: Database,
    hub: Hub,
    clock: FixedClock,
    url: str,
    answers: dict[str, list[str]],
    allow_loopback: bool,
    why: str,
) -> None:
    looked_up: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return answers[host]

    endpoint = await add_endpoint(clean_db, url, clock)
    [row] = _rows(endpoint.id, clock, [uuid.uuid4()], 1)
    await _record(clean_db, [row])
    async with delivery_worker(
        clean_db, clock, allow_loopback=allow_loopback, resolve=resolve
    ) as worker:
        assert await worker.round() == 1
    stored = await _row(clean_db, row.id)
    assert stored["status"] == "FAILED"
    assert stored["status_code"] is None
    assert stored["last_error"].startswith("AddressRefused: ")
    assert f"a {why} address" in stored["last_error"]
    assert looked_up == list(answers)  # names are resolved at delivery; addresses are not


async def test_an_endpoint_whose_last_events_all_died_is_disabled_with_an_email(
    clean_db: Database, hub: Hub, clock: FixedClock
) -> None:
    owner = f.customer()
    await f.store(clean_db, owner)
    endpoint = await add_endpoint(clean_db, f"{hub.url}/down", clock, customer_id=owner.id)
    hub.reset(endpoint.secret, lambda path, n: (500, {}))
    first, second, third = (
        _rows(endpoint.id, clock, [uuid.uuid4()], 1, max_attempts=2)[0] for _ in range(3)
    )
    async with delivery_worker(clean_db, clock, threshold=2) as worker:
        await _record(clean_db, [first])
        await worker.until_settled()
        # One event DEAD: below the threshold, still on.
        assert (await _row(clean_db, first.id))["status"] == "DEAD"
        assert await clean_db.fetchval(
            "SELECT enabled FROM webhook_endpoint WHERE id = $1", endpoint.id
        )
        await _record(clean_db, [second])
        await worker.until_settled()
        assert (
            await clean_db.fetchval(
                "SELECT enabled FROM webhook_endpoint WHERE id = $1", endpoint.id
            )
            is False
        )
        # Disabled: the next event is not sent (its row ends without a request).
        before = len(hub.received)
        await _record(clean_db, [third])
        await worker.until_settled()
        assert len(hub.received) == before
    assert len(hub.received) == 4  # two attempts of each of the two events
    mails = await clean_db.fetch(
        "SELECT payload::text AS p FROM provision_event WHERE kind = 'EMAIL'"
    )
    [mail] = [json.loads(m["p"]) for m in mails]
    assert mail["template"] == "webhook_endpoint_disabled"
    assert mail["to"] == owner.contact_email
    assert mail["context"]["reason"] == "its last 2 events all failed after every retry"
    assert (
        await clean_db.fetchval(
            "SELECT count(*) FROM audit_entry WHERE object_id = $1"
            " AND action = 'disableWebhookEndpoint'",
            endpoint.id,
        )
        == 1
    )


CREATE_ENDPOINT = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { webhookEndpoint { id } secret errors { code } } }"""
SELL = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id } errors { code } } }"""
DELIVERIES = """query($id: ID!, $status: ProvisionEventStatus) { node(id: $id) {
  ... on WebhookEndpoint { deliveries(first: 10, status: $status) { totalCount edges { node {
    id status responseCode latencyMs attempts maxAttempts nextAttemptAt lastAttemptAt
    eventType eventId subscriptionId createdAt lastError } } } } } }"""
RESEND = """mutation($id: ID!) { resendWebhookDelivery(input: {id: $id}) {
  webhookDelivery { id status eventId attempts } errors { code path } } }"""


async def test_deliveries_are_read_and_resent_through_graphql(
    gql: GraphQL, clean_db: Database, hub: Hub, clock: FixedClock
) -> None:
    created = (
        await gql(
            CREATE_ENDPOINT,
            input={"url": f"{hub.url}/in", "eventTypes": ["SUBSCRIPTION_CREATED"]},
        )
    )["data"]["createWebhookEndpoint"]
    endpoint_id = created["webhookEndpoint"]["id"]
    hub.reset(created["secret"])
    sold = (
        await gql(
            SELL,
            input={
                "deployment": "GITLAB_COM",
                "plan": "ULTIMATE",
                "term": {
                    "segments": [{"startDate": "2026-01-01", "endDate": "2029-01-01", "seats": 5}]
                },
                "newCustomer": {
                    "company": "Acme",
                    "contactName": "Ada",
                    "contactEmail": "a@a.test",
                },
            },
        )
    )["data"]["createSubscription"]
    pending = (await gql(DELIVERIES, id=endpoint_id))["data"]["node"]["deliveries"]
    [edge] = pending["edges"]
    assert edge["node"]["status"] == "PENDING"
    assert edge["node"]["responseCode"] is None
    assert edge["node"]["nextAttemptAt"] is not None

    async with delivery_worker(clean_db, clock) as worker:
        await worker.until_settled()
        done = (await gql(DELIVERIES, id=endpoint_id))["data"]["node"]["deliveries"]
        [delivery] = [e["node"] for e in done["edges"]]
        assert delivery["status"] == "SUCCEEDED"
        assert delivery["responseCode"] == 204
        assert delivery["latencyMs"] >= 0
        assert delivery["attempts"] == 1
        assert delivery["nextAttemptAt"] is None
        assert delivery["lastAttemptAt"] is not None
        assert delivery["eventType"] == "SUBSCRIPTION_CREATED"
        assert delivery["subscriptionId"] == sold["subscription"]["id"]
        assert delivery["eventId"] == hub.received[0].webhook_id
        failed = (await gql(DELIVERIES, id=endpoint_id, status="FAILED"))["data"]["node"]
        assert failed["deliveries"]["totalCount"] == 0

        resent = (await gql(RESEND, id=delivery["id"]))["data"]["resendWebhookDelivery"]
        assert resent["errors"] == []
        assert resent["webhookDelivery"]["status"] == "PENDING"
        assert resent["webhookDelivery"]["eventId"] == delivery["eventId"]
        assert resent["webhookDelivery"]["id"] != delivery["id"]
        await worker.until_settled()
    # The receiver got the same event twice, under one webhook-id, same body, both verified.
    assert [r.webhook_id for r in hub.received] == [delivery["eventId"]] * 2
    assert hub.received[0].verified == hub.received[1].verified
    assert all(r.refusal is None for r in hub.received)
    listed = (await gql(DELIVERIES, id=endpoint_id))["data"]["node"]["deliveries"]
    assert listed["totalCount"] == 2
    # A bad id is a clear error, not a 500.
    bad = (await gql(RESEND, id="whd_nope"))["data"]["resendWebhookDelivery"]
    assert [e["code"] for e in bad["errors"]] in (["INVALID_ID"], ["VALIDATION_FAILED"])
