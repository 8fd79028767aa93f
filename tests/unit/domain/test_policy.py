"""The access policy: scopes a kind may hold, how far it reaches, and the scope check."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import Forbidden, Unauthenticated
from domain.policy import (
    ALL_SCOPES,
    GRANTABLE_SCOPES,
    Access,
    Reach,
    Resource,
    grantable,
    reach,
    require_scope,
    scope,
)
from domain.principal import Principal, PrincipalKind

STAFF = Principal(PrincipalKind.STAFF, subject="ops", scopes=ALL_SCOPES)
PORTAL = Principal(PrincipalKind.PORTAL_USER, subject="usr_1")
PARTNER = Principal(PrincipalKind.PARTNER, subject="client", partner_id="reseller-1")
GITLAB = Principal(PrincipalKind.GITLAB_COM, subject="gitlab")
INSTANCE = Principal(PrincipalKind.INSTANCE, subject="inst", subscription_id=uuid.uuid4())


def test_every_scope_is_resource_colon_access_and_described() -> None:
    for name in ALL_SCOPES:
        resource, _, access = name.partition(":")
        assert scope(Resource(resource), Access(access)) == name


def test_staff_may_hold_everything_and_nobody_nothing() -> None:
    assert GRANTABLE_SCOPES[PrincipalKind.STAFF] == ALL_SCOPES
    assert grantable(PrincipalKind.ANONYMOUS) == frozenset()


def test_a_request_is_cut_down_to_what_the_kind_may_hold() -> None:
    asked = frozenset({"namespaces:write", "provision_events:write", "subscriptions:read"})
    assert grantable(PrincipalKind.GITLAB_COM, asked) == {"namespaces:write"}
    assert grantable(PrincipalKind.PARTNER, asked) == {"subscriptions:read"}


@pytest.mark.parametrize(
    ("principal", "resource", "expected"),
    [
        (STAFF, Resource.AUDIT, Reach.EVERYTHING),
        (PORTAL, Resource.SUBSCRIPTIONS, Reach.OWN_CUSTOMERS),
        (PORTAL, Resource.PROVISION_EVENTS, Reach.NOTHING),
        (PARTNER, Resource.LICENSES, Reach.OWN_CHANNEL),
        (PARTNER, Resource.AUDIT, Reach.NOTHING),
        (GITLAB, Resource.NAMESPACES, Reach.EVERYTHING),
        (GITLAB, Resource.SUBSCRIPTIONS, Reach.NOTHING),
        (INSTANCE, Resource.LICENSES, Reach.OWN_SUBSCRIPTION),
        (INSTANCE, Resource.NAMESPACES, Reach.NOTHING),
        (Principal.anonymous(), Resource.CUSTOMERS, Reach.NOTHING),
    ],
)
def test_reach_by_kind(principal: Principal, resource: Resource, expected: Reach) -> None:
    assert reach(principal, resource) is expected


@pytest.mark.parametrize(
    "incomplete",
    [
        Principal(PrincipalKind.PARTNER, subject="client"),  # no partner id
        Principal(PrincipalKind.INSTANCE, subject="inst"),  # no subscription
        Principal(PrincipalKind.PORTAL_USER),  # no subject
    ],
)
def test_a_principal_missing_its_tenant_fact_reaches_nothing(incomplete: Principal) -> None:
    assert reach(incomplete, Resource.SUBSCRIPTIONS) is Reach.NOTHING


def test_require_scope() -> None:
    with pytest.raises(Unauthenticated):
        require_scope(Principal.anonymous(), Resource.CUSTOMERS, Access.READ)
    reader = Principal(PrincipalKind.PORTAL_USER, subject="u", scopes=frozenset({"customers:read"}))
    require_scope(reader, Resource.CUSTOMERS, Access.READ)
    with pytest.raises(Forbidden) as refused:
        require_scope(reader, Resource.CUSTOMERS, Access.WRITE)
    assert refused.value.code == "FORBIDDEN"
    assert "customers:write" in refused.value.message
