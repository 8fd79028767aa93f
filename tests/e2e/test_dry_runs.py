"""Dry runs (docs/dry-runs.md): every mutation of the schema takes ``dryRun: true``, answers
what it would do (the payload and ``dryRun``), and writes nothing (an md5 of every table
before and after) and records nothing for the worker to send."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, GraphQLScalarType, get_named_type
from starlette.applications import Starlette
from test_authorization_matrix import ALICE_EMAIL, World, _world

from api.graphql.schema import build_schema
from api.ids import global_id, parse_typed_id
from domain.model.enums import LicensingMode, Plan
from domain.model.provision_event import ProvisionStatus
from domain.model.webhook import WebhookEventType, delivery_row, message
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.sandbox_clocks import SandboxClocks
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from factories import NOW
from ledger_peer import workers
from ledger_rows import record, row
from ledger_wait import settled
from mail_peer import serving_smtp
from usage_files import usage_file

SCHEMA = build_schema()._schema
TERM = {"segments": [{"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": 10}]}
NEXT_TERM = {"segments": [{"startDate": "2027-10-30", "endDate": "2028-10-30", "seats": 10}]}
EFFECTS = """dryRun { licenses { id subscriptionId plan seats startsAt expiresAt cancelled }
  ledgerSteps { kind subscriptionId namespaceId instanceId payload }
  auditEntries { action objectType objectId actorKind actorSubject before after }
  subscriptionIds activationCodes tables { table written deleted } }"""


async def digest(db: Database) -> dict[str, str]:
    """Every table's rows, as one md5 per table."""
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    )
    out = {}
    for record_ in tables:
        name = record_["tablename"]
        out[name] = await db.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{name}\" t"
        )
    return out


# Per mutation: a valid input in the matrix's world (``x``: the extra objects made below).
Build = Callable[[World, dict[str, Any]], dict[str, Any]]
VALID: dict[str, Build] = {
    "createSubscription": lambda w, x: {
        "customerId": w.ids["alpha"],
        "deployment": "SELF_MANAGED",
        "plan": "ULTIMATE",
        "term": TERM,
    },
    "cancelSubscription": lambda w, x: {"subscriptionId": w.ids["alpha_sm"]},
    "renewSubscription": lambda w, x: {"subscriptionId": w.ids["alpha_sm"], "term": NEXT_TERM},
    "changeSubscription": lambda w, x: {"subscriptionId": w.ids["alpha_sm"], "seats": 12},
    "rotateActivationCode": lambda w, x: {"subscriptionId": w.ids["alpha_sm"]},
    "issueOfflineLicense": lambda w, x: {"subscriptionId": x["offline"]},
    "linkNamespace": lambda w, x: {
        "subscriptionId": w.ids["alpha_saas"],
        "namespaceId": w.ids["ns_owned"],
    },
    "unlinkNamespace": lambda w, x: {"subscriptionId": w.ids["alpha_saas"]},
    "upsertNamespace": lambda w, x: {
        "gitlabId": 4242,
        "path": "new-group",
        "name": "New group",
        "kind": "group",
    },
    "orderNamespaceNameUpdate": lambda w, x: {
        "namespaceId": str(w.gitlab_ids["ns_a"]),
        "namespaceName": "renamed",
    },
    "reportNamespaceUsage": lambda w, x: {
        "gitlabId": w.gitlab_ids["ns_a"],
        "billableMembers": 3,
        "maxSeatsUsed": 4,
        "computeMinutesUsed": 5,
        "storageUsedBytes": 6.0,
    },
    "applyTrial": lambda w, x: {"namespaceId": w.ids["ns_owned"], "type": "ULTIMATE"},
    "extendTrial": lambda w, x: {"trialId": w.ids["trial_a"]},
    "reactivateTrial": lambda w, x: {"trialId": w.ids["trial_a"]},
    "activateSubscription": lambda w, x: {
        "activationCode": x["code"],
        "instanceIdentifier": "0b6c6a4e-6c3e-4b8e-9f59-5a0a4e9f0d11",
    },
    "cloudActivationActivate": lambda w, x: {
        "activationCode": x["code"],
        "instanceIdentifier": "0b6c6a4e-6c3e-4b8e-9f59-5a0a4e9f0d11",
    },
    "retryProvisionEvent": lambda w, x: {"eventId": x["failed"]},
    "changeDedicatedTenant": lambda w, x: {
        "subscriptionId": w.ids["alpha_sm"],
        "storageGib": 900,
        "expectedUsers": 50,
    },
    "retryDedicatedTenant": lambda w, x: {"tenantId": w.ids["ded_a"]},
    "resolveProvisionEvent": lambda w, x: {"eventId": x["failed"], "reason": "handled"},
    "setInstanceRole": lambda w, x: {"instanceId": w.ids["inst_a"], "role": "STAGING"},
    "retireInstance": lambda w, x: {"instanceId": w.ids["inst_a"]},
    "replaceInstance": lambda w, x: {
        "instanceId": w.ids["inst_a"],
        "newInstanceIdentifier": "8a5eaf4b-bc7d-4f4e-8d86-5cb19a3f7ea4",
    },
    "cancelLicense": lambda w, x: {"licenseId": w.ids["lic_a"]},
    "reportUsage": lambda w, x: {
        "licenseKey": "key-of-alpha",
        "timestamp": NOW.isoformat(),
        "billableUsers": 5,
        "maxHistoricalUsers": 6,
    },
    "advanceTestClock": lambda w, x: {"customerId": w.ids["alpha"], "by": "P1D"},
    "uploadUsageFile": lambda w, x: {
        "content": usage_file(
            "key-of-alpha",
            [(f.NOW, 1)],
            starts_on=f.TODAY - timedelta(days=30),
            ends_on=None,
            generated_at=f.NOW,
        ),
        "customerId": w.ids["alpha"],
    },
    "createWebhookEndpoint": lambda w, x: {
        "url": "https://hooks.example/in",
        "eventTypes": ["SUBSCRIPTION_CREATED"],
        "customerId": w.ids["alpha"],
    },
    "updateWebhookEndpoint": lambda w, x: {"id": w.ids["whe_alpha"], "enabled": False},
    "deleteWebhookEndpoint": lambda w, x: {"id": w.ids["whe_alpha"]},
    "createPartner": lambda w, x: {"id": "partner-c", "name": "C", "kind": "RESELLER"},
    "updatePartner": lambda w, x: {"id": "partner-a", "name": "Ay"},
    "transferSubscription": lambda w, x: {
        "subscriptionId": w.ids["alpha_sm"],
        "toChannel": "SALES",
        "reason": "moved",
    },
    "resendWebhookDelivery": lambda w, x: {"id": x["delivery"]},
    "rotateWebhookSecret": lambda w, x: {"id": w.ids["whe_alpha"]},
    "setMarketplaceOffer": lambda w, x: {
        "marketplace": "AZURE",
        "offer": "o",
        "planKey": "p",
        "plan": "PREMIUM",
        "deployment": "SELF_MANAGED",
    },
    "updateMarketplaceOffer": lambda w, x: {"id": w.ids["mko"], "seats": 3},
    "deleteMarketplaceOffer": lambda w, x: {"id": w.ids["mko"]},
}
# Valid documents the world answers with a payload error (the dry run must answer the same).
# Each is still compared with its real run, and writes nothing.
REFUSED_IN_THIS_WORLD = {
    "changeDedicatedTenant",  # the world's tenant is ORDERED, not ACTIVE
    "retryDedicatedTenant",  # ... nor FAILED
    "reactivateTrial",  # the world's trial has not ended
}


def _document(name: str, effects: str = EFFECTS) -> str:
    field = SCHEMA.mutation_type.fields[name]  # type: ignore[union-attr]
    argument = field.args["input"]
    payload = get_named_type(field.type)
    assert isinstance(payload, GraphQLObjectType)
    errors = get_named_type(payload.fields["errors"].type)
    selection = (
        "errors" if isinstance(errors, GraphQLScalarType) else "errors { code message path }"
    )
    return (
        f"mutation($input: {argument.type}, $dry: Boolean!) {{"
        f" {name}(input: $input, dryRun: $dry) {{ {selection} {effects} }} }}"
    )


def test_every_mutation_has_the_dry_run_argument_and_effects_and_a_case_here() -> None:
    fields = SCHEMA.mutation_type.fields  # type: ignore[union-attr]
    assert set(fields) == set(VALID)
    for name, field in fields.items():
        assert str(field.args["dryRun"].type) == "Boolean", name
        assert field.args["dryRun"].default_value is False, name
        payload = get_named_type(field.type)
        assert isinstance(payload, GraphQLObjectType)
        assert str(payload.fields["dryRun"].type) == "DryRunEffects", name


async def _extras(app: Starlette, db: Database, world: World, http: httpx.AsyncClient) -> Any:
    """What some mutations need besides the matrix's world: an activation code (taken for
    real), an offline subscription, a FAILED ledger row, a webhook delivery."""
    alpha = parse_typed_id(world.ids["alpha"], "Customer", path=("id",))
    async with PostgresUnitOfWork(db) as uow:
        customer = await uow.customers.get(alpha)
        await uow.commit()
    assert customer is not None
    fresh = f.subscription(customer)
    offline = dataclasses.replace(
        f.subscription(customer, plan=Plan.PREMIUM), licensing_mode=LicensingMode.OFFLINE_CLOUD
    )
    await f.store(db, fresh, offline)
    await SandboxClocks(db).mark(alpha, True)
    rotated = await http.post(
        "/graphql",
        json={
            "query": "mutation($id: ID!) { rotateActivationCode(input: {subscriptionId: $id})"
            " { activationCode errors { code } } }",
            "variables": {"id": global_id("Subscription", fresh.id)},
        },
    )
    code = rotated.json()["data"]["rotateActivationCode"]["activationCode"]
    assert code, rotated.text
    failed = row(status=ProvisionStatus.FAILED, subscription_id=world.alpha_sm)
    endpoint = parse_typed_id(world.ids["whe_alpha"], "WebhookEndpoint", path=("id",))
    created = WebhookEventType.SUBSCRIPTION_CREATED
    delivery = delivery_row(endpoint, created, message(created, NOW, {}), NOW, 3)
    await record(db, failed, delivery)
    return {
        "code": code,
        "offline": global_id("Subscription", offline.id),
        "failed": global_id("ProvisionEvent", failed.id),
        "delivery": global_id("WebhookDelivery", delivery.id),
    }


@pytest.mark.parametrize("mutation", sorted(VALID))
async def test_a_dry_run_writes_nothing_and_sends_nothing(
    app: Starlette, client: httpx.AsyncClient, clean_db: Database, mutation: str
) -> None:
    world = await _world(clean_db)
    extras = await _extras(app, clean_db, world, client)
    variables = {"input": VALID[mutation](world, extras), "dry": True}
    before = await digest(clean_db)
    response = await client.post(
        "/graphql", json={"query": _document(mutation), "variables": variables}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload = body["data"][mutation]
    assert await digest(clean_db) == before
    if mutation in REFUSED_IN_THIS_WORLD:
        assert payload["errors"], payload
    else:
        assert payload["errors"] in ([], None), payload
        assert payload["dryRun"] is not None
        assert payload["dryRun"]["tables"], payload  # it would have written something
    # Nothing new for the worker: the ledger is as it was (its md5 is in ``before``), and the
    # real run of the same document writes what the dry run reported.
    real = await client.post(
        "/graphql", json={"query": _document(mutation), "variables": {**variables, "dry": False}}
    )
    real_payload = real.json()["data"][mutation]
    assert real_payload["dryRun"] is None
    assert real_payload["errors"] == payload["errors"]


# --- Exact effects of the key mutations ---------------------------------------------------

KEY: dict[str, Build] = {
    "createSubscription": VALID["createSubscription"],
    "createSubscription/gitlab.com": lambda w, x: {
        "customerId": w.ids["alpha"],
        "deployment": "GITLAB_COM",
        "plan": "PREMIUM",
        "term": TERM,
    },
    "changeSubscription": VALID["changeSubscription"],
    "cancelSubscription": VALID["cancelSubscription"],
    "linkNamespace": VALID["linkNamespace"],
    "applyTrial": VALID["applyTrial"],
    "rotateActivationCode": VALID["rotateActivationCode"],
    "createWebhookEndpoint": VALID["createWebhookEndpoint"],
}


async def _rows(db: Database, table: str, order: str = "id") -> list[dict[str, Any]]:
    found = await db.fetch(f'SELECT to_jsonb(t) AS row FROM "{table}" t ORDER BY {order}')
    return [json.loads(r["row"]) for r in found]


@pytest.mark.parametrize("case", sorted(KEY))
async def test_a_dry_run_reports_exactly_what_the_real_run_does(
    app: Starlette, client: httpx.AsyncClient, clean_db: Database, case: str
) -> None:
    mutation = case.split("/")[0]
    world = await _world(clean_db)
    extras = await _extras(app, clean_db, world, client)
    variables = {"input": KEY[case](world, extras), "dry": True}
    dry = await client.post("/graphql", json={"query": _document(mutation), "variables": variables})
    effects = dry.json()["data"][mutation]["dryRun"]
    seen = {table: {r["id"] for r in await _rows(clean_db, table)} for table in TABLES}
    real = await client.post(
        "/graphql", json={"query": _document(mutation), "variables": {**variables, "dry": False}}
    )
    assert real.json()["data"][mutation]["errors"] == []
    new = {
        table: [r for r in await _rows(clean_db, table) if r["id"] not in seen[table]]
        for table in TABLES
    }
    assert [s["kind"] for s in effects["ledgerSteps"]] == [
        r["kind"] for r in new["provision_event"]
    ]
    assert [a["action"] for a in effects["auditEntries"]] == [
        r["action"] for r in new["audit_entry"]
    ]
    assert [(a["objectType"], a["actorKind"]) for a in effects["auditEntries"]] == [
        (r["object_type"], r["actor_kind"]) for r in new["audit_entry"]
    ]
    assert [
        (lic["plan"], lic["seats"], lic["startsAt"], lic["expiresAt"])
        for lic in effects["licenses"]
    ] == [(r["plan"], r["seats"], r["starts_at"], r["expires_at"]) for r in new["license"]]
    assert EXPECTED[case](effects, world)


TABLES = ("provision_event", "audit_entry", "license")


def _kinds(effects: dict[str, Any]) -> list[str]:
    return sorted(step["kind"] for step in effects["ledgerSteps"])


def _audit(effects: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(a["action"], a["objectType"], a["objectId"]) for a in effects["auditEntries"]]


def _tables(effects: dict[str, Any]) -> dict[str, int]:
    return {t["table"]: t["written"] for t in effects["tables"]}


def _created(effects: dict[str, Any], w: World) -> bool:
    (created,) = effects["subscriptionIds"]
    (email,) = [s for s in effects["ledgerSteps"] if s["kind"] == "EMAIL"]
    return (
        _kinds(effects) == ["EMAIL", "WEBHOOK_DELIVERY", "WEBHOOK_DELIVERY"]
        and email["payload"]["template"] == "activation_code"
        and email["subscriptionId"] == created
        and _audit(effects) == [("createSubscription", "Subscription", created)]
        and effects["activationCodes"] == 1
        and effects["licenses"] == []  # issued at activation
    )


def _created_saas(effects: dict[str, Any], w: World) -> bool:
    (created,) = effects["subscriptionIds"]
    return (
        _kinds(effects) == ["WEBHOOK_DELIVERY", "WEBHOOK_DELIVERY"]
        and {s["subscriptionId"] for s in effects["ledgerSteps"]} == {created}
        and _audit(effects) == [("createSubscription", "Subscription", created)]
        and effects["activationCodes"] == 0
        and effects["auditEntries"][0]["after"]["deployment"] == "GITLAB_COM"
    )


def _seats(value: Any) -> Any:
    """The ``seats`` anywhere in a provisioning call's body."""
    if isinstance(value, dict):
        if "seats" in value:
            return value["seats"]
        for item in value.values():
            found = _seats(item)
            if found is not None:
                return found
    return None


def _linked(effects: dict[str, Any], w: World) -> bool:
    calls = {
        (s["subscriptionId"], s["namespaceId"], _seats(s["payload"]))
        for s in effects["ledgerSteps"]
    }
    return (
        _kinds(effects) == ["NAMESPACE_PROVISION", "NAMESPACE_PROVISION"]
        # The old group reverts, the new one gets the plan.
        and calls == {(None, w.ids["ns_a"], 0), (w.ids["alpha_saas"], w.ids["ns_owned"], 10)}
        and _audit(effects) == [("linkNamespace", "Subscription", w.ids["alpha_saas"])]
    )


def _trial(effects: dict[str, Any], w: World) -> bool:
    (email,) = [s for s in effects["ledgerSteps"] if s["kind"] == "EMAIL"]
    (call,) = [s for s in effects["ledgerSteps"] if s["kind"] == "NAMESPACE_PROVISION"]
    ((action, object_type, _),) = _audit(effects)
    return (
        email["payload"]["template"] == "trial_started"
        and email["payload"]["to"] == "ALICE@ALPHA.TEST"
        and call["namespaceId"] == w.ids["ns_owned"]
        and (action, object_type) == ("applyTrial", "Trial")
        and _tables(effects)["trial"] == 1
    )


EXPECTED: dict[str, Callable[[dict[str, Any], World], bool]] = {
    "createSubscription": _created,
    "createSubscription/gitlab.com": _created_saas,
    "changeSubscription": lambda e, w: (
        _kinds(e) == []
        and _audit(e) == [("changeSubscription", "Subscription", w.ids["alpha_sm"])]
        and e["subscriptionIds"] == [w.ids["alpha_sm"]]
        and 12 in [segment[2] for segment in e["auditEntries"][0]["after"]["segments"]]
    ),
    "cancelSubscription": lambda e, w: (
        _kinds(e) == ["EMAIL"]
        and e["ledgerSteps"][0]["payload"]["template"] == "subscription_cancelled"
        and e["ledgerSteps"][0]["subscriptionId"] == w.ids["alpha_sm"]
        and _audit(e) == [("cancelSubscription", "Subscription", w.ids["alpha_sm"])]
    ),
    "linkNamespace": _linked,
    "applyTrial": _trial,
    "rotateActivationCode": lambda e, w: (
        _kinds(e) == []
        and e["activationCodes"] == 1
        and _audit(e) == [("rotateActivationCode", "Subscription", w.ids["alpha_sm"])]
    ),
    "createWebhookEndpoint": lambda e, w: (
        _kinds(e) == []
        and [a[:2] for a in _audit(e)] == [("createWebhookEndpoint", "WebhookEndpoint")]
        and _tables(e)["webhook_endpoint"] == 1
    ),
}


# --- Who sees what, bad input, one kind of run per operation -------------------------------

ALICE = {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_alice", "email": ALICE_EMAIL}


async def test_a_portal_user_sees_its_effects_without_staff_only_data(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    anonymous.headers.update(bearer(token_for(app, **ALICE)))  # type: ignore[arg-type]
    before = await digest(clean_db)
    response = await anonymous.post(
        "/graphql",
        json={
            "query": _document("applyTrial"),
            "variables": {"input": VALID["applyTrial"](world, {}), "dry": True},
        },
    )
    payload = response.json()["data"]["applyTrial"]
    assert payload["errors"] == []
    effects = payload["dryRun"]
    assert sorted(s["kind"] for s in effects["ledgerSteps"]) == ["EMAIL", "NAMESPACE_PROVISION"]
    assert {s["payload"] for s in effects["ledgerSteps"]} == {None}  # payloads: staff only
    ((audit),) = effects["auditEntries"]
    assert (audit["action"], audit["actorKind"], audit["before"], audit["after"]) == (
        "applyTrial",
        "PORTAL_USER",
        None,
        None,
    )
    assert effects["tables"] is None
    assert await digest(clean_db) == before


CHANGE = """mutation($input: ChangeSubscriptionInput!, $dry: Boolean) {
  changeSubscription(input: $input, dryRun: $dry) {
    errors { code message path } dryRun { subscriptionIds } } }"""


@pytest.mark.parametrize(
    "bad",
    [
        {"seats": 0},
        {"seats": 5, "segmentStartDate": "2020-01-01"},
        {"subscriptionId": "sub_00000000000000000000000000000000", "seats": 3},
    ],
)
async def test_a_dry_run_with_bad_input_gets_the_real_runs_errors(
    client: httpx.AsyncClient, clean_db: Database, bad: dict[str, Any]
) -> None:
    world = await _world(clean_db)
    given = {"subscriptionId": world.ids["alpha_sm"], **bad}
    answers = []
    for dry in (True, False, None):
        response = await client.post(
            "/graphql", json={"query": CHANGE, "variables": {"input": given, "dry": dry}}
        )
        answers.append(response.json())
    assert answers[0]["data"]["changeSubscription"]["errors"]
    assert answers[0]["data"]["changeSubscription"]["dryRun"] == {"subscriptionIds": []}
    for answer in answers[1:]:
        assert (
            answer["data"]["changeSubscription"]["errors"]
            == answers[0]["data"]["changeSubscription"]["errors"]
        )
        assert answer["data"]["changeSubscription"]["dryRun"] is None


async def test_an_operation_is_all_dry_runs_or_none(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    world = await _world(clean_db)
    before = await digest(clean_db)
    mixed = """mutation($id: ID!) {
      a: changeSubscription(input: {subscriptionId: $id, seats: 11}, dryRun: true)
        { errors { code } }
      b: changeSubscription(input: {subscriptionId: $id, seats: 12}) { errors { code } } }"""
    body = (
        await client.post(
            "/graphql", json={"query": mixed, "variables": {"id": world.ids["alpha_sm"]}}
        )
    ).json()
    assert {e["extensions"]["code"] for e in body["errors"]} == {"VALIDATION_FAILED"}
    assert await digest(clean_db) == before
    # Two dry runs in one operation: the second sees the first, each reports its own.
    both = mixed.replace("seats: 12})", "seats: 12}, dryRun: true)").replace(
        "{ errors { code } }",
        "{ errors { code } subscription { seats } dryRun { auditEntries { action } } }",
    )
    body = (
        await client.post(
            "/graphql", json={"query": both, "variables": {"id": world.ids["alpha_sm"]}}
        )
    ).json()
    assert "errors" not in body, body
    assert [body["data"][k]["subscription"]["seats"] for k in "ab"] == [11, 12]
    assert [len(body["data"][k]["dryRun"]["auditEntries"]) for k in "ab"] == [1, 1]
    assert await digest(clean_db) == before


SELL = """mutation($input: CreateSubscriptionInput!, $dry: Boolean) {
  createSubscription(input: $input, dryRun: $dry) {
    errors { code } dryRun { ledgerSteps { kind payload } } } }"""


def _sale(email: str) -> dict[str, Any]:
    return {
        "deployment": "SELF_MANAGED",
        "plan": "ULTIMATE",
        "term": TERM,
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": email},
    }


async def test_the_worker_sends_nothing_of_a_dry_run(
    client: httpx.AsyncClient, clean_db: Database, tmp_path: Path
) -> None:
    dry = await client.post(
        "/graphql",
        json={"query": SELL, "variables": {"input": _sale("dry@acme.test"), "dry": True}},
    )
    (step,) = dry.json()["data"]["createSubscription"]["dryRun"]["ledgerSteps"]
    assert (step["kind"], step["payload"]["to"]) == ("EMAIL", "dry@acme.test")
    real = await client.post(
        "/graphql", json={"query": SELL, "variables": {"input": _sale("real@acme.test")}}
    )
    assert real.json()["data"]["createSubscription"]["errors"] == []
    (row_id,) = [r["id"] for r in await clean_db.fetch("SELECT id FROM provision_event")]
    with serving_smtp() as smtp, workers(clean_db.dsn, tmp_path, 1, SMTP_URL=smtp.url):
        await settled(clean_db, row_id, ProvisionStatus.SUCCEEDED)
        # The worker drained the ledger: the real sale's email went, the dry run's never.
        assert smtp.recipients == [["real@acme.test"]]
