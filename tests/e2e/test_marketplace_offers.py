"""The staff's marketplace offer mapping over GraphQL (set, list with pages and a filter,
update, delete, bad values as payload errors) and the CLI (`provision marketplace offers
list|set|delete`, a process of its own on DATABASE_URL); the inbox list for staff."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from domain.model.marketplace import Marketplace
from persistence.database import Database
from persistence.marketplace import PostgresMarketplaceInbox

from clocks import SESSION_CLOCK
from graphql_client import GraphQL

PROVISION = [sys.executable, "-m", "api.cli.main"]
SET = """mutation($input: SetMarketplaceOfferInput!) { setMarketplaceOffer(input: $input) {
  marketplaceOffer { id marketplace offer planKey plan deployment seats termMonths }
  errors { code path message } } }"""
UPDATE = """mutation($input: UpdateMarketplaceOfferInput!) { updateMarketplaceOffer(input: $input)
  { marketplaceOffer { id seats termMonths plan } errors { code path } } }"""
DELETE = """mutation($id: ID!) { deleteMarketplaceOffer(input: {id: $id}) {
  marketplaceOffer { id } errors { code } } }"""
LIST = """query($after: String, $m: Marketplace) {
  marketplaceOffers(first: 2, after: $after, marketplace: $m) { totalCount
    pageInfo { hasNextPage endCursor } edges { node { offer planKey } } } }"""
INBOX = """query($state: MarketplaceInboxState) { marketplaceInbox(first: 10, state: $state) {
  totalCount edges { node { marketplace messageId state subscriptionKey provisionEventId
  payload } } } }"""


def _offer(**overrides: object) -> dict[str, object]:
    return {
        "marketplace": "AZURE",
        "offer": "provision-saas",
        "planKey": "ultimate-yearly",
        "plan": "ULTIMATE",
        "deployment": "GITLAB_COM",
        **overrides,
    }


async def test_staff_set_list_update_and_delete_offers(gql: GraphQL, clean_db: Database) -> None:
    created = (await gql(SET, input=_offer()))["data"]["setMarketplaceOffer"]
    assert created["errors"] == []
    node = created["marketplaceOffer"]
    assert {k: v for k, v in node.items() if k != "id"} == {
        "marketplace": "AZURE",
        "offer": "provision-saas",
        "planKey": "ultimate-yearly",
        "plan": "ULTIMATE",
        "deployment": "GITLAB_COM",
        "seats": None,
        "termMonths": 12,
    }
    # The same marketplace, offer and plan again replaces it (same id).
    again = (await gql(SET, input=_offer(seats=10)))["data"]["setMarketplaceOffer"]
    assert again["marketplaceOffer"]["id"] == node["id"]
    assert again["marketplaceOffer"]["seats"] == 10
    for plan_key in ("premium-monthly", "premium-yearly"):
        await gql(SET, input=_offer(planKey=plan_key, plan="PREMIUM"))
    await gql(SET, input=_offer(marketplace="AWS", offer="prod-1", planKey="users"))

    first = (await gql(LIST, m="AZURE"))["data"]["marketplaceOffers"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await gql(LIST, m="AZURE", after=first["pageInfo"]["endCursor"]))["data"]
    keys = [e["node"]["planKey"] for e in first["edges"] + rest["marketplaceOffers"]["edges"]]
    assert keys == ["ultimate-yearly", "premium-monthly", "premium-yearly"]
    assert (await gql(LIST))["data"]["marketplaceOffers"]["totalCount"] == 4

    updated = (await gql(UPDATE, input={"id": node["id"], "seatsFromQuantity": True}))["data"]
    assert updated["updateMarketplaceOffer"]["marketplaceOffer"]["seats"] is None
    changed = await gql(UPDATE, input={"id": node["id"], "termMonths": 36, "plan": "PREMIUM"})
    assert changed["data"]["updateMarketplaceOffer"]["marketplaceOffer"] == {
        "id": node["id"],
        "seats": None,
        "termMonths": 36,
        "plan": "PREMIUM",
    }
    deleted = (await gql(DELETE, id=node["id"]))["data"]["deleteMarketplaceOffer"]
    assert deleted == {"marketplaceOffer": {"id": node["id"]}, "errors": []}
    gone = (await gql(DELETE, id=node["id"]))["data"]["deleteMarketplaceOffer"]
    assert [e["code"] for e in gone["errors"]] == ["NOT_FOUND"]


async def test_every_offer_change_is_audited_with_its_actor_before_and_after(
    gql: GraphQL, clean_db: Database
) -> None:
    created = (await gql(SET, input=_offer()))["data"]["setMarketplaceOffer"]
    offer_id = created["marketplaceOffer"]["id"]
    await gql(SET, input=_offer(seats=10))
    await gql(UPDATE, input={"id": offer_id, "termMonths": 36})
    await gql(DELETE, id=offer_id)
    # A refused change (no such offer any more) records nothing.
    await gql(UPDATE, input={"id": offer_id, "termMonths": 24})
    rows = await clean_db.fetch(
        "SELECT actor_kind, actor_subject, action, object_type, object_id, before, after"
        " FROM audit_entry WHERE object_type = 'MarketplaceOffer' ORDER BY at, action DESC"
    )
    assert [r["action"] for r in rows] == [
        "setMarketplaceOffer",
        "setMarketplaceOffer",
        "updateMarketplaceOffer",
        "deleteMarketplaceOffer",
    ]
    assert {(r["actor_kind"], r["object_type"]) for r in rows} == {("STAFF", "MarketplaceOffer")}
    assert all(r["actor_subject"] for r in rows)
    assert len({r["object_id"] for r in rows}) == 1
    changes = [
        (
            json.loads(r["before"]) if r["before"] else None,
            json.loads(r["after"]) if r["after"] else None,
        )
        for r in rows
    ]
    assert changes[0][0] in (None, {})
    assert changes[0][1]["planKey"] == "ultimate-yearly"
    assert changes[0][1]["plan"] == "ULTIMATE"
    assert changes[1] == ({"seats": None}, {"seats": 10})
    assert changes[2] == ({"termMonths": 12}, {"termMonths": 36})
    assert changes[3][0]["seats"] == 10
    assert changes[3][1] in (None, {})


async def test_bad_offer_values_are_payload_errors(gql: GraphQL, clean_db: Database) -> None:
    cases = {
        "termMonths": _offer(termMonths=0),
        "seats": _offer(seats=0),
        "plan": _offer(plan="FREE"),
        "offer": _offer(offer="  "),
    }
    for path, fields in cases.items():
        body = (await gql(SET, input=fields))["data"]["setMarketplaceOffer"]
        assert body["marketplaceOffer"] is None
        assert [(e["code"], e["path"]) for e in body["errors"]] == [("VALIDATION_FAILED", [path])]
    node = (await gql(SET, input=_offer()))["data"]["setMarketplaceOffer"]["marketplaceOffer"]
    bad = (await gql(UPDATE, input={"id": node["id"], "termMonths": 61}))["data"]
    assert [e["code"] for e in bad["updateMarketplaceOffer"]["errors"]] == ["VALIDATION_FAILED"]
    wrong = await gql(UPDATE, input={"id": "sub_" + "0" * 32, "seats": 3})
    errors = wrong["data"]["updateMarketplaceOffer"]["errors"]
    assert [(e["code"], e["path"]) for e in errors] == [("VALIDATION_FAILED", ["id"])]
    assert await clean_db.fetchval("SELECT count(*) FROM marketplace_offer") == 1


async def test_staff_read_the_inbox_with_its_ledger_rows(gql: GraphQL, clean_db: Database) -> None:
    inbox = PostgresMarketplaceInbox(clean_db, SESSION_CLOCK, 3)
    assert await inbox.receive(Marketplace.STRIPE, "evt_1", {"id": "evt_1"}, "sub_1")
    assert not await inbox.receive(Marketplace.STRIPE, "evt_1", {"id": "evt_1"}, "sub_1")
    assert await inbox.receive(Marketplace.AWS, "m-1", {"type": "notification"})
    body = (await gql(INBOX))["data"]["marketplaceInbox"]
    assert body["totalCount"] == 2
    nodes = [e["node"] for e in body["edges"]]
    assert [(n["marketplace"], n["messageId"], n["state"]) for n in nodes] == [
        ("AWS", "m-1", "RECEIVED"),
        ("STRIPE", "evt_1", "RECEIVED"),
    ]
    assert nodes[1]["payload"] == {"id": "evt_1"}
    ledger = await gql(
        "query($id: ID!) { node(id: $id) { ... on ProvisionEvent { kind status } } }",
        id=nodes[1]["provisionEventId"],
    )
    assert ledger["data"]["node"] == {"kind": "MARKETPLACE_EVENT", "status": "PENDING"}
    applied = (await gql(INBOX, state="APPLIED"))["data"]["marketplaceInbox"]
    assert applied["totalCount"] == 0


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url)
    return subprocess.run(
        [*PROVISION, "marketplace", "offers", *args],
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )


async def test_the_cli_sets_lists_and_deletes_offers(clean_db: Database, database_url: str) -> None:
    made = _run(
        database_url,
        "set", "--marketplace", "AWS", "--offer", "prod-1", "--plan-key", "users",
        "--plan", "PREMIUM", "--deployment", "SELF_MANAGED", "--term-months", "24",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()
    mapping = json.loads(made.stdout)
    assert (mapping["plan"], mapping["seats"], mapping["termMonths"]) == ("PREMIUM", None, 24)
    listed = _run(database_url, "list", "--marketplace", "AWS")
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [mapping["id"]]
    refused = _run(
        database_url,
        "set", "--marketplace", "AWS", "--offer", "prod-1", "--plan-key", "users",
        "--plan", "PREMIUM", "--deployment", "SELF_MANAGED", "--seats", "0",
    )  # fmt: skip
    assert refused.returncode == 1
    assert b"seats is 1-" in refused.stderr
    assert _run(database_url, "delete", mapping["id"]).returncode == 0
    assert _run(database_url, "delete", mapping["id"]).returncode == 1
    assert await clean_db.fetchval("SELECT count(*) FROM marketplace_offer") == 0
