"""linkNamespace / unlinkNamespace over HTTP with real tokens: the rules and their error
codes, the ledger rows written with the change (and not without it), relinking, and 50
subscriptions racing for one group."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id
from domain.model.customer import Membership
from domain.model.enums import Deployment, NamespaceKind, Role
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for

LINK = """mutation($input: LinkNamespaceInput!) { linkNamespace(input: $input) {
  subscription { name namespace { gitlabId } } namespace { gitlabId } errors { code path } } }"""
UNLINK = """mutation($input: UnlinkNamespaceInput!) { unlinkNamespace(input: $input) {
  subscription { namespace { gitlabId } } errors { code } } }"""
ALICE = {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_alice", "email": "alice@acme.test"}


async def _world(db: Database) -> dict[str, Any]:
    acme, other = f.customer("Acme"), f.customer("Other")
    owned = {"owner_emails": ("Alice@Acme.test",)}
    objects = {
        "acme": acme,
        "other": other,
        "group": dataclasses.replace(f.namespace(100), **owned),
        "second": dataclasses.replace(f.namespace(300), **owned),
        "subgroup": dataclasses.replace(f.namespace(101, parent=100), **owned),
        "personal": dataclasses.replace(f.namespace(102), kind=NamespaceKind.USER, **owned),
        "foreign": f.namespace(200),
        "saas": f.subscription(acme, deployment=Deployment.GITLAB_COM),
        "saas2": f.subscription(acme, deployment=Deployment.GITLAB_COM),
        "self_managed": f.subscription(acme),
        "ended": f.subscription(acme, deployment=Deployment.GITLAB_COM, cancelled=True),
        "theirs": f.subscription(other, deployment=Deployment.GITLAB_COM),
    }
    await f.store(db, *objects.values())
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(acme.id, "usr_alice", Role.OWNER))
        await uow.customers.add_membership(Membership(acme.id, "usr_vic", Role.VIEWER))
        await uow.commit()
    return objects


def _ids(world: dict[str, Any], subscription: str, namespace: str) -> dict[str, str]:
    return {
        "subscriptionId": global_id("Subscription", world[subscription].id),
        "namespaceId": global_id("Namespace", world[namespace].id),
    }


async def _link(http: httpx.AsyncClient, fields: dict[str, str]) -> Any:
    body = (
        await http.post("/graphql", json={"query": LINK, "variables": {"input": fields}})
    ).json()
    return body["data"]["linkNamespace"] if body.get("data") else body


async def _events(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT kind, payload, correlation_id FROM provision_event ORDER BY id")
    return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]


async def test_an_owner_links_then_relinks_and_the_old_group_reverts(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    anonymous.headers.update(bearer(token_for(app, **ALICE)))
    linked = await _link(anonymous, _ids(world, "saas", "group"))
    assert linked["errors"] == []
    assert linked["subscription"]["namespace"] == {"gitlabId": 100}
    [event] = await _events(clean_db)
    assert event["kind"] == "NAMESPACE_PROVISION"
    assert event["payload"]["namespace"] == 100
    base = event["payload"]["provision"]["base_product"]
    assert (base["plan_code"], base["seats"], base["trial"]) == ("premium", 10, False)

    moved = await _link(anonymous, _ids(world, "saas", "second"))
    assert moved["errors"] == []
    _, revert, provision = await _events(clean_db)
    assert (revert["payload"]["namespace"], provision["payload"]["namespace"]) == (100, 300)
    assert revert["payload"]["provision"]["base_product"]["plan_code"] == "free"
    assert revert["correlation_id"] == provision["correlation_id"]
    audit = await clean_db.fetch("SELECT action FROM audit_entry")
    assert [row["action"] for row in audit] == ["linkNamespace", "linkNamespace"]


@pytest.mark.parametrize(
    ("subscription", "namespace", "code"),
    [
        ("saas", "subgroup", "NAMESPACE_NOT_TOP_LEVEL"),
        ("saas", "personal", "NAMESPACE_NOT_TOP_LEVEL"),
        ("saas", "foreign", "NOT_FOUND"),  # a group out of reach does not exist either
        ("self_managed", "group", "SUBSCRIPTION_NOT_SAAS"),
        ("ended", "group", "SUBSCRIPTION_NOT_ACTIVE"),
        ("theirs", "group", "NOT_FOUND"),  # another customer's subscription does not exist
    ],
)
async def test_each_rule_has_its_code_and_nothing_is_written(
    subscription: str,
    namespace: str,
    code: str,
    app: Starlette,
    anonymous: httpx.AsyncClient,
    clean_db: Database,
) -> None:
    world = await _world(clean_db)
    anonymous.headers.update(bearer(token_for(app, **ALICE)))
    answer = await _link(anonymous, _ids(world, subscription, namespace))
    assert [e["code"] for e in answer["errors"]] == [code]
    assert await _events(clean_db) == []
    assert await clean_db.fetchval("SELECT count(*) FROM audit_entry") == 0


async def test_one_active_subscription_per_group(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    assert (await _link(client, _ids(world, "saas", "group")))["errors"] == []
    taken = await _link(client, _ids(world, "saas2", "group"))
    assert [e["code"] for e in taken["errors"]] == ["NAMESPACE_ALREADY_LINKED"]
    assert len(await _events(clean_db)) == 1


@pytest.mark.parametrize("how", ["EXPIRED", "CANCELLED"])
async def test_an_ended_subscription_lets_go_of_its_group(
    how: str, client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    group = world["group"]
    # Ended a month before the test's day, or cancelled in the middle of its term.
    held: dict[str, Any] = {"deployment": Deployment.GITLAB_COM, "namespace_id": group.id}
    ended = (
        f.subscription(world["acme"], **held, start=f.TODAY - timedelta(days=400))
        if how == "EXPIRED"
        else f.subscription(world["acme"], **held, cancelled=True)
    )
    await f.store(clean_db, ended)
    linked = await _link(client, _ids(world, "saas", "group"))
    assert linked["errors"] == []
    assert linked["subscription"]["namespace"] == {"gitlabId": 100}
    holders = await clean_db.fetch("SELECT id FROM subscription WHERE namespace = $1", group.id)
    assert [row["id"] for row in holders] == [world["saas"].id]


async def test_who_may_link(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    for who, code in (
        (
            {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_vic", "email": "alice@acme.test"},
            "FORBIDDEN",
        ),
        ({"kind": PrincipalKind.GITLAB_COM, "subject": "gitlab"}, "FORBIDDEN"),
        ({"kind": PrincipalKind.PARTNER, "subject": "p", "partner": "p-1"}, "FORBIDDEN"),
    ):
        anonymous.headers.update(bearer(token_for(app, **who)))
        answer = await _link(anonymous, _ids(world, "saas", "group"))
        assert [e["extensions"]["code"] for e in answer["errors"]] == [code], who
    assert await _events(clean_db) == []


async def test_staff_unlink_reverts_the_group(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    await _link(client, _ids(world, "saas", "group"))
    fields = {"subscriptionId": global_id("Subscription", world["saas"].id)}
    anonymous.headers.update(bearer(token_for(app, **ALICE)))
    refused = (
        await anonymous.post("/graphql", json={"query": UNLINK, "variables": {"input": fields}})
    ).json()
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    done = (
        await client.post("/graphql", json={"query": UNLINK, "variables": {"input": fields}})
    ).json()
    assert done["data"]["unlinkNamespace"] == {"subscription": {"namespace": None}, "errors": []}
    _, revert = await _events(clean_db)
    assert revert["payload"]["provision"]["base_product"]["plan_code"] == "free"
    again = (
        await client.post("/graphql", json={"query": UNLINK, "variables": {"input": fields}})
    ).json()
    assert [e["code"] for e in again["data"]["unlinkNamespace"]["errors"]] == ["NOT_FOUND"]


async def test_fifty_subscriptions_racing_for_one_group(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    racers = [f.subscription(world["acme"], deployment=Deployment.GITLAB_COM) for _ in range(50)]
    await f.store(clean_db, *racers)
    group = global_id("Namespace", world["group"].id)
    answers = await asyncio.gather(
        *(
            _link(client, {"subscriptionId": global_id("Subscription", s.id), "namespaceId": group})
            for s in racers
        )
    )
    won = [a for a in answers if not a["errors"]]
    assert len(won) == 1
    assert {e["code"] for a in answers for e in a["errors"]} == {"NAMESPACE_ALREADY_LINKED"}
    assert (
        await clean_db.fetchval("SELECT count(*) FROM subscription WHERE namespace IS NOT NULL")
        == 1
    )
    assert len(await _events(clean_db)) == 1
