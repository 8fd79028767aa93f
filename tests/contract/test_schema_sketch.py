"""The core names clients are written against (shared/schema-sketch.graphql) exist in the
schema with the same shapes. The list is copied here so that the test runs anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, get_named_type, is_non_null_type
from graphql import build_schema as parse_sdl

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"

# type -> fields ("!" marks a non-null field in the sketch)
SKETCH: dict[str, list[str]] = {
    "PageInfo": ["hasNextPage!", "endCursor", "hasPreviousPage!", "startCursor"],
    "Customer": ["id!", "company!", "contactName!", "contactEmail!", "subscriptions!"],
    "Segment": ["startDate!", "endDate!", "seats!"],
    "Term": ["startDate!", "endDate!", "segments!"],
    "AddOn": ["name!", "quantity!", "startDate!", "endDate!"],
    "Subscription": [
        "id!",
        "name!",
        "customer!",
        "deployment!",
        "plan!",
        "channel!",
        "status!",
        "cancelAtPeriodEnd!",
        "autoRenew!",
        "licensingMode",
        "maxInstances!",
        "startDate!",
        "endDate!",
        "seats!",
        "terms!",
        "addOns!",
        "namespace",
        "licenses!",
        "instances!",
        "usage",
    ],
    "Usage": ["seatsInUse!", "maxSeatsUsed!", "overage!", "reportedAt", "nextReconciliationDate"],
    "License": [
        "id!",
        "subscription!",
        "mode!",
        "plan!",
        "seats!",
        "startsAt!",
        "expiresAt!",
        "trial!",
        "cancelled!",
        "licenseKey!",
        "createdAt!",
    ],
    "Instance": [
        "id!",
        "instanceIdentifier!",
        "hostname",
        "gitlabVersion",
        "subscription!",
        "activatedAt!",
        "lastSyncedAt",
    ],
    "Namespace": [
        "id!",
        "gitlabId!",
        "path!",
        "name!",
        "kind!",
        "topLevel!",
        "basePlan!",
        "plan!",
        "subscription",
        "trials!",
        "billableMembers",
        "maxSeatsUsed",
        "computeMinutesUsed",
        "storageUsedBytes",
    ],
    "Trial": [
        "id!",
        "type!",
        "status!",
        "namespace",
        "subscription",
        "startsOn!",
        "endsOn!",
        "revertsTo",
        "extended!",
    ],
    "Viewer": ["kind!", "subject", "scopes!", "customers!"],
    "Query": [
        "viewer!",
        "node",
        "nodes!",
        "customers!",
        "subscriptions!",
        "subscription",
        "namespaces!",
        "namespace",
        "licenses!",
        "instances!",
        "trials!",
    ],
}
for node in ("Subscription", "Customer", "Namespace", "License", "Instance", "Trial"):
    SKETCH[f"{node}Edge"] = ["node!", "cursor!"]
    SKETCH[f"{node}Connection"] = ["edges!", "pageInfo!", "totalCount"]

ENUMS = {
    "Plan": {"FREE", "PREMIUM", "ULTIMATE"},
    "NamespacePlan": {
        "FREE",
        "PREMIUM",
        "ULTIMATE",
        "ULTIMATE_TRIAL",
        "ULTIMATE_TRIAL_PAID_CUSTOMER",
    },
    "Deployment": {"GITLAB_COM", "SELF_MANAGED", "DEDICATED"},
    "Channel": {"WEB_DIRECT", "SALES", "RESELLER", "MARKETPLACE"},
    "LicensingMode": {"ONLINE_CLOUD", "OFFLINE_CLOUD", "LEGACY"},
    "SubscriptionStatus": {"PENDING", "ACTIVE", "EXPIRED", "CANCELLED"},
    "TrialType": {"ULTIMATE", "ULTIMATE_ON_PREMIUM", "DUO_ENTERPRISE"},
    "TrialStatus": {"ACTIVE", "EXPIRED"},
    "ErrorCode": {
        "NOT_FOUND",
        "VALIDATION_FAILED",
        "IDEMPOTENCY_KEY_REUSED",
        "ACTIVATION_CODE_INVALID",
        "SUBSCRIPTION_NOT_CLOUD_LICENSABLE",
        "SUBSCRIPTION_NOT_ACTIVE",
        "INSTANCE_LIMIT_REACHED",
        "LICENSE_ALREADY_CANCELLED",
        "SUBSCRIPTION_ALREADY_CANCELLED",
        "SUBSCRIPTION_NOT_SAAS",
        "NAMESPACE_NOT_TOP_LEVEL",
        "NOT_NAMESPACE_OWNER",
        "NAMESPACE_ALREADY_LINKED",
        "TRIAL_NOT_ELIGIBLE",
        "TRIAL_ALREADY_EXTENDED",
        "RATE_LIMITED",
    },
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return parse_sdl(SCHEMA.read_text())


@pytest.mark.parametrize("type_name", sorted(SKETCH))
def test_sketched_fields_exist_with_their_nullability(
    schema: GraphQLSchema, type_name: str
) -> None:
    type_ = schema.get_type(type_name)
    assert type_ is not None, f"{type_name} is missing"
    fields = type_.fields  # type: ignore[union-attr]
    for spec in SKETCH[type_name]:
        name, required = spec.rstrip("!"), spec.endswith("!")
        assert name in fields, f"{type_name}.{name} is missing"
        assert is_non_null_type(fields[name].type) == required, f"{type_name}.{name} nullability"


@pytest.mark.parametrize("enum_name", sorted(ENUMS))
def test_sketched_enum_values_exist(schema: GraphQLSchema, enum_name: str) -> None:
    enum = schema.get_type(enum_name)
    assert enum is not None
    assert ENUMS[enum_name] <= set(enum.values)  # type: ignore[union-attr]


def test_nodes_implement_node(schema: GraphQLSchema) -> None:
    for name in ("Customer", "Subscription", "License", "Instance", "Namespace", "Trial"):
        interfaces = {i.name for i in schema.get_type(name).interfaces}  # type: ignore[union-attr]
        assert "Node" in interfaces
    assert get_named_type(schema.query_type.fields["node"].type).name == "Node"  # type: ignore[union-attr]
