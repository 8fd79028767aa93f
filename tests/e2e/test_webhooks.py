"""Webhooks end to end: an endpoint registered through GraphQL, a sale through GraphQL, a real
``provision worker`` delivering to a real receiver on 127.0.0.1 that verifies the signature
with the ``standardwebhooks`` package; a failing receiver; another tenant's endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from webhook_peer import WebhookPeer, serving_webhook_peer

from domain.model.provision_event import ProvisionStatus
from domain.principal import PrincipalKind
from persistence.database import Database

from bearer import bearer, token_for
from graphql_client import GraphQL
from ledger_peer import workers
from ledger_wait import eventually, settled

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

CREATE_ENDPOINT = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    webhookEndpoint { id url eventTypes enabled customerId partnerId }
    secret errors { code message path } } }"""
SELL = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id name } errors { code } } }"""
CANCEL = """mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) {
  errors { code } } }"""
ENDPOINTS = """{ webhookEndpoints(first: 10) { edges { node { id url } } } }"""
NODE = """query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { url } } }"""
UPDATE = """mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  webhookEndpoint { id enabled } errors { code path } } }"""
ROTATE = """mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) {
  webhookEndpoint { id } secret errors { code path } } }"""
DELETE = """mutation($input: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $input) {
  webhookEndpoint { id } errors { code path } } }"""


@pytest.fixture(scope="module")
def module_peer() -> Iterator[WebhookPeer]:
    with serving_webhook_peer() as peer:
        yield peer


@pytest.fixture
def peer(module_peer: WebhookPeer) -> WebhookPeer:
    module_peer.attempts.clear()
    module_peer.failing = False
    module_peer.secret = None
    return module_peer


async def _register(gql: GraphQL, url: str, **fields: Any) -> dict[str, Any]:
    body = await gql(CREATE_ENDPOINT, input={"url": url, **fields})
    created: dict[str, Any] = body["data"]["createWebhookEndpoint"]
    return created


async def _sell(gql: GraphQL) -> dict[str, str]:
    fields = {
        "deployment": "GITLAB_COM",
        "plan": "ULTIMATE",
        "term": {"segments": [{"startDate": "2026-01-01", "endDate": "2029-01-01", "seats": 25}]},
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": "ada@acme.test"},
    }
    created = (await gql(SELL, input=fields))["data"]["createSubscription"]
    assert created["errors"] == []
    subscription: dict[str, str] = created["subscription"]
    return subscription


async def _deliveries(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, status, attempts, max_attempts, payload::text AS payload, last_error"
        " FROM provision_event WHERE kind = 'WEBHOOK_DELIVERY' ORDER BY id"
    )
    return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


async def test_a_sale_is_delivered_signed_and_the_receiver_verifies_it(
    gql: GraphQL, clean_db: Database, peer: WebhookPeer, tmp_path: Path
) -> None:
    created = await _register(gql, peer.hook_url, eventTypes=["SUBSCRIPTION_CREATED"])
    assert created["errors"] == []
    assert created["webhookEndpoint"]["eventTypes"] == ["SUBSCRIPTION_CREATED"]
    peer.secret = created["secret"]
    assert peer.secret.startswith("whsec_")
    # The secret is shown once: no field reads it back.
    assert peer.secret not in json.dumps(await gql(ENDPOINTS))

    sold = await _sell(gql)
    # The mutation answered without waiting for the delivery: its row is still PENDING.
    [row] = await _deliveries(clean_db)
    assert row["status"] == "PENDING"
    assert peer.attempts == []
    assert peer.secret not in json.dumps(row["payload"])
    assert row["max_attempts"] >= 300  # retried for a day under the default backoff

    with workers(clean_db.dsn, tmp_path, 1):
        await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    [attempt] = peer.attempts
    assert attempt.refusal is None, attempt.refusal
    assert attempt.verified is not None
    assert attempt.verified["type"] == "subscription.created"
    assert attempt.verified["version"] == 1
    assert attempt.verified["data"]["subscription"]["name"] == sold["name"]
    assert attempt.verified["data"]["subscription"]["plan"] == "ULTIMATE"
    assert attempt.headers["webhook-id"] == f"msg_{row['id'].hex}"
    assert attempt.headers["webhook-signature"].startswith("v1,")
    assert attempt.headers["content-type"] == "application/json"
    # Signed with another secret, the same delivery does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(attempt.body, attempt.headers)


async def test_a_failing_receiver_leaves_the_row_for_retry_with_the_same_id(
    gql: GraphQL, clean_db: Database, peer: WebhookPeer, tmp_path: Path
) -> None:
    created = await _register(
        gql, peer.hook_url, eventTypes=["SUBSCRIPTION_CREATED", "SUBSCRIPTION_CANCELLED"]
    )
    peer.secret = created["secret"]
    peer.failing = True
    await _sell(gql)
    [row] = await _deliveries(clean_db)

    async def failed_twice() -> bool:
        [now] = await _deliveries(clean_db)
        return now["status"] == "FAILED" and now["attempts"] >= 2

    with workers(clean_db.dsn, tmp_path / "failing", 1):
        await eventually(failed_twice, 30, "the delivery failed twice")
    [failed] = await _deliveries(clean_db)
    assert failed["status"] == "FAILED"  # not DEAD: it has a day of attempts left
    assert failed["attempts"] < failed["max_attempts"]
    assert "answered 500" in failed["last_error"]
    assert all(a.status == 500 and a.verified for a in peer.attempts)

    peer.failing = False
    with workers(clean_db.dsn, tmp_path / "healthy", 1):
        done = await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    assert done.attempts == len(peer.attempts) >= 3
    assert len(peer.accepted) == 1
    # Every attempt is the same message (one id, one body), each freshly signed and verified.
    assert {a.headers["webhook-id"] for a in peer.attempts} == {f"msg_{row['id'].hex}"}
    assert {a.body for a in peer.attempts} == {peer.attempts[0].body}
    assert all(a.refusal is None for a in peer.attempts)


async def test_another_tenant_cannot_see_or_touch_an_endpoint(
    app: Starlette, gql: GraphQL, clean_db: Database, peer: WebhookPeer
) -> None:
    transport = httpx.ASGITransport(app=app)

    def partner(name: str) -> GraphQL:
        token = token_for(app, PrincipalKind.PARTNER, subject=f"test:{name}", partner=name)
        return GraphQL(
            httpx.AsyncClient(
                transport=transport, base_url="http://provision.test", headers=bearer(token)
            )
        )

    mine, theirs = partner("p-1"), partner("p-2")
    async with mine.http, theirs.http:
        created = await _register(mine, "https://hooks.p1.example/in", eventTypes=["TRIAL_STARTED"])
        assert created["errors"] == []
        assert created["webhookEndpoint"]["partnerId"] == "p-1"
        endpoint_id = created["webhookEndpoint"]["id"]

        assert (await theirs(ENDPOINTS))["data"]["webhookEndpoints"]["edges"] == []
        assert (await theirs(NODE, id=endpoint_id))["data"]["node"] is None
        for mutation, extra in ((UPDATE, {"enabled": False}), (DELETE, {})):
            body = await theirs(mutation, input={"id": endpoint_id, **extra})
            [payload] = body["data"].values()
            assert payload == {
                "webhookEndpoint": None,
                "errors": [{"code": "NOT_FOUND", "path": ["id"]}],
            }

        [edge] = (await mine(ENDPOINTS))["data"]["webhookEndpoints"]["edges"]
        assert edge["node"]["id"] == endpoint_id
        assert (await mine(NODE, id=endpoint_id))["data"]["node"]["url"] == (
            "https://hooks.p1.example/in"
        )
        # Staff see it too; the owner may change and delete it.
        staff_ids = [
            e["node"]["id"] for e in (await gql(ENDPOINTS))["data"]["webhookEndpoints"]["edges"]
        ]
        assert endpoint_id in staff_ids
        changed = (await mine(UPDATE, input={"id": endpoint_id, "enabled": False}))["data"]
        assert changed["updateWebhookEndpoint"]["webhookEndpoint"]["enabled"] is False
        deleted = (await mine(DELETE, input={"id": endpoint_id}))["data"]
        assert deleted["deleteWebhookEndpoint"]["errors"] == []
        assert (await mine(ENDPOINTS))["data"]["webhookEndpoints"]["edges"] == []


async def test_bad_endpoints_are_refused_with_a_clear_error(
    gql: GraphQL, clean_db: Database
) -> None:
    cases = [
        ({"url": "http://hooks.example.com/in", "eventTypes": ["SUBSCRIPTION_CREATED"]}, ["url"]),
        ({"url": "https://hooks.example.com/in", "eventTypes": []}, ["eventTypes"]),
        (
            {
                "url": "https://hooks.example.com/in",
                "eventTypes": ["SUBSCRIPTION_CREATED"],
                "customerId": f"cus_{uuid.uuid4().hex}",
            },
            ["customerId"],
        ),
    ]
    for fields, path in cases:
        created = (await gql(CREATE_ENDPOINT, input=fields))["data"]["createWebhookEndpoint"]
        assert created["secret"] is None
        assert [(e["code"], e["path"]) for e in created["errors"]] in (
            [("VALIDATION_FAILED", path)],
            [("NOT_FOUND", path)],
        ), fields
    assert await clean_db.fetchval("SELECT count(*) FROM webhook_endpoint") == 0


async def test_after_a_rotation_deliveries_verify_with_the_new_secret(
    gql: GraphQL, clean_db: Database, peer: WebhookPeer, tmp_path: Path
) -> None:
    created = await _register(gql, peer.hook_url, eventTypes=["SUBSCRIPTION_CREATED"])
    endpoint_id = created["webhookEndpoint"]["id"]
    refused = (await gql(ROTATE, input={"id": endpoint_id, "overlapSeconds": -1}))["data"]
    assert refused["rotateWebhookSecret"]["errors"] == [
        {"code": "VALIDATION_FAILED", "path": ["overlapSeconds"]}
    ]
    rotated = (await gql(ROTATE, input={"id": endpoint_id, "overlapSeconds": 0}))["data"]
    new_secret = rotated["rotateWebhookSecret"]["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != created["secret"]
    peer.secret = new_secret
    assert await _deliveries(clean_db) == []  # nothing sold yet
    await _sell(gql)
    [row] = await _deliveries(clean_db)
    with workers(clean_db.dsn, tmp_path, 1):
        await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    [attempt] = peer.attempts
    assert attempt.refusal is None
    with pytest.raises(WebhookVerificationError):
        Webhook(created["secret"]).verify(attempt.body, attempt.headers)
