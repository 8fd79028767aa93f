"""Principal: who is calling, and what it may do."""

from __future__ import annotations

import pytest

from domain.principal import Principal, PrincipalKind


def test_anonymous_is_not_authenticated_and_has_no_scope() -> None:
    nobody = Principal.anonymous()
    assert nobody.kind is PrincipalKind.ANONYMOUS
    assert not nobody.is_authenticated
    assert not nobody.has_scope("subscription:read")
    assert (nobody.subject, nobody.memberships, nobody.partner_id) == (None, {}, None)


@pytest.mark.parametrize(
    "kind", [kind for kind in PrincipalKind if kind is not PrincipalKind.ANONYMOUS]
)
def test_every_other_kind_is_authenticated(kind: PrincipalKind) -> None:
    assert Principal(kind=kind, subject="someone").is_authenticated


def test_has_scope_is_an_exact_match() -> None:
    staff = Principal(
        kind=PrincipalKind.STAFF,
        subject="staff-1",
        scopes=frozenset({"subscription:read", "subscription:write"}),
    )
    assert staff.has_scope("subscription:read")
    assert staff.has_scope("subscription:write")
    assert not staff.has_scope("namespace:write")
    assert not staff.has_scope("subscription")
    assert not staff.has_scope("SUBSCRIPTION:READ")
