"""No error oracle: for a portal user, every mutation that takes an id answers another
tenant's object exactly as it answers an id of nothing (same codes, same messages), so an id
tells nothing of what exists outside the caller's reach. The mutations with an id input come
from the schema: a new one must be added to ``TARGETS`` (a test says so)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType, GraphQLScalarType, get_named_type
from starlette.applications import Starlette
from test_authorization_matrix import ALICE_EMAIL, World, _world

from api.graphql.schema import build_schema
from api.ids import global_id, parse_typed_id
from domain.model.webhook import WebhookEventType, delivery_row, message
from domain.principal import PrincipalKind
from persistence.database import Database

import factories as f
from bearer import bearer, token_for
from factories import NOW
from ledger_rows import record
from usage_files import usage_file

SCHEMA = build_schema()._schema
TERM = {"segments": [{"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": 10}]}
Build = Callable[[World, Callable[[str], str]], dict[str, Any]]
# Per mutation: the type of the id aimed at, and the input naming it (``t``) with the caller's
# own objects everywhere else. ``t(type)`` is another tenant's object of that type, or nothing.
TARGETS: dict[str, list[Build]] = {
    "createSubscription": [
        lambda w, t: {
            "customerId": t("Customer"),
            "deployment": "SELF_MANAGED",
            "plan": "ULTIMATE",
            "term": TERM,
            "maxInstances": 1,
            "channel": "WEB_DIRECT",
            "autoRenew": False,
            "reconciliationEnabled": False,
        }
    ],
    "cancelSubscription": [lambda w, t: {"subscriptionId": t("Subscription"), "atPeriodEnd": True}],
    "advanceTestClock": [lambda w, t: {"customerId": t("Customer"), "by": "P1D"}],
    "renewSubscription": [lambda w, t: {"subscriptionId": t("Subscription"), "term": TERM}],
    "changeSubscription": [lambda w, t: {"subscriptionId": t("Subscription")}],
    "changeDedicatedTenant": [
        lambda w, t: {"subscriptionId": t("Subscription"), "storageGib": 900, "expectedUsers": 50}
    ],
    "rotateActivationCode": [lambda w, t: {"subscriptionId": t("Subscription")}],
    "transferSubscription": [
        lambda w, t: {"subscriptionId": t("Subscription"), "toChannel": "SALES", "reason": "x"}
    ],
    "issueOfflineLicense": [lambda w, t: {"subscriptionId": t("Subscription")}],
    "unlinkNamespace": [lambda w, t: {"subscriptionId": t("SaasSubscription")}],
    "linkNamespace": [
        lambda w, t: {"subscriptionId": w.ids["alpha_saas"], "namespaceId": t("Namespace")},
        lambda w, t: {"subscriptionId": t("SaasSubscription"), "namespaceId": w.ids["ns_owned"]},
    ],
    "orderNamespaceNameUpdate": [
        lambda w, t: {"namespaceId": t("GitlabNamespace"), "namespaceName": "renamed"}
    ],
    "applyTrial": [lambda w, t: {"namespaceId": t("Namespace"), "type": "ULTIMATE"}],
    "extendTrial": [lambda w, t: {"trialId": t("Trial")}],
    "reactivateTrial": [lambda w, t: {"trialId": t("Trial")}],
    "retryProvisionEvent": [lambda w, t: {"eventId": t("ProvisionEvent")}],
    "resolveProvisionEvent": [lambda w, t: {"eventId": t("ProvisionEvent"), "reason": "x"}],
    "retryDedicatedTenant": [lambda w, t: {"tenantId": t("DedicatedTenant")}],
    "cancelLicense": [lambda w, t: {"licenseId": t("License")}],
    "setInstanceRole": [lambda w, t: {"instanceId": t("Instance"), "role": "STAGING"}],
    "retireInstance": [lambda w, t: {"instanceId": t("Instance")}],
    "replaceInstance": [
        lambda w, t: {
            "instanceId": t("Instance"),
            "newInstanceIdentifier": "8a5eaf4b-bc7d-4f4e-8d86-5cb19a3f7ea4",
        }
    ],
    # The caller's own license's file, claimed for another customer (or none).
    "uploadUsageFile": [
        lambda w, t: {
            "content": usage_file(
                "key-of-alpha",
                [(f.NOW, 1)],
                starts_on=f.TODAY,
                ends_on=None,
                generated_at=f.NOW,
            ),
            "customerId": t("Customer"),
        }
    ],
    "createWebhookEndpoint": [
        lambda w, t: {
            "url": "https://hooks.example/in",
            "eventTypes": ["SUBSCRIPTION_CREATED"],
            "customerId": t("Customer"),
        }
    ],
    "updateWebhookEndpoint": [lambda w, t: {"id": t("WebhookEndpoint"), "enabled": False}],
    "deleteWebhookEndpoint": [lambda w, t: {"id": t("WebhookEndpoint")}],
    "rotateWebhookSecret": [lambda w, t: {"id": t("WebhookEndpoint")}],
    "updateMarketplaceOffer": [lambda w, t: {"id": t("MarketplaceOffer"), "seats": 3}],
    "deleteMarketplaceOffer": [lambda w, t: {"id": t("MarketplaceOffer")}],
    "resendWebhookDelivery": [lambda w, t: {"id": t("WebhookDelivery")}],
}
BETA = {
    "Customer": "beta",
    "Subscription": "beta_sm",
    "SaasSubscription": "beta_saas",
    "Namespace": "ns_b",
    "Trial": "trial_b",
    "ProvisionEvent": "pev_b",
    "License": "lic_b",
    "Instance": "inst_b",
    "WebhookEndpoint": "whe_beta",
    "MarketplaceOffer": "mko",
    "DedicatedTenant": "ded_b",
}


def _takes_an_id(field: Any) -> bool:
    for argument in field.args.values():
        named = get_named_type(argument.type)
        if named.name == "ID":
            return True
        if isinstance(named, GraphQLInputObjectType) and any(
            get_named_type(f.type).name == "ID" for f in named.fields.values()
        ):
            return True
    return False


def _document(name: str, dry: bool = False) -> str:
    field = SCHEMA.mutation_type.fields[name]  # type: ignore[union-attr]
    (argument,) = ((n, a) for n, a in field.args.items() if n != "dryRun")
    payload = get_named_type(field.type)
    assert isinstance(payload, GraphQLObjectType)
    errors = get_named_type(payload.fields["errors"].type)
    selection = (
        "errors" if isinstance(errors, GraphQLScalarType) else "errors { code message path }"
    )
    variable, type_ = argument[0], argument[1].type
    flag = ", dryRun: true" if dry else ""
    return f"mutation($input: {type_}) {{ {name}({variable}: $input{flag}) {{ {selection} }} }}"


def test_every_mutation_with_an_id_is_compared() -> None:
    fields = SCHEMA.mutation_type.fields  # type: ignore[union-attr]
    assert {name for name, field in fields.items() if _takes_an_id(field)} == set(TARGETS)


def _answer(body: dict[str, Any]) -> Any:
    for error in body.get("errors") or ():
        (error.get("extensions") or {}).pop("requestId", None)
        # A coded answer, not a document this test got wrong (validation errors have no code).
        assert (error.get("extensions") or {}).get("code") not in (None, "INTERNAL"), body
    return body


@pytest.mark.parametrize("dry", [False, True], ids=["real", "dry run"])
@pytest.mark.parametrize(
    ("mutation", "case"),
    [(name, index) for name, builds in TARGETS.items() for index in range(len(builds))],
)
async def test_another_tenants_object_is_answered_as_nothing(
    app: Starlette,
    anonymous: httpx.AsyncClient,
    clean_db: Database,
    mutation: str,
    case: int,
    dry: bool,
) -> None:
    world = await _world(clean_db)
    # A delivery to Beta's endpoint (the shared world has none: they are ledger rows).
    to_beta = parse_typed_id(world.ids["whe_beta"], "WebhookEndpoint", path=("id",))
    created = WebhookEventType.SUBSCRIPTION_CREATED
    delivery = delivery_row(to_beta, created, message(created, NOW, {}), NOW, 3)
    await record(clean_db, delivery)
    extra = {"WebhookDelivery": global_id("WebhookDelivery", delivery.id)}
    alice = {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_alice", "email": ALICE_EMAIL}
    anonymous.headers.update(bearer(token_for(app, **alice)))  # type: ignore[arg-type]
    build = TARGETS[mutation][case]

    def theirs(kind: str) -> str:
        if kind in extra:
            return extra[kind]
        if kind == "GitlabNamespace":
            return str(world.gitlab_ids["ns_b"])
        return world.ids[BETA[kind]]

    def nothing(kind: str) -> str:
        if kind == "GitlabNamespace":
            return "987654321"
        kind = "Subscription" if kind == "SaasSubscription" else kind
        return global_id(kind, uuid.uuid4())

    answers = []
    for aim in (theirs, nothing):
        response = await anonymous.post(
            "/graphql",
            json={"query": _document(mutation, dry), "variables": {"input": build(world, aim)}},
        )
        assert response.status_code == 200, response.text
        answers.append(_answer(response.json()))
    assert answers[0] == answers[1]
