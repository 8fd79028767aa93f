"""Partners over HTTP with real tokens: staff register and list them, a partner sees only
itself, a reseller's customer meets MANAGED_BY_PARTNER naming the partner (and the field that
says so beforehand), and staff move subscriptions between channels now or at a later moment."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id
from auth.registry import register_user
from domain.model.customer import Membership
from domain.model.enums import Channel, Role
from domain.model.partner import Partner, PartnerKind
from domain.principal import PrincipalKind
from domain.use_cases.transfer_subscription import ApplyDueTransfers
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from fakes import FixedClock
from oauth_flow import PASSWORD, code_for, exchange, pkce, portal_client
from oauth_flow import store as oauth_store

OWNER = {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_owner"}
NORTHWIND = {"kind": PrincipalKind.PARTNER, "subject": "cl_nw", "partner": "northwind"}
ZENITH = {"kind": PrincipalKind.PARTNER, "subject": "cl_zen", "partner": "zenith"}
PERMISSIONS = "viewerPermissions { action allowed code reason }"


async def ask(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def as_(app: Starlette, http: httpx.AsyncClient, who: dict[str, Any]) -> httpx.AsyncClient:
    http.headers.update(bearer(token_for(app, **who)))
    return http


async def _world(db: Database) -> dict[str, Any]:
    acme, zen_customer = f.customer("Acme"), f.customer("Zen Customer")
    resold = dataclasses.replace(
        f.subscription(acme), channel=Channel.RESELLER, partner_id="northwind"
    )
    direct = f.subscription(acme)
    zen_sub = dataclasses.replace(
        f.subscription(zen_customer), channel=Channel.MARKETPLACE, partner_id="zenith"
    )
    async with PostgresUnitOfWork(db) as uow:
        for partner in (
            Partner("northwind", "Northwind Resellers", PartnerKind.RESELLER, f.NOW),
            Partner("zenith", "Zenith Cloud", PartnerKind.MARKETPLACE, f.NOW),
        ):
            await uow.partners.add(partner)
        await uow.commit()
    await f.store(db, acme, zen_customer, resold, direct, zen_sub)
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(acme.id, "usr_owner", Role.OWNER))
        await uow.commit()
    return {
        "resold": resold,
        "direct": direct,
        "zen_sub": zen_sub,
        "acme": acme,
        "zen_customer": zen_customer,
    }


def gid(sub: Any) -> str:
    return global_id("Subscription", sub.id)


CHANGE = """mutation($input: ChangeSubscriptionInput!) { changeSubscription(input: $input) {
  subscription { seats autoRenew } errors { code message path } } }"""
RENEW = """mutation($input: RenewSubscriptionInput!) { renewSubscription(input: $input) {
  subscription { id } errors { code message } } }"""
CANCEL = """mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) {
  subscription { cancelAtPeriodEnd } errors { code message } } }"""
ROTATE = """mutation($input: RotateActivationCodeInput!) { rotateActivationCode(input: $input) {
  activationCode errors { code } } }"""


async def test_a_resellers_customer_is_told_to_ask_the_partner_by_name(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    sub = world["resold"]
    http = as_(app, anonymous, OWNER)
    renewal = {
        "segments": [
            {
                "startDate": sub.end_date.isoformat(),
                "endDate": (sub.end_date + timedelta(days=365)).isoformat(),
                "seats": 10,
            }
        ]
    }
    refused = [
        (await ask(http, CHANGE, input={"subscriptionId": gid(sub), "seats": 50}))["data"][
            "changeSubscription"
        ],
        (await ask(http, CHANGE, input={"subscriptionId": gid(sub), "autoRenew": False}))["data"][
            "changeSubscription"
        ],
        (await ask(http, RENEW, input={"subscriptionId": gid(sub), "term": renewal}))["data"][
            "renewSubscription"
        ],
        (await ask(http, CANCEL, input={"subscriptionId": gid(sub)}))["data"]["cancelSubscription"],
    ]
    for payload in refused:
        assert payload["subscription"] is None
        [error] = payload["errors"]
        assert error["code"] == "MANAGED_BY_PARTNER"
        assert "managed by Northwind Resellers; contact them to" in error["message"]
    assert "change its seats" in refused[0]["errors"][0]["message"]
    # Nothing changed, nothing audited; what the customer may still do, it does.
    assert await clean_db.fetchval("SELECT count(*) FROM audit_entry") == 0
    rotated = (await ask(http, ROTATE, input={"subscriptionId": gid(sub)}))["data"]
    assert rotated["rotateActivationCode"]["errors"] == []
    # Its own direct subscription it changes itself.
    direct = await ask(http, CHANGE, input={"subscriptionId": gid(world["direct"]), "seats": 12})
    assert direct["data"]["changeSubscription"]["errors"] == []
    # The partner who sold it adds the seats.
    seller = as_(app, anonymous, NORTHWIND)
    added = await ask(seller, CHANGE, input={"subscriptionId": gid(sub), "seats": 50})
    assert added["data"]["changeSubscription"] == {
        "subscription": {"seats": 50, "autoRenew": True},
        "errors": [],
    }


async def test_the_subscription_names_its_partner_and_says_what_the_viewer_may_do(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    query = f"""query($id: ID) {{ subscription(id: $id) {{ channel partner {{ id name kind }}
      {PERMISSIONS} }} }}"""

    async def seen(who: dict[str, Any], sub: Any) -> dict[str, Any]:
        body = await ask(as_(app, anonymous, who), query, id=gid(sub))
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]["subscription"]
        return found

    owner = await seen(OWNER, world["resold"])
    assert owner["partner"] == {
        "id": "northwind",
        "name": "Northwind Resellers",
        "kind": "RESELLER",
    }
    permissions = {p["action"]: p for p in owner["viewerPermissions"]}
    assert {a for a, p in permissions.items() if p["allowed"]} == {
        "LINK_NAMESPACE",
        "ROTATE_ACTIVATION_CODE",
    }
    assert permissions["ADD_SEATS"]["code"] == "MANAGED_BY_PARTNER"
    assert "Northwind Resellers" in permissions["RENEW"]["reason"]
    assert permissions["TRANSFER"]["code"] == "FORBIDDEN"
    direct = await seen(OWNER, world["direct"])
    assert direct["partner"] is None
    assert {p["action"] for p in direct["viewerPermissions"] if not p["allowed"]} == {"TRANSFER"}
    seller = await seen(NORTHWIND, world["resold"])
    assert {p["action"] for p in seller["viewerPermissions"] if not p["allowed"]} == {
        "LINK_NAMESPACE",  # the partner token has no namespaces:write
        "TRANSFER",
    }
    staff = await seen({"kind": PrincipalKind.STAFF}, world["resold"])
    assert all(p["allowed"] for p in staff["viewerPermissions"])


LIST = """{ partners(first: 1) { totalCount edges { cursor node { id name kind } }
  pageInfo { hasNextPage endCursor } } }"""
NEXT = """query($after: String) { partners(first: 1, after: $after) { edges { node { id } }
  pageInfo { hasNextPage } } }"""


async def test_staff_register_rename_and_page_through_partners(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    create = """mutation($input: CreatePartnerInput!) { createPartner(input: $input) {
      partner { id name kind createdAt } errors { code path } } }"""
    made = await ask(
        client, create, input={"id": "acme-resale", "name": "Acme Resale", "kind": "DISTRIBUTOR"}
    )
    assert made["data"]["createPartner"]["partner"]["kind"] == "DISTRIBUTOR"
    again = await ask(client, create, input={"id": "acme-resale", "name": "X", "kind": "RESELLER"})
    assert again["data"]["createPartner"]["errors"] == [
        {"code": "VALIDATION_FAILED", "path": ["id"]}
    ]
    bad = await ask(client, create, input={"id": "no spaces", "name": "X", "kind": "RESELLER"})
    assert bad["data"]["createPartner"]["errors"][0]["code"] == "VALIDATION_FAILED"
    update = """mutation($input: UpdatePartnerInput!) { updatePartner(input: $input) {
      partner { id name kind } errors { code } } }"""
    renamed = await ask(client, update, input={"id": "acme-resale", "name": "Acme Channel"})
    assert renamed["data"]["updatePartner"]["partner"] == {
        "id": "acme-resale",
        "name": "Acme Channel",
        "kind": "DISTRIBUTOR",
    }
    missing = await ask(client, update, input={"id": "nobody", "name": "N"})
    assert missing["data"]["updatePartner"]["errors"] == [{"code": "NOT_FOUND"}]
    await _world(clean_db)
    first = (await ask(client, LIST))["data"]["partners"]
    assert first["totalCount"] == 3
    assert [e["node"]["id"] for e in first["edges"]] == ["acme-resale"]
    second = await ask(client, NEXT, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in second["data"]["partners"]["edges"]] == ["northwind"]
    garbled = await ask(client, NEXT, after="not-a-cursor")
    assert garbled["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    actions = await clean_db.fetch("SELECT action, after FROM audit_entry ORDER BY at, id")
    assert [r["action"] for r in actions] == ["createPartner", "updatePartner"]


async def test_a_partner_sees_itself_and_nothing_of_another_partner(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = as_(app, anonymous, NORTHWIND)
    listed = (await ask(http, LIST))["data"]["partners"]
    assert listed["totalCount"] == 1
    assert [e["node"]["name"] for e in listed["edges"]] == ["Northwind Resellers"]
    one = """{ mine: partner(id: "northwind") { name } theirs: partner(id: "zenith") { name }
      viewer { partner { id name kind } } }"""
    assert (await ask(http, one))["data"] == {
        "mine": {"name": "Northwind Resellers"},
        "theirs": None,
        "viewer": {
            "partner": {"id": "northwind", "name": "Northwind Resellers", "kind": "RESELLER"}
        },
    }
    others = await ask(
        http,
        "query($s: ID, $c: ID!) { subscription(id: $s) { id } node(id: $c) { id }"
        " subscriptions { totalCount } customers { totalCount } }",
        s=gid(world["zen_sub"]),
        c=global_id("Customer", world["zen_customer"].id),
    )
    assert others["data"] == {
        "subscription": None,
        "node": None,
        "subscriptions": {"totalCount": 1},
        "customers": {"totalCount": 1},
    }
    # A portal user has no partners:read: the list is refused; the partner of its own
    # subscription it reads through the subscription (above).
    portal = await ask(as_(app, anonymous, OWNER), LIST)
    assert portal["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    viewer = await ask(as_(app, anonymous, OWNER), "{ viewer { kind partner { id } } }")
    assert viewer["data"] == {"viewer": {"kind": "PORTAL_USER", "partner": None}}
    create = """mutation { createPartner(input: {id: "x", name: "X", kind: RESELLER}) {
      errors { code } } }"""
    refused = await ask(as_(app, anonymous, NORTHWIND), create)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


TRANSFER = """mutation($input: TransferSubscriptionInput!) { transferSubscription(input: $input) {
  transfer { id status fromChannel fromPartnerId toChannel toPartnerId effectiveAt appliedAt
             reason }
  subscription { channel partnerId partner { name } }
  errors { code message path } } }"""


async def test_staff_move_a_subscription_to_a_partner_now_audited_and_idempotent(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    move = {
        "subscriptionId": gid(world["direct"]),
        "toChannel": "RESELLER",
        "toPartnerId": "northwind",
        "reason": "the customer buys through Northwind from now on",
        "idempotencyKey": "move-1",
    }
    done = (await ask(client, TRANSFER, input=move))["data"]["transferSubscription"]
    assert done["errors"] == []
    assert done["transfer"]["status"] == "APPLIED"
    assert (done["transfer"]["fromChannel"], done["transfer"]["fromPartnerId"]) == ("SALES", None)
    assert done["subscription"] == {
        "channel": "RESELLER",
        "partnerId": "northwind",
        "partner": {"name": "Northwind Resellers"},
    }
    again = (await ask(client, TRANSFER, input=move))["data"]["transferSubscription"]
    assert again["transfer"] == done["transfer"]
    reused = await ask(client, TRANSFER, input={**move, "toPartnerId": "zenith"})
    assert reused["data"]["transferSubscription"]["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    audit = await clean_db.fetch(
        "SELECT action, actor_kind, before, after FROM audit_entry WHERE object_id = $1"
        " ORDER BY at, id",
        world["direct"].id,
    )
    assert [r["action"] for r in audit] == ["transferSubscription", "applyChannelTransfer"]
    assert {r["actor_kind"] for r in audit} == {"STAFF"}
    assert '"partnerId": "northwind"' in audit[1]["after"]
    # The partner now sees and manages it; its customer is told to ask Northwind.
    seller = as_(app, anonymous, NORTHWIND)
    seen = await ask(
        seller, "query($id: ID) { subscription(id: $id) { id } }", id=move["subscriptionId"]
    )
    assert seen["data"]["subscription"] == {"id": move["subscriptionId"]}
    owner = as_(app, anonymous, OWNER)
    change = await ask(owner, CHANGE, input={"subscriptionId": move["subscriptionId"], "seats": 3})
    assert change["data"]["changeSubscription"]["errors"][0]["code"] == "MANAGED_BY_PARTNER"


async def test_a_future_transfer_waits_for_its_moment_and_a_later_one_supersedes_it(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    sub = world["resold"]
    moment = f.NOW + timedelta(days=10)
    base = {"subscriptionId": gid(sub), "toChannel": "SALES", "reason": "Northwind stopped"}
    first = (await ask(client, TRANSFER, input={**base, "effectiveAt": moment.isoformat()}))[
        "data"
    ]["transferSubscription"]
    assert first["transfer"]["status"] == "PENDING"
    assert first["transfer"]["appliedAt"] is None
    assert first["subscription"]["partnerId"] == "northwind"  # until the moment comes
    later = moment + timedelta(days=5)
    second = (
        await ask(
            client,
            TRANSFER,
            input={
                **base,
                "toChannel": "MARKETPLACE",
                "toPartnerId": "zenith",
                "effectiveAt": later.isoformat(),
            },
        )
    )["data"]["transferSubscription"]
    assert second["transfer"]["status"] == "PENDING"

    def apply_at(when: Any) -> ApplyDueTransfers:
        return ApplyDueTransfers(lambda: PostgresUnitOfWork(clean_db), FixedClock(when))

    assert await apply_at(moment)() == 0  # the first was superseded; the second not yet due
    statuses = await clean_db.fetch(
        "SELECT id, status FROM channel_transfer ORDER BY requested_at, id"
    )
    assert [r["status"] for r in statuses] == ["SUPERSEDED", "PENDING"]
    assert await apply_at(later)() == 1
    assert await apply_at(later)() == 0  # once
    row = await clean_db.fetchrow(
        "SELECT channel, partner_id FROM subscription WHERE id = $1", sub.id
    )
    assert dict(row) == {"channel": "MARKETPLACE", "partner_id": "zenith"}
    applied = await clean_db.fetchrow(
        "SELECT actor_kind, actor_subject, at FROM audit_entry"
        " WHERE action = 'applyChannelTransfer'"
    )
    assert applied["actor_kind"] == "SYSTEM"
    assert applied["at"] == later


@pytest.mark.parametrize(
    ("who", "target", "code"),
    [
        (OWNER, "resold", "FORBIDDEN"),
        (OWNER, "zen_sub", "NOT_FOUND"),
        (NORTHWIND, "resold", "FORBIDDEN"),
        (ZENITH, "resold", "NOT_FOUND"),
        ({"kind": PrincipalKind.GITLAB_COM, "subject": "gitlab"}, "resold", "FORBIDDEN"),
    ],
)
async def test_only_staff_transfer(
    who: dict[str, Any],
    target: str,
    code: str,
    app: Starlette,
    anonymous: httpx.AsyncClient,
    clean_db: Database,
) -> None:
    world = await _world(clean_db)
    body = await ask(
        as_(app, anonymous, who),
        TRANSFER,
        input={"subscriptionId": gid(world[target]), "toChannel": "SALES", "reason": "mine now"},
    )
    if code == "NOT_FOUND":  # another tenant's subscription does not exist for them
        assert [e["code"] for e in body["data"]["transferSubscription"]["errors"]] == [code]
    else:
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await clean_db.fetchval("SELECT count(*) FROM channel_transfer") == 0


@pytest.mark.parametrize(
    ("fields", "code", "path"),
    [
        ({"toChannel": "RESELLER"}, "VALIDATION_FAILED", ["toPartnerId"]),
        ({"toChannel": "SALES", "toPartnerId": "zenith"}, "VALIDATION_FAILED", ["toPartnerId"]),
        ({"toChannel": "RESELLER", "toPartnerId": "nobody"}, "NOT_FOUND", ["toPartnerId"]),
        ({"toChannel": "RESELLER", "toPartnerId": "northwind"}, "VALIDATION_FAILED", ["toChannel"]),
        ({"toChannel": "SALES", "reason": "  "}, "VALIDATION_FAILED", ["reason"]),
        (
            {"toChannel": "SALES", "effectiveAt": "2030-01-01T00:00:00"},
            "VALIDATION_FAILED",
            ["effectiveAt"],
        ),
    ],
)
async def test_a_transfer_that_makes_no_sense_is_refused(
    fields: dict[str, Any],
    code: str,
    path: list[str],
    client: httpx.AsyncClient,
    clean_db: Database,
) -> None:
    world = await _world(clean_db)
    body = await ask(
        client,
        TRANSFER,
        input={"subscriptionId": gid(world["resold"]), "reason": "why", **fields},
    )
    errors = body["data"]["transferSubscription"]["errors"]
    assert [(e["code"], e["path"]) for e in errors] == [(code, path)]


async def test_two_workers_apply_each_due_transfer_once(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    moment = f.NOW + timedelta(days=1)
    moves = [
        (world["resold"], {"toChannel": "SALES"}),
        (world["zen_sub"], {"toChannel": "WEB_DIRECT"}),
        (world["direct"], {"toChannel": "RESELLER", "toPartnerId": "northwind"}),
    ]
    for sub, target in moves:
        body = await ask(
            client,
            TRANSFER,
            input={
                "subscriptionId": gid(sub),
                "reason": "reorganised",
                "effectiveAt": moment.isoformat(),
                **target,
            },
        )
        assert body["data"]["transferSubscription"]["transfer"]["status"] == "PENDING"

    # Both claim before either applies: each waits for the other right after its claim,
    # inside its transaction (rows one holds, the other must skip).
    both_claimed = asyncio.Barrier(2)

    class Claims:
        def __init__(self, uow: PostgresUnitOfWork) -> None:
            self._transfers = uow.channel_transfers

        async def claim_due(self, now: Any, limit: int) -> Any:
            claimed = await self._transfers.claim_due(now, limit)
            await both_claimed.wait()
            return claimed

        def __getattr__(self, name: str) -> Any:
            return getattr(self._transfers, name)

    def unit_of_work() -> PostgresUnitOfWork:
        uow = PostgresUnitOfWork(clean_db)
        uow.channel_transfers = Claims(uow)  # type: ignore[assignment]
        return uow

    def worker() -> ApplyDueTransfers:
        return ApplyDueTransfers(unit_of_work, FixedClock(moment))

    applied = await asyncio.gather(worker()(), worker()())
    # The claims run at the same time, so the three rows may be split between the workers
    # (SKIP LOCKED skips what the other has locked so far); what must hold is that each
    # transfer is applied by exactly one of them.
    assert sum(applied) == 3
    audited = await clean_db.fetch(
        "SELECT object_id, count(*) AS n FROM audit_entry"
        " WHERE action = 'applyChannelTransfer' GROUP BY object_id"
    )
    assert sorted(row["n"] for row in audited) == [1, 1, 1]


async def test_a_person_acting_for_a_partner_signs_in_and_sees_its_channel(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    await register_user(
        oauth_store(clean_db),
        email="pat@northwind.test",
        password=PASSWORD,
        now=f.NOW,
        partner_id="northwind",
    )
    # The portal client may hand out what a partner holds (a client's scopes are a ceiling).
    wanted = "customers:read subscriptions:read subscriptions:write partners:read"
    portal = await portal_client(clean_db, scopes=wanted.split())
    verifier, challenge = pkce()
    code = await code_for(
        client, portal.client_id, challenge, email="pat@northwind.test", scope=wanted
    )
    tokens = (await exchange(client, portal.client_id, code, verifier)).json()
    anonymous.headers.update(bearer(tokens["access_token"]))
    body = await ask(
        anonymous,
        "{ viewer { kind partner { name } } subscriptions { edges { node { id } } } }",
    )
    assert body["data"] == {
        "viewer": {"kind": "PARTNER", "partner": {"name": "Northwind Resellers"}},
        "subscriptions": {"edges": [{"node": {"id": gid(world["resold"])}}]},
    }
    # It manages what Northwind sold, as Northwind's clients do.
    added = await ask(anonymous, CHANGE, input={"subscriptionId": gid(world["resold"]), "seats": 9})
    assert added["data"]["changeSubscription"]["errors"] == []
