"""Activation over HTTP: an instance with nothing but a code gets a signed license; the same
instance gets the same key; an overage never blocks it; the instance limit holds under 50
concurrent activations; bad, unknown, rotated, legacy and ended subscriptions are refused with
clear errors; guessing is rate limited. GitLab's own cloudActivationActivate answers the same
way."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from auth.licenses.envelope import decode
from auth.licenses.keys import load_public_key
from domain.model.usage import UsageReport
from persistence.database import Database

import factories as f

CREATE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id } activationCode errors { code } } }"""
ACTIVATE = """mutation($input: ActivateSubscriptionInput!) { activateSubscription(input: $input) {
  license { seats expiresAt } licenseKey instance { instanceIdentifier hostname }
  futureSubscriptions { plan startsAt expiresAt usersInLicenseCount }
  errors { code message path } } }"""
CLOUD = """mutation($input: CloudActivationActivateInput!) {
  cloudActivationActivate(input: $input) { licenseKey futureSubscriptions { plan } errors } }"""
RAMP = [
    {"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": 100},
    {"startDate": "2027-11-01", "endDate": "2028-11-01", "seats": 250},
    {"startDate": "2028-11-01", "endDate": "2029-11-01", "seats": 500},
]


async def _sell(staff: httpx.AsyncClient, **overrides: Any) -> tuple[str, str]:
    fields = {
        "deployment": "SELF_MANAGED",
        "plan": "ULTIMATE",
        "term": {"segments": RAMP},
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": "ada@acme.test"},
        **overrides,
    }
    body = (
        await staff.post("/graphql", json={"query": CREATE, "variables": {"input": fields}})
    ).json()
    created = body["data"]["createSubscription"]
    assert created["errors"] == [], created
    return created["subscription"]["id"], created["activationCode"]


async def _activate(
    http: httpx.AsyncClient, code: str, instance: str | None = None, **more: Any
) -> Any:
    fields = {"activationCode": code, "instanceIdentifier": instance or str(uuid.uuid4()), **more}
    response = await http.post("/graphql", json={"query": ACTIVATE, "variables": {"input": fields}})
    assert response.status_code == 200, response.text
    return response.json()["data"]["activateSubscription"]


async def _cloud(http: httpx.AsyncClient, code: str, instance: str | None = None) -> Any:
    fields = {
        "activationCode": code,
        "instanceIdentifier": instance or str(uuid.uuid4()),
        "automated": False,
        "gitlabVersion": "18.6.0",
        "hostname": "gitlab.acme.test",
    }
    response = await http.post("/graphql", json={"query": CLOUD, "variables": {"input": fields}})
    return response.json()["data"]["cloudActivationActivate"]


async def _attributes(database_url: str, key: str) -> dict[str, Any]:
    connection = await asyncpg.connect(database_url)
    try:
        public = await load_public_key(connection)
    finally:
        await connection.close()
    assert public is not None
    return decode(key, public)


async def test_a_three_year_ramp_activates_for_the_whole_term(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
    _, code = await _sell(client)
    instance = str(uuid.uuid4())
    answer = await _activate(anonymous, code, instance, hostname="gitlab.acme.test")
    assert answer["errors"] == []
    assert answer["license"] == {"seats": 100, "expiresAt": "2029-11-01"}
    assert answer["instance"] == {"instanceIdentifier": instance, "hostname": "gitlab.acme.test"}
    attributes = await _attributes(database_url, answer["licenseKey"])
    assert attributes["expires_at"] == "2029-11-01"  # never after year one
    assert attributes["issued_at"] == "2026-11-01"
    assert attributes["restrictions"]["active_user_count"] == 100
    assert attributes["licensee"]["Company"] == "Acme"

    again = await _activate(anonymous, code, instance)
    assert again["licenseKey"] == answer["licenseKey"]  # byte for byte
    assert await clean_db.fetchval("SELECT count(*) FROM license") == 1
    assert await clean_db.fetchval("SELECT count(*) FROM instance") == 1


async def test_future_terms_are_listed(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    sub, code = await _sell(client, term={"segments": [RAMP[0]]})
    renew = """mutation($input: RenewSubscriptionInput!) { renewSubscription(input: $input) {
      errors { code } } }"""
    term = {"segments": [{"startDate": "2027-11-01", "endDate": "2028-11-01", "seats": 120}]}
    body = await client.post(
        "/graphql",
        json={"query": renew, "variables": {"input": {"subscriptionId": sub, "term": term}}},
    )
    assert body.json()["data"]["renewSubscription"]["errors"] == []
    answer = await _activate(anonymous, code)
    assert answer["futureSubscriptions"] == [
        {
            "plan": "ultimate",
            "startsAt": "2027-11-01",
            "expiresAt": "2028-11-01",
            "usersInLicenseCount": 120,
        }
    ]


async def test_the_instance_limit(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    _, one = await _sell(client)
    assert (await _activate(anonymous, one))["errors"] == []
    refused = await _activate(anonymous, one)
    assert [e["code"] for e in refused["errors"]] == ["INSTANCE_LIMIT_REACHED"]
    _, two = await _sell(client, maxInstances=2)
    assert (await _activate(anonymous, two))["errors"] == []
    assert (await _activate(anonymous, two))["errors"] == []
    assert [e["code"] for e in (await _activate(anonymous, two))["errors"]] == [
        "INSTANCE_LIMIT_REACHED"
    ]


async def test_fifty_instances_racing_for_one_seat_leave_one_instance(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    _, code = await _sell(client)
    answers = await asyncio.gather(*(_activate(anonymous, code) for _ in range(50)))
    won = [a for a in answers if not a["errors"]]
    lost = [a for a in answers if a["errors"]]
    assert len(won) == 1
    assert {e["code"] for a in lost for e in a["errors"]} == {"INSTANCE_LIMIT_REACHED"}
    assert await clean_db.fetchval("SELECT count(*) FROM instance") == 1


async def test_bad_unknown_and_rotated_codes(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    sub, code = await _sell(client)
    for bad in ("short", "abcdefghijklmnopqrstuvwx", "ABCDEFGHIJKLMNOPQRSTUVW!", ""):
        answer = await _activate(anonymous, bad)
        assert [e["code"] for e in answer["errors"]] == ["ACTIVATION_CODE_INVALID"], bad
    unknown = await _activate(anonymous, "ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert [e["code"] for e in unknown["errors"]] == ["ACTIVATION_CODE_INVALID"]
    rotate = """mutation($input: RotateActivationCodeInput!) { rotateActivationCode(input: $input) {
      activationCode errors { code } } }"""
    rotated = await client.post(
        "/graphql", json={"query": rotate, "variables": {"input": {"subscriptionId": sub}}}
    )
    new_code = rotated.json()["data"]["rotateActivationCode"]["activationCode"]
    assert [e["code"] for e in (await _activate(anonymous, code))["errors"]] == [
        "ACTIVATION_CODE_INVALID"
    ]
    assert (await _activate(anonymous, new_code))["errors"] == []
    bad_instance = await _activate(anonymous, new_code, "not-a-uuid")
    assert [e["code"] for e in bad_instance["errors"]] == ["VALIDATION_FAILED"]
    assert await clean_db.fetchval("SELECT count(*) FROM instance") == 1


async def test_legacy_and_ended_subscriptions_do_not_activate(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    _, legacy = await _sell(client, licensingMode="LEGACY")
    assert [e["code"] for e in (await _activate(anonymous, legacy))["errors"]] == [
        "SUBSCRIPTION_NOT_CLOUD_LICENSABLE"
    ]
    sub, code = await _sell(client)
    cancel = """mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) {
      errors { code } } }"""
    await client.post(
        "/graphql",
        json={
            "query": cancel,
            "variables": {"input": {"subscriptionId": sub, "atPeriodEnd": False}},
        },
    )
    assert [e["code"] for e in (await _activate(anonymous, code))["errors"]] == [
        "SUBSCRIPTION_NOT_ACTIVE"
    ]
    assert await clean_db.fetchval("SELECT count(*) FROM license") == 0


async def test_cloud_activation_speaks_gitlabs_shape(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    _, code = await _sell(client)
    ok = await _cloud(anonymous, code)
    assert ok["errors"] == []
    assert ok["licenseKey"].endswith("\n")
    invalid = await _cloud(anonymous, "ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert invalid["licenseKey"] is None
    assert any("invalid activation code" in e for e in invalid["errors"])
    _, legacy = await _sell(client, licensingMode="LEGACY")
    refused = await _cloud(anonymous, legacy)
    assert any("without cloud compatible subscription" in e for e in refused["errors"])


async def test_guessing_is_rate_limited(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    _, code = await _sell(client)
    for n in range(30):
        guess = f"GUESS{n:019d}"
        assert [e["code"] for e in (await _activate(anonymous, guess))["errors"]] == [
            "ACTIVATION_CODE_INVALID"
        ]
    # The address is now limited: even the right code waits.
    limited = await _activate(anonymous, code)
    assert [e["code"] for e in limited["errors"]] == ["RATE_LIMITED"]
    assert await clean_db.fetchval("SELECT count(*) FROM instance") == 0


async def test_an_overage_does_not_block_activation(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    _, code = await _sell(client)
    subscription_id = await clean_db.fetchval("SELECT id FROM subscription")
    # 400 users seen on 100 seats: reported (an overage of 300), never enforced.
    usage = UsageReport(
        subscription_id, billable_users=380, max_historical_users=400, reported_at=f.NOW
    )
    await f.store(clean_db, usage)
    answer = await _activate(anonymous, code)
    assert answer["errors"] == []
    assert answer["license"]["seats"] == 100
    assert await clean_db.fetchval("SELECT count(*) FROM instance") == 1


async def test_non_ascii_codes_are_ordinary_invalid_codes(
    anonymous: httpx.AsyncClient, clean_db: Database, caplog: Any
) -> None:
    for code in ["Ä" * 24, "😀" * 24, "Ä" + "A" * 23]:
        activated = await _activate(anonymous, code)
        assert [e["code"] for e in activated["errors"]] == ["ACTIVATION_CODE_INVALID"]
        assert "invalid activation code" in activated["errors"][0]["message"]
        cloud = await _cloud(anonymous, code)
        assert cloud["licenseKey"] is None
        assert any("invalid activation code" in e for e in cloud["errors"])
    assert [r for r in caplog.records if r.exc_info] == []
