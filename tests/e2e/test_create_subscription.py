"""createSubscription over HTTP with real tokens: staff and partner sales, the activation code
shown once and stored hashed, the audit entry, idempotency, and every refusal."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id
from domain.model.activation_code import hash_activation_code, is_activation_code
from domain.principal import PrincipalKind
from persistence.database import Database

import factories as f
from bearer import bearer, token_for

MUTATION = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id name deployment plan channel partnerId status seats licensingMode
                 customer { company } terms { segments { startDate endDate seats } } }
  activationCode
  errors { code message path } } }"""

RAMP = [
    {"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": 100},
    {"startDate": "2027-11-01", "endDate": "2028-11-01", "seats": 250},
    {"startDate": "2028-11-01", "endDate": "2029-11-01", "seats": 500},
]
NEW_CUSTOMER = {
    "company": "Umbrella",
    "contactName": "Alice",
    "contactEmail": "alice@umbrella.test",
}


def _input(**overrides: Any) -> dict[str, Any]:
    return {
        "deployment": "SELF_MANAGED",
        "plan": "ULTIMATE",
        "term": {"segments": RAMP},
        "newCustomer": NEW_CUSTOMER,
        **overrides,
    }


async def _create(http: httpx.AsyncClient, token: str | None = None, **overrides: Any) -> Any:
    headers = bearer(token) if token else {}
    response = await http.post(
        "/graphql", json={"query": MUTATION, "variables": {"input": _input(**overrides)}},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


async def _count(db: Database, table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))


async def test_staff_sells_a_ramp_deal_and_gets_the_code_once(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    body = await _create(client)
    payload = body["data"]["createSubscription"]
    assert payload["errors"] == []
    sub = payload["subscription"]
    assert sub["name"].startswith("A-S")
    assert (sub["deployment"], sub["plan"], sub["channel"]) == ("SELF_MANAGED", "ULTIMATE", "SALES")
    assert sub["licensingMode"] == "ONLINE_CLOUD"
    assert sub["customer"] == {"company": "Umbrella"}
    assert [s["seats"] for s in sub["terms"][0]["segments"]] == [100, 250, 500]
    code = payload["activationCode"]
    assert is_activation_code(code)
    stored = await clean_db.fetchval("SELECT code_hash FROM activation_code")
    assert stored == hash_activation_code(code)  # unreadable: see ..._in_no_readable_form
    audit = await clean_db.fetchrow("SELECT * FROM audit_entry")
    assert (audit["actor_kind"], audit["action"], audit["object_type"]) == (
        "STAFF",
        "createSubscription",
        "Subscription",
    )
    assert '"plan": "ULTIMATE"' in audit["after"]


async def test_a_gitlab_com_sale_has_no_code(client: httpx.AsyncClient, clean_db: Database) -> None:
    body = await _create(client, deployment="GITLAB_COM", plan="PREMIUM")
    payload = body["data"]["createSubscription"]
    assert payload["errors"] == []
    assert payload["activationCode"] is None
    assert payload["subscription"]["licensingMode"] is None
    assert await _count(clean_db, "activation_code") == 0


async def test_a_partner_sells_through_its_channel_to_its_own_customers(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    partner = token_for(app, PrincipalKind.PARTNER, subject="reseller-client", partner="p-1")
    sold = (await _create(anonymous, partner, channel="RESELLER"))["data"]["createSubscription"]
    assert sold["errors"] == []
    assert (sold["subscription"]["channel"], sold["subscription"]["partnerId"]) == (
        "RESELLER",
        "p-1",
    )

    # Its own customer again: fine. Someone else's: does not exist for it.
    mine = await clean_db.fetchval("SELECT customer FROM subscription")
    stranger = f.customer("Stranger")
    await f.store(clean_db, stranger)
    again = await _create(
        anonymous, partner, channel="MARKETPLACE", newCustomer=None,
        customerId=global_id("Customer", mine),
    )  # fmt: skip
    assert again["data"]["createSubscription"]["errors"] == []
    refused = await _create(
        anonymous, partner, channel="RESELLER", newCustomer=None,
        customerId=global_id("Customer", stranger.id),
    )  # fmt: skip
    assert refused["data"]["createSubscription"]["errors"] == [
        {"code": "NOT_FOUND", "message": "no such customer", "path": ["customerId"]}
    ]
    wrong_channel = await _create(anonymous, partner, channel="SALES")
    assert [e["code"] for e in wrong_channel["data"]["createSubscription"]["errors"]] == [
        "VALIDATION_FAILED"
    ]
    someone_else = await _create(anonymous, partner, channel="RESELLER", partnerId="p-2")
    assert someone_else["data"]["createSubscription"]["errors"][0]["path"] == ["partnerId"]
    assert await _count(clean_db, "subscription") == 2


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (PrincipalKind.PORTAL_USER, "FORBIDDEN"),  # holds subscriptions:write, may not sell
        (PrincipalKind.GITLAB_COM, "FORBIDDEN"),  # lacks the scope
        (PrincipalKind.INSTANCE, "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_who_may_not_sell(
    kind: PrincipalKind | None,
    code: str,
    app: Starlette,
    anonymous: httpx.AsyncClient,
    clean_db: Database,
) -> None:
    token = token_for(app, kind, subject="someone", email="a@b.test") if kind else None
    body = await _create(anonymous, token)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await _count(clean_db, "subscription") == 0
    assert await _count(clean_db, "audit_entry") == 0


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"customerId": "cus_0123456789abcdef0123456789abcdef"}, ["customerId"]),  # both given
        ({"newCustomer": None}, ["customerId"]),  # neither given
        ({"term": {"segments": [RAMP[0], RAMP[2]]}}, ["segments"]),  # a gap in the ramp
        ({"term": {"segments": [{**RAMP[0], "seats": 0}]}}, ["seats"]),
        ({"term": {"segments": []}}, ["segments"]),
        ({"newCustomer": {**NEW_CUSTOMER, "contactEmail": "not-an-email"}}, ["contactEmail"]),
        ({"deployment": "GITLAB_COM", "licensingMode": "ONLINE_CLOUD"}, ["licensingMode"]),
        ({"plan": "FREE"}, ["plan"]),
        ({"maxInstances": 0}, ["maxInstances"]),
        ({"channel": "RESELLER"}, ["partnerId"]),
        (
            {"customerId": "sub_0123456789abcdef0123456789abcdef", "newCustomer": None},
            ["customerId"],
        ),
        ({"idempotencyKey": ""}, ["idempotencyKey"]),
    ],
)
async def test_bad_input_is_a_payload_error_and_writes_nothing(
    overrides: dict[str, Any], path: list[str], client: httpx.AsyncClient, clean_db: Database
) -> None:
    body = await _create(client, **overrides)
    payload = body["data"]["createSubscription"]
    assert payload["subscription"] is None
    assert [e["code"] for e in payload["errors"]] == ["VALIDATION_FAILED"], payload
    assert payload["errors"][0]["path"] == path
    for table in ("subscription", "customer", "activation_code", "audit_entry"):
        assert await _count(clean_db, table) == 0, table


async def test_the_same_key_replays_the_first_result(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    first = (await _create(client, idempotencyKey="order-42"))["data"]["createSubscription"]
    again = (await _create(client, idempotencyKey="order-42"))["data"]["createSubscription"]
    assert again["errors"] == []
    assert again["subscription"]["id"] == first["subscription"]["id"]
    assert first["activationCode"] is not None
    assert again["activationCode"] is None  # shown once; stored only as a hash
    assert await _count(clean_db, "subscription") == 1
    assert await _count(clean_db, "audit_entry") == 1
    changed = (await _create(client, idempotencyKey="order-42", plan="PREMIUM"))["data"]
    assert [e["code"] for e in changed["createSubscription"]["errors"]] == [
        "IDEMPOTENCY_KEY_REUSED"
    ]
    assert await _count(clean_db, "subscription") == 1


async def test_keys_belong_to_their_caller(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    await _create(client, idempotencyKey="k-1")
    other_staff = token_for(app, subject="another-staff-client")
    other = (await _create(anonymous, other_staff, idempotencyKey="k-1", plan="PREMIUM"))["data"]
    assert other["createSubscription"]["errors"] == []
    assert await _count(clean_db, "subscription") == 2


async def test_concurrent_retries_with_one_key_create_one_subscription(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    answers = await asyncio.gather(*(_create(client, idempotencyKey="burst") for _ in range(10)))
    ids = set()
    for answer in answers:
        payload = answer["data"]["createSubscription"]
        if payload["errors"]:
            assert [e["code"] for e in payload["errors"]] == ["IDEMPOTENCY_KEY_IN_FLIGHT"]
        else:
            ids.add(payload["subscription"]["id"])
    assert len(ids) == 1
    assert await _count(clean_db, "subscription") == 1


ACTIVATE = """mutation($input: ActivateSubscriptionInput!) { activateSubscription(input: $input) {
  licenseKey errors { code } } }"""
ROTATE = """mutation($input: RotateActivationCodeInput!) { rotateActivationCode(input: $input) {
  activationCode errors { code } } }"""
_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def _decodings(token: str) -> Iterator[bytes]:
    """What a base64 or hex token could stand for (nothing when it is neither)."""
    padded = token + "=" * (-len(token) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(ValueError):
            yield decode(padded)
    with contextlib.suppress(ValueError):
        yield bytes.fromhex(token)


def _holds(text: str, code: str) -> bool:
    """Whether ``text`` holds ``code`` as it is, in another case, reversed, or in hex or base64
    (also inside a larger encoded value)."""
    folded, wanted = text.lower(), code.lower()
    if wanted in folded or wanted[::-1] in folded or code.encode().hex() in folded:
        return True
    return any(
        wanted.encode() in decoded.lower()
        for token in _TOKEN.findall(text)
        for decoded in _decodings(token)
    )


def _without_the_pending_email_copy(row: dict[str, Any]) -> dict[str, Any]:
    """The activation email's ledger row carries the code, in ``payload.secrets``, until the
    message is handed over, and forgets it then (test_emails): the one copy allowed."""
    payload = row.get("payload")
    if (
        row.get("kind") == "EMAIL"
        and isinstance(payload, dict)
        and payload.get("template") == "activation_code"
        and set(payload.get("secrets", {})) == {"activation_code"}
    ):
        return {**row, "payload": {k: v for k, v in payload.items() if k != "secrets"}}
    return row


async def _rows_holding(db: Database, *codes: str) -> list[str]:
    """Every row of every table (all its columns, bytea as hex) that holds one of the codes."""
    tables = await db.fetch(
        "SELECT format('%I.%I', table_schema, table_name) AS name"
        " FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    assert {"public.activation_code", "public.provision_event"} <= {t["name"] for t in tables}
    found = []
    for table in tables:
        for (text,) in await db.fetch(f"SELECT to_jsonb(t)::text FROM {table['name']} t"):
            shown = json.dumps(_without_the_pending_email_copy(json.loads(text)))
            found += [f"{table['name']}: {shown}" for code in codes if _holds(shown, code)]
    return found


async def test_the_activation_code_is_stored_in_no_readable_form(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    payload = (await _create(client))["data"]["createSubscription"]
    code = payload["activationCode"]
    email = await clean_db.fetchval(
        "SELECT payload->'secrets'->>'activation_code' FROM provision_event WHERE kind = 'EMAIL'"
    )
    assert email == code  # the copy _rows_holding allows, until the email is sent
    # The stored form still finds the subscription...
    activate = {"activationCode": code, "instanceIdentifier": str(uuid.uuid4())}
    answer = await anonymous.post(
        "/graphql", json={"query": ACTIVATE, "variables": {"input": activate}}
    )
    assert answer.json()["data"]["activateSubscription"]["errors"] == []
    # ...and no row holds the code, nor a form it can be read back from.
    (stored,) = await clean_db.fetch("SELECT * FROM activation_code")
    assert stored["code_hash"] not in (code, code.lower())
    assert await _rows_holding(clean_db, code) == []

    rotate = {"subscriptionId": payload["subscription"]["id"]}
    rotated = await client.post("/graphql", json={"query": ROTATE, "variables": {"input": rotate}})
    new_code = rotated.json()["data"]["rotateActivationCode"]["activationCode"]
    assert await _rows_holding(clean_db, code, new_code) == []
