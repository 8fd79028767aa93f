"""The authorization matrix: every root field and ``node(id:)``, for every principal kind, with
ids of its own tenant and of another. Another tenant's data never appears: not in lists, not by
id, not through nested fields, not in counts."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import global_id, parse_typed_id
from domain.model.audit import AuditEntry
from domain.model.customer import Membership
from domain.model.dedicated import DedicatedTenant, MaintenanceWindow, TenantFacts
from domain.model.enums import Channel, Deployment, Plan, Role
from domain.model.marketplace import InboxEntry, Marketplace, OfferMapping
from domain.model.provisioning import NAMESPACE_PROVISION
from domain.model.webhook import (
    WebhookEndpoint,
    WebhookEventType,
    delivery_row,
    message,
    new_secret,
)
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.marketplace import PostgresOfferMappings
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from graphql_client import answer
from ledger_rows import record, row
from usage_files import usage_file

ALICE_EMAIL = "alice@alpha.test"
TENANT_FACTS = TenantFacts(
    expected_users=100,
    storage_gib=10,
    primary_region="eu-west-1",
    secondary_region=None,
    onboarding_contacts=("ops@alpha.test",),
    maintenance_window=MaintenanceWindow.EMEA,
)

# Everything a query can reach, nested both ways, so that a leak anywhere shows up as an id.
# Pages are as large as the world needs, and small enough for the query cost limit.
SUBSCRIPTION_FIELDS = """id name customer { id } namespace { id trials { id } }
    licenses(first: 10) { totalCount edges { node { id } } }
    instances(first: 10) { totalCount edges { node { id replacedBy { id } } } }
    instanceUsage { instances { instance { id } } }
    dedicatedTenant { id subscription { id } license { id } }"""
ROOT_QUERIES = {
    "customers": f"""customers(first: 20) {{ totalCount edges {{ node {{ id
      subscriptions(first: 10) {{ totalCount edges {{ node {{
        {SUBSCRIPTION_FIELDS} }} }} }} }} }} }}""",
    "subscriptions": f"""subscriptions(first: 20) {{ totalCount edges {{ node {{
      {SUBSCRIPTION_FIELDS} }} }} }}""",
    "namespaces": f"""namespaces(first: 20) {{ totalCount edges {{ node {{ id trials {{ id }}
      subscription {{ {SUBSCRIPTION_FIELDS} }} }} }} }}""",
    "licenses": f"""licenses(first: 10) {{ totalCount edges {{ node {{ id
      subscription {{ {SUBSCRIPTION_FIELDS} }} }} }} }}""",
    "instances": """instances(first: 20) { totalCount edges { node { id
      subscription { id customer { id } } } } }""",
    "trials": """trials(first: 20) { totalCount edges { node { id namespace { id }
      subscription { id } } } }""",
    "usageReports": """usageReports(first: 20) { totalCount edges { node { id
      subscription { id } } } }""",
    "provisionEvents": """provisionEvents(first: 20) { totalCount edges { node { id
      subscription { id customer { id } } namespace { id } } } }""",
    "auditEntries": """auditEntries(first: 20) {
        totalCount edges { node { id objectId chain sequence previousHash hash } } }""",
    "webhookEndpoints": """webhookEndpoints(first: 20) { totalCount edges { node { id url
      partnerId } } }""",
    "marketplaceOffers": """marketplaceOffers(first: 20) { totalCount edges { node { id
      offer } } }""",
    "marketplaceInbox": """marketplaceInbox(first: 20) { totalCount edges { node { id
      provisionEventId } } }""",
    # Partners' ids are their plain partner ids, not global ones: checked on their own below.
    "partners": "partners(first: 20) { totalCount edges { node { id } } }",
}
WORLD_QUERY = "{ " + "\n".join(ROOT_QUERIES.values()) + " }"
ROOT_LISTS = {
    "customers": "Customer",
    "subscriptions": "Subscription",
    "namespaces": "Namespace",
    "licenses": "License",
    "instances": "Instance",
    "trials": "Trial",
    "usageReports": "UsageReport",
    "provisionEvents": "ProvisionEvent",
    "auditEntries": "AuditEntry",
    "webhookEndpoints": "WebhookEndpoint",
    "marketplaceOffers": "MarketplaceOffer",
    "marketplaceInbox": "MarketplaceInboxEntry",
}


@dataclasses.dataclass
class World:
    ids: dict[str, str]  # name -> global id
    names: dict[str, str]  # subscription name by world name
    gitlab_ids: dict[str, int]
    alpha_sm: uuid.UUID

    def gid(self, *names: str) -> set[str]:
        return {self.ids[name] for name in names}


async def _world(db: Database) -> World:
    alpha, beta = f.customer("Alpha"), f.customer("Beta")
    ns_a, ns_b = f.namespace(100), f.namespace(200)
    ns_owned = dataclasses.replace(f.namespace(300), owner_emails=(ALICE_EMAIL.upper(),))
    resold = {"channel": Channel.RESELLER}
    alpha_sm = dataclasses.replace(f.subscription(alpha), **resold, partner_id="partner-a")
    alpha_saas = dataclasses.replace(
        f.subscription(alpha, deployment=Deployment.GITLAB_COM, namespace_id=ns_a.id),
        channel=Channel.MARKETPLACE,
        partner_id="partner-a",
    )
    beta_sm = dataclasses.replace(f.subscription(beta), **resold, partner_id="partner-b")
    beta_saas = f.subscription(beta, deployment=Deployment.GITLAB_COM, namespace_id=ns_b.id)
    objects: dict[str, Any] = {
        "alpha": alpha,
        "beta": beta,
        "ns_a": ns_a,
        "ns_b": ns_b,
        "ns_owned": ns_owned,
        "alpha_sm": alpha_sm,
        "alpha_saas": alpha_saas,
        "beta_sm": beta_sm,
        "beta_saas": beta_saas,
        "lic_a": f.license_for(alpha_sm, key="key-of-alpha"),
        "lic_b": f.license_for(beta_sm, key="key-of-beta"),
        "inst_a": f.instance_for(alpha_sm),
        "inst_b": f.instance_for(beta_sm),
        "trial_a": f.trial_on(ns_a),
        "trial_b": f.trial_on(ns_b),
        "usage_a": f.usage_for(alpha_sm, billable=5, maximum=6),
        "usage_b": f.usage_for(beta_sm, billable=7, maximum=8),
    }
    await f.store(db, *objects.values())
    # The ledger and the audit trail name tenants' objects but belong to staff alone.
    objects["pev_a"] = row(subscription_id=alpha_sm.id, namespace_id=ns_a.id)
    objects["pev_b"] = row(subscription_id=beta_sm.id)
    await record(db, objects["pev_a"], objects["pev_b"])
    staff = Principal(PrincipalKind.STAFF, "staff")
    for name, sub in (("aud_a", alpha_sm), ("aud_b", beta_sm)):
        objects[name] = AuditEntry.of(staff, "cancelSubscription", "Subscription", sub.id, f.NOW)
    # Webhook endpoints: each customer's, each partner's, and staff's global one.
    for name, owner in (
        ("whe_alpha", {"customer_id": alpha.id}),
        ("whe_beta", {"customer_id": beta.id}),
        ("whe_partner_a", {"partner_id": "partner-a"}),
        ("whe_partner_b", {"partner_id": "partner-b"}),
        ("whe_global", {}),
    ):
        objects[name] = WebhookEndpoint(
            url=f"https://{name}.example/in",
            event_types=(WebhookEventType.SUBSCRIPTION_CREATED,),
            secret=new_secret(),
            created_at=f.NOW,
            **owner,  # type: ignore[arg-type]
        )
    # The marketplaces' offer mapping and inbox: staff's alone.
    objects["mko"] = await PostgresOfferMappings(db).put(
        OfferMapping(Marketplace.AWS, "prod-x", "users", Plan.ULTIMATE, Deployment.SELF_MANAGED),
        f.NOW,
    )
    # (Stored without its ledger row, which would join the ledger's list.)
    objects["mki"] = InboxEntry(Marketplace.STRIPE, "evt_matrix", {}, f.NOW)
    await db.fetch(
        "INSERT INTO marketplace_inbox (id, marketplace, message_id, payload, received_at)"
        " VALUES ($1, 'STRIPE', 'evt_matrix', '{}'::jsonb, $2)",
        objects["mki"].id,
        f.NOW,
    )
    async with PostgresUnitOfWork(db) as uow:
        for name in ("whe_alpha", "whe_beta", "whe_partner_a", "whe_partner_b", "whe_global"):
            await uow.webhook_endpoints.add(objects[name])
        await uow.customers.add_membership(Membership(alpha.id, "usr_alice", Role.OWNER))
        await uow.customers.add_membership(Membership(beta.id, "usr_bob", Role.OWNER))
        await uow.audit.record(objects["aud_a"])
        await uow.audit.record(objects["aud_b"])
        # Tenants hang off the subscriptions: whoever sees the subscription sees its tenant.
        for name, sub in (("ded_a", alpha_sm), ("ded_b", beta_sm)):
            objects[name] = DedicatedTenant.order(sub.id, TENANT_FACTS, f.NOW)
            await uow.dedicated_tenants.add(objects[name])
        await uow.commit()
    type_names = {
        "Customer": ("alpha", "beta"),
        "Namespace": ("ns_a", "ns_b", "ns_owned"),
        "Subscription": ("alpha_sm", "alpha_saas", "beta_sm", "beta_saas"),
        "License": ("lic_a", "lic_b"),
        "Instance": ("inst_a", "inst_b"),
        "Trial": ("trial_a", "trial_b"),
        "UsageReport": ("usage_a", "usage_b"),
        "ProvisionEvent": ("pev_a", "pev_b"),
        "AuditEntry": ("aud_a", "aud_b"),
        "WebhookEndpoint": WEBHOOK_ENDPOINTS,
        "MarketplaceOffer": ("mko",),
        "MarketplaceInboxEntry": ("mki",),
        "DedicatedTenant": ("ded_a", "ded_b"),
    }
    ids = {
        name: global_id(type_name, objects[name].id)
        for type_name, names in type_names.items()
        for name in names
    }
    return World(
        ids=ids,
        names={name: objects[name].name for name in type_names["Subscription"]},
        gitlab_ids={name: objects[name].gitlab_id for name in type_names["Namespace"]},
        alpha_sm=alpha_sm.id,
    )


WEBHOOK_ENDPOINTS = ("whe_alpha", "whe_beta", "whe_partner_a", "whe_partner_b", "whe_global")


@dataclasses.dataclass(frozen=True)
class Case:
    """A principal and exactly what it sees: the world names, or None where its token lacks
    the scope (FORBIDDEN) - or cannot be authenticated at all (UNAUTHENTICATED)."""

    name: str
    token: dict[str, Any] | None
    sees: dict[str, tuple[str, ...] | None]
    nested_only: tuple[str, ...] = ()
    """Objects it may reach through a parent although it may not list them."""


EVERYTHING = {
    "Customer": ("alpha", "beta"),
    "Subscription": ("alpha_sm", "alpha_saas", "beta_sm", "beta_saas"),
    "Namespace": ("ns_a", "ns_b", "ns_owned"),
    "License": ("lic_a", "lic_b"),
    "Instance": ("inst_a", "inst_b"),
    "Trial": ("trial_a", "trial_b"),
    "UsageReport": ("usage_a", "usage_b"),
    "ProvisionEvent": ("pev_a", "pev_b"),
    "AuditEntry": ("aud_a", "aud_b"),
    "WebhookEndpoint": WEBHOOK_ENDPOINTS,
    "MarketplaceOffer": ("mko",),
    "MarketplaceInboxEntry": ("mki",),
    "DedicatedTenant": ("ded_a", "ded_b"),
}
STAFF_ONLY = {  # no scope: FORBIDDEN
    "ProvisionEvent": None,
    "AuditEntry": None,
    "MarketplaceOffer": None,
    "MarketplaceInboxEntry": None,
}
LEDGER_SCOPES = frozenset(
    {
        "provision_events:read",
        "provision_events:write",
        "audit:read",
        "marketplaces:read",
        "marketplaces:write",
        "reports:read",
    }
)
ALICE_SEES = {
    "Customer": ("alpha",),
    "Subscription": ("alpha_sm", "alpha_saas"),
    "Namespace": ("ns_a", "ns_owned"),  # linked to Alpha, and owned by Alice
    "License": ("lic_a",),
    "Instance": ("inst_a",),
    "Trial": ("trial_a",),
    "UsageReport": ("usage_a",),
    "WebhookEndpoint": ("whe_alpha",),
    "DedicatedTenant": ("ded_a",),
}
CASES = [
    Case("staff", {"kind": PrincipalKind.STAFF}, EVERYTHING),
    Case(
        "portal user of Alpha",
        {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_alice", "email": ALICE_EMAIL},
        {**ALICE_SEES, **STAFF_ONLY},
    ),
    Case(
        # A token that somehow carries the ledger scopes (an external issuer's, say) still
        # sees no row of the ledger or the audit trail: the read models cut them in SQL.
        "portal user of Alpha holding the ledger scopes",
        {
            "kind": PrincipalKind.PORTAL_USER,
            "subject": "usr_alice",
            "email": ALICE_EMAIL,
            "scopes": grantable(PrincipalKind.PORTAL_USER) | LEDGER_SCOPES,
        },
        {
            **ALICE_SEES,
            "ProvisionEvent": (),
            "AuditEntry": (),
            "MarketplaceOffer": (),
            "MarketplaceInboxEntry": (),
        },
    ),
    Case(
        "portal user of no customer",
        {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_nobody", "email": "n@x.test"},
        {**dict.fromkeys(EVERYTHING, ()), **STAFF_ONLY},
    ),
    Case(
        "partner A",
        {"kind": PrincipalKind.PARTNER, "subject": "partner-a-client", "partner": "partner-a"},
        {
            "Customer": ("alpha",),
            "Subscription": ("alpha_sm", "alpha_saas"),
            "Namespace": ("ns_a",),
            "License": ("lic_a",),
            "Instance": ("inst_a",),
            "Trial": ("trial_a",),
            "UsageReport": ("usage_a",),
            "WebhookEndpoint": ("whe_partner_a",),
            "DedicatedTenant": ("ded_a",),
            **STAFF_ONLY,
        },
    ),
    Case(
        "GitLab.com",
        {"kind": PrincipalKind.GITLAB_COM, "subject": "gitlab-com"},
        {
            "Customer": None,
            "Subscription": None,
            "Namespace": ("ns_a", "ns_b", "ns_owned"),
            "License": None,
            "Instance": None,
            "Trial": ("trial_a", "trial_b"),
            "UsageReport": None,
            "WebhookEndpoint": None,
            "DedicatedTenant": None,
            **STAFF_ONLY,
        },
    ),
    Case(
        "instance of Alpha's subscription",
        {"kind": PrincipalKind.INSTANCE, "subject": "instance-a", "subscription": "alpha_sm"},
        {
            "Customer": None,
            "Subscription": ("alpha_sm",),
            "Namespace": None,
            "License": ("lic_a",),
            "Instance": ("inst_a",),
            "Trial": None,
            "UsageReport": ("usage_a",),
            "WebhookEndpoint": None,
            "DedicatedTenant": ("ded_a",),
            **STAFF_ONLY,
        },
        nested_only=("alpha",),  # its subscription's customer, whom its license names
    ),
]


def _ids(value: Any) -> Iterator[str]:
    """Every ``id`` anywhere in a response."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" and isinstance(item, str):
                yield item
            else:
                yield from _ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ids(item)


def _codes(body: dict[str, Any]) -> dict[str, str]:
    return {str(error["path"][0]): error["extensions"]["code"] for error in body.get("errors", [])}


async def _client_for(
    case: Case, app: Starlette, world: World, anonymous: httpx.AsyncClient
) -> httpx.AsyncClient:
    assert case.token is not None
    claims = dict(case.token)
    if claims.get("subscription") == "alpha_sm":
        claims["subscription"] = world.alpha_sm
    anonymous.headers.update(bearer(token_for(app, **claims)))
    return anonymous


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_lists_counts_and_nested_fields_stay_in_the_tenant(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    visible = {world.ids[name] for names in case.sees.values() for name in names or ()}
    visible |= world.gid(*case.nested_only)

    for field, type_name in ROOT_LISTS.items():
        query = "{ " + ROOT_QUERIES[field] + " }"
        body = (await http.post("/graphql", json={"query": query})).json()
        expected = case.sees[type_name]
        if expected is None:
            assert body["data"] is None
            assert _codes(body) == {field: "FORBIDDEN"}, (field, body)
            continue
        assert "errors" not in body, (field, body)
        connection = body["data"][field]
        listed = {edge["node"]["id"] for edge in connection["edges"]}
        assert listed == world.gid(*expected), field
        assert connection["totalCount"] == len(expected), field
        leaked = set(_ids(body["data"])) - visible
        assert not leaked, f"{case.name} saw {leaked} through {field}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_by_id_another_tenants_object_reads_as_not_found(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    for type_name, names in EVERYTHING.items():
        expected = case.sees[type_name]
        for name in names:
            gid = world.ids[name]
            body = (
                await http.post(
                    "/graphql",
                    json={
                        "query": "query($id: ID!) { node(id: $id) { id } }",
                        "variables": {"id": gid},
                    },
                )
            ).json()
            if expected is None:
                assert _codes(body) == {"node": "FORBIDDEN"}, (name, body)
            elif name in expected:
                assert answer(body) == {"data": {"node": {"id": gid}}}, name
            else:
                assert answer(body) == {"data": {"node": None}}, (case.name, name, body)
        nodes = (
            await http.post(
                "/graphql",
                json={
                    "query": "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                    "variables": {"ids": [world.ids[name] for name in names]},
                },
            )
        ).json()
        if expected is None:
            assert _codes(nodes) == {"nodes": "FORBIDDEN"}
        else:
            seen = [node["id"] for node in nodes["data"]["nodes"] if node is not None]
            assert set(seen) == world.gid(*expected), type_name


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_single_lookups_and_filters_by_another_tenants_ids(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)

    async def ask(query: str, **variables: Any) -> dict[str, Any]:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    subs, namespaces = case.sees["Subscription"], case.sees["Namespace"]
    licenses = case.sees["License"]
    for name in EVERYTHING["Subscription"]:
        by_id = await ask("query($id: ID) { subscription(id: $id) { id } }", id=world.ids[name])
        by_name = await ask(
            "query($n: String) { subscription(name: $n) { id } }", n=world.names[name]
        )
        for body in (by_id, by_name):
            if subs is None:
                assert _codes(body) == {"subscription": "FORBIDDEN"}
            else:
                found = body["data"]["subscription"]
                assert (found is not None) == (name in subs), (case.name, name)
        for field, type_name in (("licenses", "License"), ("instances", "Instance")):
            children = await ask(
                f"query($s: ID) {{ {field}(subscriptionId: $s) {{ totalCount }} }}",
                s=world.ids[name],
            )
            if case.sees[type_name] is None:
                assert _codes(children) == {field: "FORBIDDEN"}
            elif subs is None or name not in subs:
                assert children["data"][field]["totalCount"] == 0, (case.name, field, name)
    for name in EVERYTHING["Namespace"]:
        for body in (
            await ask("query($id: ID) { namespace(id: $id) { id } }", id=world.ids[name]),
            await ask(
                "query($g: Int) { namespace(gitlabId: $g) { id } }", g=world.gitlab_ids[name]
            ),
        ):
            if namespaces is None:
                assert _codes(body) == {"namespace": "FORBIDDEN"}
            else:
                assert (body["data"]["namespace"] is not None) == (name in namespaces), name
    for name in EVERYTHING["License"]:
        body = await ask("query($id: ID!) { license(id: $id) { id } }", id=world.ids[name])
        if licenses is None:
            assert _codes(body) == {"license": "FORBIDDEN"}
        else:
            assert (body["data"]["license"] is not None) == (name in licenses), name
    if case.sees["Subscription"] is not None:
        for customer in EVERYTHING["Customer"]:
            body = await ask(
                "query($c: ID) { subscriptions(customerId: $c) { edges { node { id } } } }",
                c=world.ids[customer],
            )
            listed = {edge["node"]["id"] for edge in body["data"]["subscriptions"]["edges"]}
            assert listed <= world.gid(*(subs or ())), (case.name, customer)
    viewer = await ask("{ viewer { kind customers { edges { node { id } } } } }")
    if case.sees["Customer"] is None:
        assert _codes(viewer) == {"viewer": "FORBIDDEN"}
    else:
        listed = {edge["node"]["id"] for edge in viewer["data"]["viewer"]["customers"]["edges"]}
        assert listed == world.gid(*case.sees["Customer"])


ELIGIBILITY = """query($ns: [GitlabNamespaceInput!]!) {
  namespaceEligibility(customerUid: 7, namespaces: $ns, planId: "duo_pro") {
    id accountId: zuoraAccountId subscription { name } } }"""


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_namespace_eligibility_tells_only_of_visible_groups(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    # An add-on purchase needs the group's active subscription: the answer names it, so a group
    # beyond reach must read like a group never seen (not eligible, no subscription named).
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    sent = [{"id": gitlab_id, "parentId": None, "plan": "premium", "trial": False,
             "kind": "group", "membersCountWithDescendants": 3}
            for gitlab_id in world.gitlab_ids.values()]  # fmt: skip
    body = (
        await http.post("/graphql", json={"query": ELIGIBILITY, "variables": {"ns": sent}})
    ).json()
    if case.sees["Namespace"] is None:
        assert _codes(body) == {"namespaceEligibility": "FORBIDDEN"}
        return
    linked = {"ns_a": "alpha_saas", "ns_b": "beta_saas"}
    expected = {
        world.gitlab_ids[ns]: world.names[sub]
        for ns, sub in linked.items()
        if ns in case.sees["Namespace"]
    }
    answered = {e["id"]: e["subscription"]["name"] for e in body["data"]["namespaceEligibility"]}
    assert answered == expected, case.name


async def test_anonymous_callers_get_unauthenticated_on_every_protected_root_field(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    body = (await anonymous.post("/graphql", json={"query": WORLD_QUERY})).json()
    assert body["data"] is None
    assert set(_codes(body).values()) == {"UNAUTHENTICATED"}
    node = (
        await anonymous.post(
            "/graphql",
            json={
                "query": "query($id: ID!) { node(id: $id) { id } }",
                "variables": {"id": world.ids["alpha_sm"]},
            },
        )
    ).json()
    assert _codes(node) == {"node": "UNAUTHENTICATED"}
    eligibility = (
        await anonymous.post(
            "/graphql",
            json={"query": ELIGIBILITY, "variables": {"ns": [{"id": 100, "kind": "group"}]}},
        )
    ).json()
    assert _codes(eligibility) == {"namespaceEligibility": "UNAUTHENTICATED"}
    viewer = (await anonymous.post("/graphql", json={"query": "{ viewer { kind } }"})).json()
    assert answer(viewer) == {"data": {"viewer": {"kind": "ANONYMOUS"}}}


async def test_a_token_without_the_scope_is_forbidden_even_for_staff(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    await _world(clean_db)
    token = token_for(app, PrincipalKind.STAFF, scopes=frozenset({"namespaces:read"}))
    anonymous.headers.update(bearer(token))
    body = (
        await anonymous.post(
            "/graphql", json={"query": "{ namespaces { totalCount } subscriptions { totalCount } }"}
        )
    ).json()
    assert body["data"] is None  # subscriptions is non-null, so the error bubbles up
    assert _codes(body) == {"subscriptions": "FORBIDDEN"}
    alone = (
        await anonymous.post("/graphql", json={"query": "{ namespaces { totalCount } }"})
    ).json()
    assert answer(alone) == {"data": {"namespaces": {"totalCount": 3}}}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_only_staff_see_the_ledger_summary_and_change_ledger_rows(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    summary = (
        await http.post(
            "/graphql", json={"query": "{ provisionEventSummary { byKind { count } } }"}
        )
    ).json()
    retry = (
        await http.post(
            "/graphql",
            json={
                "query": "mutation($id: ID!) { retryProvisionEvent(input: {eventId: $id})"
                " { errors { code } } }",
                "variables": {"id": world.ids["pev_a"]},
            },
        )
    ).json()
    retry_tenant = (
        await http.post(
            "/graphql",
            json={
                "query": "mutation($id: ID!) { retryDedicatedTenant(input: {tenantId: $id})"
                " { dedicatedTenant { id } errors { code } } }",
                "variables": {"id": world.ids["ded_a"]},
            },
        )
    ).json()
    sees = case.sees["ProvisionEvent"]
    if sees is None:
        assert _codes(retry_tenant) == {"retryDedicatedTenant": "FORBIDDEN"}
    else:
        # An ORDERED tenant: staff are told why not; anyone else reads it as not found.
        tenant_errors = retry_tenant["data"]["retryDedicatedTenant"]["errors"]
        refused = "TENANT_TRANSITION_REFUSED" if sees else "NOT_FOUND"
        assert [e["code"] for e in tenant_errors] == [refused]
        assert retry_tenant["data"]["retryDedicatedTenant"]["dedicatedTenant"] is None
    if sees is None:
        assert _codes(summary) == {"provisionEventSummary": "FORBIDDEN"}
        assert _codes(retry) == {"retryProvisionEvent": "FORBIDDEN"}
    else:
        counts = summary["data"]["provisionEventSummary"]["byKind"]
        assert sum(c["count"] for c in counts) == len(sees)
        errors = retry["data"]["retryProvisionEvent"]["errors"]
        # A PENDING row: staff are told why not; anyone else reads it as not found.
        expected = "PROVISION_EVENT_NOT_RETRYABLE" if sees else "NOT_FOUND"
        assert [e["code"] for e in errors] == [expected]


REPORTS = """{ staffReports { openSteps { status rows } licensingAdoption { licensingMode }
  trials { started } stoppedSyncing { subscription } seatOverage { subscription } } }"""
OPEN_COUNTS = """{ p: provisionEvents(status: PENDING) { totalCount }
  r: provisionEvents(status: RUNNING) { totalCount } f: provisionEvents(status: FAILED)
  { totalCount } d: provisionEvents(status: DEAD) { totalCount } }"""


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_only_staff_run_the_staff_reports(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    body = (await http.post("/graphql", json={"query": REPORTS})).json()
    if case.name != "staff":
        # No reports:read: refused at the root field. Holding it anyway (a portal user's
        # token from elsewhere): refused by the use case, before any query runs.
        assert body["data"] is None
        assert _codes(body) == {"staffReports": "FORBIDDEN"}
        return
    reports = answer(body)["data"]["staffReports"]
    counts = answer((await http.post("/graphql", json={"query": OPEN_COUNTS})).json())["data"]
    open_rows = sum(counts[k]["totalCount"] for k in "prfd")
    assert open_rows > 0  # the world has open ledger rows
    assert sum(row["rows"] for row in reports["openSteps"]) == open_rows
    modes = [row["licensingMode"] for row in reports["licensingAdoption"]]
    assert modes == ["ONLINE_CLOUD", "OFFLINE_CLOUD", "LEGACY"]


async def test_anonymous_callers_cannot_run_the_staff_reports(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    body = (await anonymous.post("/graphql", json={"query": REPORTS})).json()
    assert body["data"] is None
    assert _codes(body) == {"staffReports": "UNAUTHENTICATED"}


SET_OFFER = """mutation { setMarketplaceOffer(input: {marketplace: AZURE, offer: "o",
  planKey: "p", plan: PREMIUM, deployment: GITLAB_COM}) { marketplaceOffer { id }
  errors { code } } }"""


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_only_staff_change_the_marketplace_offer_mapping(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    changes = {
        "set": SET_OFFER,
        "update": "mutation($id: ID!) { updateMarketplaceOffer(input: {id: $id, seats: 5})"
        " { marketplaceOffer { id } errors { code } } }",
        "delete": "mutation($id: ID!) { deleteMarketplaceOffer(input: {id: $id})"
        " { marketplaceOffer { id } errors { code } } }",
    }
    for name, query in changes.items():
        body = (
            await http.post(
                "/graphql", json={"query": query, "variables": {"id": world.ids["mko"]}}
            )
        ).json()
        field = f"{name}MarketplaceOffer"
        if case.sees["MarketplaceOffer"] == ("mko",):
            assert body["data"][field]["errors"] == [], (name, body)
        else:
            assert _codes(body) == {field: "FORBIDDEN"}, (case.name, name, body)
    created = await clean_db.fetchval("SELECT count(*) FROM marketplace_offer WHERE offer = 'o'")
    assert created == (1 if case.sees["MarketplaceOffer"] == ("mko",) else 0)
    kept = await clean_db.fetchval("SELECT count(*) FROM marketplace_offer WHERE offer = 'prod-x'")
    assert kept == (0 if case.sees["MarketplaceOffer"] == ("mko",) else 1)


async def test_a_portal_user_cannot_link_trial_or_ask_about_another_customers_groups(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    events_before = await clean_db.fetchval("SELECT count(*) FROM provision_event")
    alice = {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_alice", "email": ALICE_EMAIL}
    anonymous.headers.update(bearer(token_for(app, **alice)))

    async def ask(query: str, **variables: Any) -> dict[str, Any]:
        response = await anonymous.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        return body

    link = """mutation($input: LinkNamespaceInput!) { linkNamespace(input: $input) {
      subscription { id } errors { code } } }"""
    theirs = {"subscriptionId": world.ids["beta_saas"], "namespaceId": world.ids["ns_owned"]}
    their_group = {"subscriptionId": world.ids["alpha_saas"], "namespaceId": world.ids["ns_b"]}
    codes = []
    for fields in (theirs, their_group):
        answer = (await ask(link, input=fields))["data"]["linkNamespace"]
        assert answer["subscription"] is None
        codes.append([e["code"] for e in answer["errors"]])
    assert codes == [["NOT_FOUND"], ["NOT_FOUND"]]  # out of reach is as good as missing

    trial = """mutation($input: ApplyTrialInput!) { applyTrial(input: $input) {
      trial { id } errors { code } } }"""
    for trial_type in ("ULTIMATE", "DUO_ENTERPRISE"):
        answer = await ask(trial, input={"namespaceId": world.ids["ns_b"], "type": trial_type})
        assert [e["code"] for e in answer["data"]["applyTrial"]["errors"]] == ["NOT_FOUND"]
    eligibility = "query($ids: [ID!]!) { trialEligibility(namespaceIds: $ids) { eligible } }"
    assert (await ask(eligibility, ids=[world.ids["ns_b"]]))["data"]["trialEligibility"] == []
    assert await clean_db.fetchval("SELECT count(*) FROM provision_event") == events_before
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 2  # the world's own


FLEET_MUTATIONS = {
    "setInstanceRole": """mutation($id: ID!) { setInstanceRole(input: {instanceId: $id,
      role: STAGING}) { instance { id role } errors { code } } }""",
    "retireInstance": """mutation($id: ID!) { retireInstance(input: {instanceId: $id}) {
      instance { id } endKey { id } errors { code } } }""",
    "replaceInstance": """mutation($id: ID!) { replaceInstance(input: {instanceId: $id,
      newInstanceIdentifier: "8a5eaf4b-bc7d-4f4e-8d86-5cb19a3f7ea4"}) {
      instance { id } replacement { id } errors { code } } }""",
}
# What each case meets acting on Alpha's instance and on Beta's: the payload's error codes
# ([] for success), or the top-level code where its token lacks licenses:write.
FLEET_OUTCOMES: dict[str, tuple[object, object]] = {
    "staff": ([], []),
    "portal user of Alpha": ([], ["NOT_FOUND"]),
    "portal user of Alpha holding the ledger scopes": ([], ["NOT_FOUND"]),
    "portal user of no customer": (["NOT_FOUND"], ["NOT_FOUND"]),
    "partner A": ("FORBIDDEN", "FORBIDDEN"),
    "GitLab.com": ("FORBIDDEN", "FORBIDDEN"),
    "instance of Alpha's subscription": ("FORBIDDEN", "FORBIDDEN"),
}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@pytest.mark.parametrize("mutation", list(FLEET_MUTATIONS))
async def test_fleet_mutations_reach_only_the_callers_instances(
    case: Case, mutation: str, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    got = []
    for name in ("inst_a", "inst_b"):
        body = (
            await http.post(
                "/graphql",
                json={"query": FLEET_MUTATIONS[mutation], "variables": {"id": world.ids[name]}},
            )
        ).json()
        if body.get("data") is None:
            got.append(_codes(body)[mutation])
            continue
        payload = body["data"][mutation]
        got.append([e["code"] for e in payload["errors"]])
        if payload["errors"]:
            assert set(_ids(payload)) == set(), payload  # a refusal names nothing
    assert tuple(got) == FLEET_OUTCOMES[case.name], (case.name, got)


ADVANCE = """mutation($id: ID!) { advanceTestClock(input: {customerId: $id, by: "P1D"}) {
  customerId now errors { code } } }"""
# What each case meets moving Alpha's test clock and Beta's (both sandboxes): the payload's
# error codes, or the top-level code where its token lacks customers:write. Only staff and
# the customer's owner move a clock; for everyone else the customer does not exist.
ADVANCE_OUTCOMES: dict[str, tuple[object, object]] = {
    "staff": ([], []),
    "portal user of Alpha": ([], ["NOT_FOUND"]),
    "portal user of Alpha holding the ledger scopes": ([], ["NOT_FOUND"]),
    "portal user of no customer": (["NOT_FOUND"], ["NOT_FOUND"]),
    "partner A": (["NOT_FOUND"], ["NOT_FOUND"]),
    "GitLab.com": ("FORBIDDEN", "FORBIDDEN"),
    "instance of Alpha's subscription": ("FORBIDDEN", "FORBIDDEN"),
}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_test_clock_is_moved_only_by_staff_and_the_sandboxs_owner(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    await clean_db.fetch("UPDATE customer SET sandbox = true")
    http = await _client_for(case, app, world, anonymous)
    got = []
    for name in ("alpha", "beta"):
        body = (
            await http.post(
                "/graphql", json={"query": ADVANCE, "variables": {"id": world.ids[name]}}
            )
        ).json()
        if body.get("data") is None:
            got.append(_codes(body)["advanceTestClock"])
            continue
        payload = body["data"]["advanceTestClock"]
        got.append([e["code"] for e in payload["errors"]])
        if payload["errors"]:
            assert payload["customerId"] is None, payload  # a refusal names nothing
        else:
            assert payload["customerId"] == world.ids[name]
    assert tuple(got) == ADVANCE_OUTCOMES[case.name], (case.name, got)
    moved = await clean_db.fetch("SELECT id FROM customer WHERE clock_offset > interval '0'")
    expected = {"alpha", "beta"} if case.name == "staff" else set()
    if ADVANCE_OUTCOMES[case.name][0] == []:
        expected |= {"alpha"}
    assert {r["id"] for r in moved} == {
        parse_typed_id(world.ids[n], "Customer", path=()) for n in expected
    }


# Partners (their ids are the partner ids themselves): which partner rows each case reads,
# None where its token lacks partners:read (FORBIDDEN).
PARTNERS_SEEN: dict[str, tuple[str, ...] | None] = {
    "staff": ("partner-a", "partner-b"),
    "partner A": ("partner-a",),
}
SUBSCRIPTION_PARTNERS = {
    "alpha_sm": "partner-a",
    "alpha_saas": "partner-a",
    "beta_sm": "partner-b",
    "beta_saas": None,
}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_partners_a_subscriptions_partner_and_transfers_stay_in_the_tenant(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)

    async def ask(query: str, **variables: Any) -> dict[str, Any]:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        return body

    expected = PARTNERS_SEEN.get(case.name)
    listed = await ask("{ " + ROOT_QUERIES["partners"] + " }")
    one = await ask('{ a: partner(id: "partner-a") { id } b: partner(id: "partner-b") { id } }')
    if expected is None:
        assert _codes(listed) == {"partners": "FORBIDDEN"}, listed
        assert _codes(one) == {"a": "FORBIDDEN", "b": "FORBIDDEN"}
    else:
        page = listed["data"]["partners"]
        assert [e["node"]["id"] for e in page["edges"]] == list(expected)
        assert page["totalCount"] == len(expected)
        found = {key for key, value in one["data"].items() if value is not None}
        assert found == {pid[-1] for pid in expected}
    viewer = await ask("{ viewer { partner { id } } }")
    mine = {"id": "partner-a"} if case.name == "partner A" else None
    assert viewer["data"] == {"viewer": {"partner": mine}}, case.name
    # The partner of a subscription is seen by whoever sees the subscription, and so is what
    # the caller may do with it; another tenant's subscription shows neither.
    subs = case.sees["Subscription"]
    for name, partner_id in SUBSCRIPTION_PARTNERS.items():
        body = await ask(
            "query($id: ID) { subscription(id: $id) { partner { id name }"
            " viewerPermissions { action allowed code } } }",
            id=world.ids[name],
        )
        if subs is None:
            assert _codes(body) == {"subscription": "FORBIDDEN"}
            continue
        sub = body["data"]["subscription"]
        if name not in subs:
            assert sub is None, (case.name, name)
            continue
        assert sub["partner"] == ({"id": partner_id, "name": partner_id} if partner_id else None), (
            name
        )
        permissions = {p["action"]: p for p in sub["viewerPermissions"]}
        assert permissions["TRANSFER"]["allowed"] is (case.name == "staff")
    # One world for both halves: the mutations below change it.
    await _only_staff_manage_partners_and_transfer_subscriptions(case, world, ask, clean_db)


def _transfer_outcome(case: Case, target: str) -> str:
    """What transferSubscription answers: staff move it; a token without subscriptions:write
    is FORBIDDEN; a subscription out of reach is NOT_FOUND; in reach, only staff transfer."""
    if case.name == "staff":
        return "OK"
    if case.sees["Subscription"] is None or case.token is None:
        return "FORBIDDEN"
    if "subscriptions:write" not in grantable(case.token["kind"], case.token.get("scopes")):
        return "FORBIDDEN"
    reachable = case.name.startswith("portal user of Alpha") or case.name == "partner A"
    return "FORBIDDEN" if reachable and target == "alpha_sm" else "NOT_FOUND"


async def _only_staff_manage_partners_and_transfer_subscriptions(
    case: Case,
    world: World,
    ask: Callable[..., Awaitable[dict[str, Any]]],
    clean_db: Database,
) -> None:
    created = await ask(
        'mutation { createPartner(input: {id: "partner-c", name: "C", kind: RESELLER})'
        " { partner { id } errors { code } } }"
    )
    renamed = await ask(
        'mutation { updatePartner(input: {id: "partner-b", name: "Bee"})'
        " { partner { id } errors { code } } }"
    )
    if case.name == "staff":
        assert created["data"]["createPartner"] == {"partner": {"id": "partner-c"}, "errors": []}
        assert renamed["data"]["updatePartner"]["errors"] == []
    else:
        assert _codes(created) == {"createPartner": "FORBIDDEN"}
        assert _codes(renamed) == {"updatePartner": "FORBIDDEN"}
        assert await clean_db.fetchval("SELECT name FROM partner WHERE id = 'partner-b'") == (
            "partner-b"
        )
    for target in ("alpha_sm", "beta_sm"):
        body = await ask(
            "mutation($id: ID!) { transferSubscription(input: {subscriptionId: $id,"
            ' toChannel: SALES, reason: "matrix"}) { subscription { id } errors { code } } }',
            id=world.ids[target],
        )
        outcome = _transfer_outcome(case, target)
        if outcome == "OK":
            assert body["data"]["transferSubscription"]["errors"] == [], body
        elif outcome == "NOT_FOUND":
            errors = body["data"]["transferSubscription"]["errors"]
            assert [e["code"] for e in errors] == ["NOT_FOUND"], (case.name, target)
        else:
            assert _codes(body) == {"transferSubscription": "FORBIDDEN"}, (case.name, target)
    transfers = await clean_db.fetchval("SELECT count(*) FROM channel_transfer")
    assert transfers == (2 if case.name == "staff" else 0)


def _resize_outcome(case: Case, target: str) -> str:
    """What changeDedicatedTenant answers: staff resize any tenant and the selling partner its
    own; the customer of a partner-sold subscription asks the partner (MANAGED_BY_PARTNER, as
    for seats); without subscriptions:write it is FORBIDDEN; out of reach NOT_FOUND."""
    if case.name == "staff":
        return "OK"
    if case.sees["Subscription"] is None or case.token is None:
        return "FORBIDDEN"
    if "subscriptions:write" not in grantable(case.token["kind"], case.token.get("scopes")):
        return "FORBIDDEN"
    if target != "alpha_sm":
        return "NOT_FOUND"
    if case.name == "partner A":
        return "OK"
    return "MANAGED_BY_PARTNER" if case.name.startswith("portal user of Alpha") else "NOT_FOUND"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_dedicated_tenant_is_resized_only_by_those_who_may_add_its_seats(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    await clean_db.fetch("UPDATE dedicated_tenant SET state = 'ACTIVE'")
    for target in ("alpha_sm", "beta_sm"):
        response = await http.post(
            "/graphql",
            json={
                "query": "mutation($id: ID!) { changeDedicatedTenant(input: {subscriptionId: $id,"
                " storageGib: 20, expectedUsers: 100}) { dedicatedTenant { storageGib state }"
                " errors { code } } }",
                "variables": {"id": world.ids[target]},
            },
        )
        body = response.json()
        outcome = _resize_outcome(case, target)
        if outcome == "FORBIDDEN":
            assert _codes(body) == {"changeDedicatedTenant": "FORBIDDEN"}, (case.name, target)
            continue
        payload = body["data"]["changeDedicatedTenant"]
        if outcome == "OK":
            assert payload == {
                "dedicatedTenant": {"storageGib": 20, "state": "CHANGING"},
                "errors": [],
            }, (case.name, target)
        else:
            assert payload == {"dedicatedTenant": None, "errors": [{"code": outcome}]}, (
                case.name,
                target,
            )
    changing = await clean_db.fetchval(
        "SELECT count(*) FROM dedicated_tenant WHERE state = 'CHANGING'"
    )
    assert changing == {"OK": 1}.get(_resize_outcome(case, "alpha_sm"), 0) + (case.name == "staff")


DELIVERIES = """{ webhookEndpoints(first: 20) { edges { node { id
  deliveries(first: 10) { totalCount edges { node { id eventId } } } } } } }"""
RESEND = """mutation($id: ID!) { resendWebhookDelivery(input: {id: $id}) {
  webhookDelivery { id eventId } errors { code path } } }"""


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_webhook_deliveries_are_seen_and_resent_only_with_their_endpoint(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    # One delivery to each endpoint of the world.
    rows = {}
    for name in WEBHOOK_ENDPOINTS:
        endpoint_id = parse_typed_id(world.ids[name], "WebhookEndpoint", path=("id",))
        body = message(WebhookEventType.SUBSCRIPTION_CREATED, f.NOW, {"n": name})
        rows[name] = delivery_row(
            endpoint_id, WebhookEventType.SUBSCRIPTION_CREATED, body, f.NOW, 3
        )
    await record(clean_db, *rows.values())
    http = await _client_for(case, app, world, anonymous)
    sees = case.sees["WebhookEndpoint"]

    listed = (await http.post("/graphql", json={"query": DELIVERIES})).json()
    if sees is None:
        assert _codes(listed) == {"webhookEndpoints": "FORBIDDEN"}
    else:
        found = {
            d["node"]["id"]
            for e in listed["data"]["webhookEndpoints"]["edges"]
            for d in e["node"]["deliveries"]["edges"]
        }
        assert found == {global_id("WebhookDelivery", rows[n].id) for n in sees}, case.name
    for name, delivery in rows.items():
        gid = global_id("WebhookDelivery", delivery.id)
        node = (
            await http.post(
                "/graphql",
                json={
                    "query": "query($id: ID!) { node(id: $id) { id } }",
                    "variables": {"id": gid},
                },
            )
        ).json()
        resent = (
            await http.post("/graphql", json={"query": RESEND, "variables": {"id": gid}})
        ).json()
        if sees is None:
            assert _codes(node) == {"node": "FORBIDDEN"}
            assert _codes(resent) == {"resendWebhookDelivery": "FORBIDDEN"}
        elif name in sees:
            assert answer(node) == {"data": {"node": {"id": gid}}}, name
            payload = resent["data"]["resendWebhookDelivery"]
            assert payload["errors"] == []
            assert payload["webhookDelivery"]["eventId"] == f"msg_{delivery.id.hex}"
        else:
            assert answer(node) == {"data": {"node": None}}, (case.name, name)
            assert resent["data"]["resendWebhookDelivery"] == {
                "webhookDelivery": None,
                "errors": [{"code": "NOT_FOUND", "path": ["id"]}],
            }, (case.name, name)
    resends = await clean_db.fetchval(
        "SELECT count(*) FROM provision_event WHERE payload ? 'webhook_id'"
    )
    assert resends == len(sees or ())


STEPS_QUERY = """{ namespaces(first: 20) { edges { node { id provisioningSteps {
  description state } } } } }"""


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_provisioning_steps_show_only_on_the_groups_a_caller_sees(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    """``Namespace.provisioningSteps`` (the portal's view of the ledger): each visible group's
    own GitLab.com steps, none of another's, and never another kind of row."""
    world = await _world(clean_db)
    namespaces = await clean_db.fetch("SELECT id, gitlab_id FROM namespace")
    by_gitlab_id = {r["gitlab_id"]: r["id"] for r in namespaces}
    steps = [
        row(NAMESPACE_PROVISION, namespace_id=by_gitlab_id[world.gitlab_ids[name]], plan=name)
        for name in ("ns_a", "ns_b")
    ]
    await record(clean_db, *steps)
    http = await _client_for(case, app, world, anonymous)
    body = (await http.post("/graphql", json={"query": STEPS_QUERY})).json()
    expected = case.sees["Namespace"]
    if expected is None:
        assert body["data"] is None
        return
    shown = {
        edge["node"]["id"]: len(edge["node"]["provisioningSteps"])
        for edge in body["data"]["namespaces"]["edges"]
    }
    # One NAMESPACE_PROVISION row each for ns_a and ns_b; ns_a's TEST_STEP row never shows.
    assert shown == {world.ids[name]: 1 if name in ("ns_a", "ns_b") else 0 for name in expected}


def _upload_outcome(case: Case, target: str) -> str:
    """What uploadUsageFile answers for the license of ``target``: it needs ``usage:write``
    (FORBIDDEN without); then staff and the customer's owners and admins record it, and anyone
    else reads the license as unknown (NOT_FOUND: instances report by seat link)."""
    assert case.token is not None
    if "usage:write" not in grantable(case.token["kind"], case.token.get("scopes")):
        return "FORBIDDEN"
    if case.name == "staff" or (
        case.name.startswith("portal user of Alpha") and target == "alpha_sm"
    ):
        return "OK"
    return "NOT_FOUND"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_usage_files_are_recorded_only_for_the_callers_own_licenses(
    case: Case, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    http = await _client_for(case, app, world, anonymous)
    before = await clean_db.fetchval("SELECT count(*) FROM usage_report")
    for target in ("alpha_sm", "beta_sm"):
        lic = await clean_db.fetchrow(
            "SELECT l.license_key, l.starts_at, l.expires_at FROM license l"
            " JOIN subscription s ON s.id = l.subscription WHERE s.name = $1",
            world.names[target],
        )
        content = usage_file(
            lic["license_key"],
            [(f.NOW - timedelta(days=1), 3)],
            starts_on=lic["starts_at"],
            ends_on=lic["expires_at"],
            generated_at=f.NOW,
        )
        body = (
            await http.post(
                "/graphql",
                json={
                    "query": "mutation($c: String!) { uploadUsageFile(input: {content: $c})"
                    " { rowsRecorded errors { code } } }",
                    "variables": {"c": content},
                },
            )
        ).json()
        outcome = _upload_outcome(case, target)
        if outcome == "FORBIDDEN":
            assert _codes(body) == {"uploadUsageFile": "FORBIDDEN"}, (case.name, target)
            continue
        uploaded = body["data"]["uploadUsageFile"]
        if outcome == "OK":
            assert uploaded == {"rowsRecorded": 1, "errors": []}, (case.name, target)
        else:
            assert [e["code"] for e in uploaded["errors"]] == ["NOT_FOUND"], (case.name, target)
    recorded = sum(_upload_outcome(case, t) == "OK" for t in ("alpha_sm", "beta_sm"))
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == before + recorded


def _top_codes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (str(error["path"][0]), error["extensions"]["code"]) for error in body.get("errors") or ()
    )


@pytest.mark.parametrize("case", [*CASES, None], ids=[*(case.name for case in CASES), "anonymous"])
async def test_a_dry_run_is_authorized_as_the_real_run(
    case: Case | None, app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    """Every mutation, for every principal: the dry run is refused (or answered) exactly as the
    real run right after it (docs/dry-runs.md); a forbidden dry run is forbidden."""
    from test_dry_runs import VALID, _document, _extras

    world = await _world(clean_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://provision.test", headers=bearer(token_for(app))
    ) as staff:
        extras = await _extras(app, clean_db, world, staff)
    if case is not None:
        await _client_for(case, app, world, anonymous)
    refused = 0
    for name, build in sorted(VALID.items()):
        document = _document(name, "")
        variables = {"input": build(world, extras)}
        dry = (
            await anonymous.post(
                "/graphql", json={"query": document, "variables": {**variables, "dry": True}}
            )
        ).json()
        real = (
            await anonymous.post(
                "/graphql", json={"query": document, "variables": {**variables, "dry": False}}
            )
        ).json()
        assert _top_codes(dry) == _top_codes(real), (name, dry, real)
        assert (dry.get("data") or {}).get(name, {}) == (real.get("data") or {}).get(name, {}), name
        refused += bool(_top_codes(dry))
    # Each principal is refused somewhere (staff: nowhere, the others: the staff mutations).
    assert (refused == 0) == (case is not None and case.name == "staff")
