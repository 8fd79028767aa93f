"""cancelSubscription, renewSubscription, changeSubscription and rotateActivationCode over
HTTP with real tokens: what changes, what is audited, who may, and every refusal."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id
from domain.model.activation_code import hash_activation_code, is_activation_code
from domain.model.customer import Membership
from domain.model.enums import Channel, Deployment, Role
from domain.model.subscription import Subscription
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for

FIELDS = "id status seats autoRenew cancelAtPeriodEnd terms { segments { startDate seats } }"


def _mutation(name: str, extra: str = "") -> str:
    input_type = name[0].upper() + name[1:] + "Input"
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{"
        f" subscription {{ {FIELDS} }} {extra} errors {{ code message path }} }} }}"
    )


async def _call(http: httpx.AsyncClient, name: str, extra: str = "", **fields: Any) -> Any:
    response = await http.post(
        "/graphql", json={"query": _mutation(name, extra), "variables": {"input": fields}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["data"][name] if body.get("data") else body


async def _world(db: Database) -> dict[str, Any]:
    acme, other = f.customer("Acme"), f.customer("Other")
    ramp = f.subscription(acme, seats=(10, 20, 30))
    saas = f.subscription(acme, deployment=Deployment.GITLAB_COM)
    resold = dataclasses.replace(
        f.subscription(other), channel=Channel.RESELLER, partner_id="partner-b"
    )
    await f.store(db, acme, other, ramp, saas, resold)
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(acme.id, "usr_owner", Role.OWNER))
        await uow.customers.add_membership(Membership(acme.id, "usr_viewer", Role.VIEWER))
        await uow.customers.add_membership(Membership(other.id, "usr_other", Role.OWNER))
        await uow.commit()
    return {"ramp": ramp, "saas": saas, "resold": resold}


def _gid(sub: Subscription) -> str:
    return global_id("Subscription", sub.id)


async def test_cancel_at_period_end_then_now(client: httpx.AsyncClient, clean_db: Database) -> None:
    world = await _world(clean_db)
    sub = _gid(world["ramp"])
    later = await _call(client, "cancelSubscription", subscriptionId=sub, reason="budget")
    assert later["errors"] == []
    assert later["subscription"]["status"] == "ACTIVE"
    assert later["subscription"]["cancelAtPeriodEnd"] is True
    assert later["subscription"]["autoRenew"] is False
    twice = await _call(client, "cancelSubscription", subscriptionId=sub)
    assert [e["code"] for e in twice["errors"]] == ["SUBSCRIPTION_ALREADY_CANCELLED"]
    now = await _call(client, "cancelSubscription", subscriptionId=sub, atPeriodEnd=False)
    assert now["subscription"]["status"] == "CANCELLED"
    again = await _call(client, "renewSubscription", subscriptionId=sub, term={"segments": []})
    assert [e["code"] for e in again["errors"]] == ["VALIDATION_FAILED"]
    audit = await clean_db.fetch("SELECT action, before, after FROM audit_entry ORDER BY at, id")
    assert [row["action"] for row in audit] == ["cancelSubscription", "cancelSubscription"]
    assert json.loads(audit[0]["before"]) == {"autoRenew": True, "cancelAtPeriodEnd": False}
    assert json.loads(audit[0]["after"]) == {"autoRenew": False, "cancelAtPeriodEnd": True}


async def test_renew_adds_a_term_that_starts_when_the_last_ends(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    saas: Subscription = world["saas"]
    end = saas.end_date
    term = {
        "segments": [
            {"startDate": str(end), "endDate": str(end + timedelta(days=365)), "seats": 40}
        ]
    }
    renewed = await _call(client, "renewSubscription", subscriptionId=_gid(saas), term=term)
    assert renewed["errors"] == []
    assert len(renewed["subscription"]["terms"]) == 2
    gap = {
        "segments": [
            {"startDate": str(end + timedelta(days=1)), "endDate": "2031-01-01", "seats": 1}
        ]
    }
    refused = await _call(client, "renewSubscription", subscriptionId=_gid(saas), term=gap)
    assert refused["errors"][0]["path"] == ["term"]


async def test_change_the_current_or_a_future_segment_never_a_past_one(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    ramp: Subscription = world["ramp"]
    sub = _gid(ramp)
    current = await _call(client, "changeSubscription", subscriptionId=sub, seats=15)
    assert current["errors"] == []
    assert current["subscription"]["seats"] == 15
    future_start = str(ramp.segments[2].start_date)
    future = await _call(
        client, "changeSubscription", subscriptionId=sub, seats=99, segmentStartDate=future_start
    )
    segments = future["subscription"]["terms"][0]["segments"]
    assert [s["seats"] for s in segments] == [15, 20, 99]
    nothing = await _call(client, "changeSubscription", subscriptionId=sub)
    assert [e["code"] for e in nothing["errors"]] == ["VALIDATION_FAILED"]
    nowhere = await _call(
        client, "changeSubscription", subscriptionId=sub, seats=5, segmentStartDate="2020-01-01"
    )
    assert nowhere["errors"][0]["path"] == ["segmentStartDate"]
    zero = await _call(client, "changeSubscription", subscriptionId=sub, seats=0)
    assert zero["errors"][0]["path"] == ["seats"]
    renew_off = await _call(client, "changeSubscription", subscriptionId=sub, autoRenew=False)
    assert renew_off["subscription"]["autoRenew"] is False


async def test_rotate_gives_a_new_code_for_self_managed_only(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    rotated = await _call(
        client, "rotateActivationCode", "activationCode", subscriptionId=_gid(world["ramp"])
    )
    assert rotated["errors"] == []
    code = rotated["activationCode"]
    assert is_activation_code(code)
    assert await clean_db.fetchval("SELECT code_hash FROM activation_code") == (
        hash_activation_code(code)
    )
    saas = await _call(
        client, "rotateActivationCode", "activationCode", subscriptionId=_gid(world["saas"])
    )
    assert [e["code"] for e in saas["errors"]] == ["VALIDATION_FAILED"]


@pytest.mark.parametrize(
    ("who", "outcome"),
    [
        ({"kind": PrincipalKind.PORTAL_USER, "subject": "usr_owner"}, "OK"),
        ({"kind": PrincipalKind.PORTAL_USER, "subject": "usr_viewer"}, "FORBIDDEN"),
        ({"kind": PrincipalKind.PORTAL_USER, "subject": "usr_other"}, "NOT_FOUND"),
        ({"kind": PrincipalKind.PARTNER, "subject": "b", "partner": "partner-b"}, "NOT_FOUND"),
        ({"kind": PrincipalKind.GITLAB_COM, "subject": "gitlab"}, "FORBIDDEN"),
    ],
)
async def test_who_may_change_acmes_subscription(
    who: dict[str, Any],
    outcome: str,
    app: Starlette,
    anonymous: httpx.AsyncClient,
    clean_db: Database,
) -> None:
    world = await _world(clean_db)
    anonymous.headers.update(bearer(token_for(app, **who)))
    answer = await _call(
        anonymous, "changeSubscription", subscriptionId=_gid(world["ramp"]), seats=11
    )
    if outcome == "OK":
        assert answer["errors"] == []
        assert answer["subscription"]["seats"] == 11
    elif outcome == "NOT_FOUND":  # another tenant's subscription does not exist for them
        assert [e["code"] for e in answer["errors"]] == ["NOT_FOUND"]
    else:
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]
    seats = await clean_db.fetchval(
        "SELECT seats FROM subscription_segment WHERE subscription = $1 ORDER BY start_date",
        world["ramp"].id,
    )
    assert seats == (11 if outcome == "OK" else 10)


async def test_a_partner_changes_what_it_sold(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    anonymous.headers.update(
        bearer(token_for(app, PrincipalKind.PARTNER, subject="b", partner="partner-b"))
    )
    answer = await _call(anonymous, "cancelSubscription", subscriptionId=_gid(world["resold"]))
    assert answer["errors"] == []
    assert answer["subscription"]["cancelAtPeriodEnd"] is True


async def test_an_idempotent_cancel_replays(client: httpx.AsyncClient, clean_db: Database) -> None:
    world = await _world(clean_db)
    sub = _gid(world["ramp"])
    first = await _call(client, "cancelSubscription", subscriptionId=sub, idempotencyKey="c-1")
    again = await _call(client, "cancelSubscription", subscriptionId=sub, idempotencyKey="c-1")
    assert first["errors"] == again["errors"] == []
    assert again["subscription"] == first["subscription"]
    other = await _call(
        client, "cancelSubscription", subscriptionId=sub, idempotencyKey="c-1", atPeriodEnd=False
    )
    assert [e["code"] for e in other["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert await clean_db.fetchval("SELECT count(*) FROM audit_entry") == 1


@pytest.mark.parametrize("how", ["EXPIRED", "CANCELLED"])
async def test_an_ended_subscription_is_not_renewed(
    how: str, client: httpx.AsyncClient, clean_db: Database
) -> None:
    acme = f.customer("Acme")
    # Ended a month before the test's day, or cancelled in the middle of its term.
    ended = (
        f.subscription(acme, start=f.TODAY - timedelta(days=400))
        if how == "EXPIRED"
        else f.subscription(acme, cancelled=True)
    )
    await f.store(clean_db, acme, ended)
    end = ended.end_date
    term = {
        "segments": [
            {"startDate": str(end), "endDate": str(end + timedelta(days=365)), "seats": 10}
        ]
    }
    refused = await _call(client, "renewSubscription", subscriptionId=_gid(ended), term=term)
    assert [e["code"] for e in refused["errors"]] == ["SUBSCRIPTION_NOT_ACTIVE"]
    segments = await clean_db.fetchval(
        "SELECT count(*) FROM subscription_segment WHERE subscription = $1", ended.id
    )
    assert segments == 1
    assert await clean_db.fetchval("SELECT count(*) FROM audit_entry") == 0


async def test_a_subscription_cancelled_at_period_end_does_not_renew_again(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    sub = _gid(world["ramp"])
    cancelled = await _call(client, "cancelSubscription", subscriptionId=sub)
    assert cancelled["subscription"]["cancelAtPeriodEnd"] is True
    refused = await _call(client, "changeSubscription", subscriptionId=sub, autoRenew=True)
    assert [(e["code"], e["path"]) for e in refused["errors"]] == [
        ("VALIDATION_FAILED", ["autoRenew"])
    ]
    auto_renew = await clean_db.fetchval(
        "SELECT auto_renew FROM subscription WHERE id = $1", world["ramp"].id
    )
    assert auto_renew is False
