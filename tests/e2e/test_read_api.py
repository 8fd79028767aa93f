"""The read API over HTTP: every root field, nested fields, node lookups."""

from __future__ import annotations

from datetime import timedelta

from api.ids import global_id
from domain.model.enums import Deployment, NamespacePlan, Plan, TrialType
from domain.model.namespace import NamespaceUsage
from persistence.database import Database

import factories as f
from graphql_client import GraphQL, codes


async def _world(db: Database) -> dict[str, object]:
    acme, globex = f.customer("Acme"), f.customer("Globex")
    group = f.namespace(100)
    group.base_plan = NamespacePlan.PREMIUM
    group.usage = NamespaceUsage(40, 55, 1000, 10**9, f.NOW)
    saas = f.subscription(
        acme, deployment=Deployment.GITLAB_COM, namespace_id=group.id, seats=(50,)
    )
    start = f.TODAY - timedelta(days=400)
    ramp = f.subscription(acme, start=start, seats=(100, 250, 500), plan=Plan.ULTIMATE)
    pending = f.subscription(globex, start=f.TODAY + timedelta(days=3))
    instance = f.instance_for(ramp)
    lic = f.license_for(ramp, seats=250, key="LICENSE-KEY")
    report = f.usage_for(ramp, billable=240, maximum=260)
    trial = f.trial_on(group, type_=TrialType.ULTIMATE_ON_PREMIUM)
    await f.store(db, acme, globex, group, saas, ramp, pending, instance, lic, report, trial)
    return {
        "acme": acme,
        "group": group,
        "saas": saas,
        "ramp": ramp,
        "pending": pending,
        "instance": instance,
        "license": lic,
        "report": report,
        "trial": trial,
    }


async def test_a_subscription_with_its_nested_fields(gql: GraphQL, clean_db: Database) -> None:
    world = await _world(clean_db)
    ramp = world["ramp"]
    body = await gql(
        """query($name: String) { subscription(name: $name) {
            id name plan status seats deployment licensingMode maxInstances
            customer { company }
            terms { startDate endDate segments { startDate endDate seats } }
            licenses { edges { node { seats licenseKey subscription { name } } } }
            instances { edges { node { hostname instanceIdentifier } } }
            usage { seatsInUse maxSeatsUsed overage }
        } }""",
        name=ramp.name,  # type: ignore[attr-defined]
    )
    assert "errors" not in body, body
    sub = body["data"]["subscription"]
    assert sub["id"] == global_id("Subscription", ramp.id)  # type: ignore[attr-defined]
    assert sub["plan"] == "ULTIMATE"
    assert sub["status"] == "ACTIVE"
    assert sub["seats"] == 250  # second year of the ramp
    assert sub["licensingMode"] == "ONLINE_CLOUD"
    assert sub["customer"] == {"company": "Acme"}
    assert [s["seats"] for s in sub["terms"][0]["segments"]] == [100, 250, 500]
    assert sub["licenses"]["edges"][0]["node"] == {
        "seats": 250,
        "licenseKey": "LICENSE-KEY",
        "subscription": {"name": ramp.name},  # type: ignore[attr-defined]
    }
    assert sub["instances"]["edges"][0]["node"]["hostname"] == "gitlab.example.com"
    assert sub["usage"] == {"seatsInUse": 240, "maxSeatsUsed": 260, "overage": 10}


async def test_saas_subscription_namespace_and_trial_overlay(
    gql: GraphQL, clean_db: Database
) -> None:
    world = await _world(clean_db)
    body = await gql(
        """query($id: ID) { subscription(id: $id) {
            licensingMode usage { seatsInUse overage }
            namespace { gitlabId topLevel basePlan plan billableMembers
                        trials { type status revertsTo } subscription { name } }
        } }""",
        id=global_id("Subscription", world["saas"].id),  # type: ignore[attr-defined]
    )
    assert "errors" not in body, body
    sub = body["data"]["subscription"]
    assert sub["licensingMode"] is None
    assert sub["usage"] == {"seatsInUse": 40, "overage": 5}
    ns = sub["namespace"]
    assert ns["basePlan"] == "PREMIUM"
    assert ns["plan"] == "ULTIMATE_TRIAL_PAID_CUSTOMER"
    assert ns["trials"] == [
        {"type": "ULTIMATE_ON_PREMIUM", "status": "ACTIVE", "revertsTo": "FREE"}
    ]
    assert ns["subscription"]["name"] == world["saas"].name  # type: ignore[attr-defined]


async def test_filters(gql: GraphQL, clean_db: Database) -> None:
    world = await _world(clean_db)
    query = """query($status: SubscriptionStatus, $deployment: Deployment, $plan: Plan,
                     $customerId: ID) {
        subscriptions(status: $status, deployment: $deployment, plan: $plan,
                      customerId: $customerId) { totalCount edges { node { name } } } }"""

    async def names(**variables: object) -> list[str]:
        body = await gql(query, **variables)
        assert "errors" not in body, body
        return [e["node"]["name"] for e in body["data"]["subscriptions"]["edges"]]

    assert await names(status="PENDING") == [world["pending"].name]  # type: ignore[attr-defined]
    assert await names(deployment="GITLAB_COM") == [world["saas"].name]  # type: ignore[attr-defined]
    assert await names(plan="ULTIMATE") == [world["ramp"].name]  # type: ignore[attr-defined]
    acme_id = global_id("Customer", world["acme"].id)  # type: ignore[attr-defined]
    assert len(await names(customerId=acme_id)) == 2
    bad = await gql(query, customerId=global_id("Namespace", world["group"].id))  # type: ignore[attr-defined]
    assert codes(bad) == ["VALIDATION_FAILED"]
    assert "not the ID of a Customer" in bad["errors"][0]["message"]


async def test_every_root_list(gql: GraphQL, clean_db: Database) -> None:
    await _world(clean_db)
    body = await gql(
        """{
          customers { totalCount edges { node { company subscriptions { totalCount } } } }
          namespaces { totalCount edges { node { path plan } } }
          licenses { totalCount edges { node { plan mode } } }
          instances { totalCount edges { node { gitlabVersion subscription { plan } } } }
          trials { totalCount edges { node { type status namespace { gitlabId } } } }
          usageReports { totalCount edges { node { billableUsers subscription { plan } } } }
          viewer { kind subject scopes customers { totalCount } }
        }"""
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["customers"]["totalCount"] == 2
    counts = [e["node"]["subscriptions"]["totalCount"] for e in data["customers"]["edges"]]
    assert counts == [2, 1]
    assert data["namespaces"]["edges"][0]["node"] == {
        "path": "group-100",
        "plan": "ULTIMATE_TRIAL_PAID_CUSTOMER",
    }
    assert data["licenses"]["totalCount"] == 1
    assert data["instances"]["edges"][0]["node"]["subscription"] == {"plan": "ULTIMATE"}
    assert data["trials"]["edges"][0]["node"]["namespace"] == {"gitlabId": 100}
    assert data["usageReports"]["edges"][0]["node"]["billableUsers"] == 240
    assert data["viewer"]["kind"] == "STAFF"
    assert data["viewer"]["subject"] == "test:staff"
    assert "customers:read" in data["viewer"]["scopes"]
    assert data["viewer"]["customers"] == {"totalCount": 2}


async def test_node_and_nodes_find_every_type(gql: GraphQL, clean_db: Database) -> None:
    world = await _world(clean_db)
    ids = {
        "Subscription": world["ramp"].id,  # type: ignore[attr-defined]
        "Customer": world["acme"].id,  # type: ignore[attr-defined]
        "Namespace": world["group"].id,  # type: ignore[attr-defined]
        "License": world["license"].id,  # type: ignore[attr-defined]
        "Instance": world["instance"].id,  # type: ignore[attr-defined]
        "Trial": world["trial"].id,  # type: ignore[attr-defined]
        "UsageReport": world["report"].id,  # type: ignore[attr-defined]
    }
    for type_name, local_id in ids.items():
        gid = global_id(type_name, local_id)
        body = await gql("query($id: ID!) { node(id: $id) { __typename id } }", id=gid)
        assert body["data"]["node"] == {"__typename": type_name, "id": gid}
    missing = global_id("Subscription", world["acme"].id)  # type: ignore[attr-defined]
    every = [global_id(t, i) for t, i in ids.items()] + [missing]
    body = await gql("query($ids: [ID!]!) { nodes(ids: $ids) { __typename } }", ids=every)
    assert [n and n["__typename"] for n in body["data"]["nodes"]] == [*ids, None]


async def test_lookups_by_other_keys(gql: GraphQL, clean_db: Database) -> None:
    world = await _world(clean_db)
    body = await gql(
        """query($lic: ID!) { namespace(gitlabId: 100) { path }
             missing: namespace(gitlabId: 999) { path }
             license(id: $lic) { licenseKey }
             unknown: subscription(name: "A-S99999999") { name } }""",
        lic=global_id("License", world["license"].id),  # type: ignore[attr-defined]
    )
    assert body["data"] == {
        "namespace": {"path": "group-100"},
        "missing": None,
        "license": {"licenseKey": "LICENSE-KEY"},
        "unknown": None,
    }
