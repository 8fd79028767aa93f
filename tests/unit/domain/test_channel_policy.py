"""The channel policy, cell by cell: every action x actor x channel against the table in
docs/partners.md, and the principal -> actor mapping the use cases and the field share."""

from __future__ import annotations

import itertools

import pytest

from domain.errors import Forbidden, ManagedByPartner
from domain.model.channel_policy import (
    PARTNER_MANAGED,
    Actor,
    SubscriptionAction,
    actor_of,
    decide,
    decisions_for,
)
from domain.model.enums import Channel, Role
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind

A = SubscriptionAction
DIRECT = (Channel.WEB_DIRECT, Channel.SALES)
PARTNER = (Channel.RESELLER, Channel.MARKETPLACE)
MANAGED_BY_CUSTOMER_ON_PARTNER = {A.LINK_NAMESPACE, A.ROTATE_ACTIVATION_CODE}

# The table, written out: (actor, channel kind) -> what is allowed; the code of a refusal.
ALLOWED: dict[tuple[Actor, str], set[SubscriptionAction]] = {
    (Actor.STAFF, "direct"): set(A),
    (Actor.STAFF, "partner"): set(A),
    (Actor.SELLING_PARTNER, "direct"): set(A) - {A.TRANSFER, A.LINK_NAMESPACE},
    (Actor.SELLING_PARTNER, "partner"): set(A) - {A.TRANSFER, A.LINK_NAMESPACE},
    (Actor.CUSTOMER_MANAGER, "direct"): set(A) - {A.TRANSFER},
    (Actor.CUSTOMER_MANAGER, "partner"): MANAGED_BY_CUSTOMER_ON_PARTNER,
    (Actor.CUSTOMER_VIEWER, "direct"): set(),
    (Actor.CUSTOMER_VIEWER, "partner"): set(),
}


def _kind(channel: Channel) -> str:
    return "partner" if channel in PARTNER else "direct"


CELLS = list(itertools.product(SubscriptionAction, Actor, Channel))


@pytest.mark.parametrize(
    ("action", "actor", "channel"), CELLS, ids=lambda v: v.value if hasattr(v, "value") else v
)
def test_every_cell_of_the_policy_table(
    action: SubscriptionAction, actor: Actor, channel: Channel
) -> None:
    decision = decide(action, actor, channel, "Northwind Resellers")
    allowed = action in ALLOWED[(actor, _kind(channel))]
    assert decision.action is action
    assert decision.allowed is allowed
    assert decision.reason
    if allowed:
        assert decision.code is None
        decision.enforce()  # raises nothing
        return
    managed = actor is Actor.CUSTOMER_MANAGER and channel in PARTNER and action in PARTNER_MANAGED
    assert decision.code == ("MANAGED_BY_PARTNER" if managed else "FORBIDDEN")
    with pytest.raises(ManagedByPartner if managed else Forbidden) as refused:
        decision.enforce()
    assert refused.value.code == decision.code
    assert refused.value.message == decision.reason


def test_the_refusal_names_the_partner_and_what_to_ask_them() -> None:
    decision = decide(A.ADD_SEATS, Actor.CUSTOMER_MANAGER, Channel.RESELLER, "Northwind")
    assert decision.reason == (
        "this subscription is managed by Northwind; contact them to change its seats"
    )
    renew = decide(A.RENEW, Actor.CUSTOMER_MANAGER, Channel.MARKETPLACE, None)
    assert "managed by the partner who sold it; contact them to renew it" in renew.reason


STAFF = Principal(PrincipalKind.STAFF, "ops", grantable(PrincipalKind.STAFF))
PARTNER_A = Principal(
    PrincipalKind.PARTNER, "cl_a", grantable(PrincipalKind.PARTNER), partner_id="partner-a"
)
ALICE = Principal(PrincipalKind.PORTAL_USER, "usr_alice", grantable(PrincipalKind.PORTAL_USER))
INSTANCE = Principal(PrincipalKind.INSTANCE, "inst", grantable(PrincipalKind.INSTANCE))


@pytest.mark.parametrize(
    ("principal", "partner_id", "role", "expected"),
    [
        (STAFF, None, None, Actor.STAFF),
        (STAFF, "partner-b", None, Actor.STAFF),
        (PARTNER_A, "partner-a", None, Actor.SELLING_PARTNER),
        (PARTNER_A, "partner-b", None, None),  # another partner's: out of reach
        (PARTNER_A, None, None, None),  # sold directly: out of reach
        (ALICE, "partner-a", Role.OWNER, Actor.CUSTOMER_MANAGER),
        (ALICE, None, Role.ADMIN, Actor.CUSTOMER_MANAGER),
        (ALICE, None, Role.VIEWER, Actor.CUSTOMER_VIEWER),
        (ALICE, None, None, None),  # not a member (sees it through a group it owns at most)
        (INSTANCE, None, None, None),
        (Principal.anonymous(), None, None, None),
    ],
)
def test_who_acts_as_which_actor(
    principal: Principal, partner_id: str | None, role: Role | None, expected: Actor | None
) -> None:
    assert actor_of(principal, partner_id=partner_id, role=role) is expected


def test_the_field_checks_the_token_scope_first_then_reach_then_the_table() -> None:
    no_write = Principal(PrincipalKind.PORTAL_USER, "usr_alice", frozenset({"subscriptions:read"}))
    decisions = decisions_for(no_write, Actor.CUSTOMER_MANAGER, Channel.RESELLER, "N")
    assert {d.code for d in decisions} == {"FORBIDDEN"}
    assert "lacks the `subscriptions:write` scope" in decisions[0].reason
    outside = decisions_for(ALICE, None, Channel.SALES, None)
    assert {d.code for d in outside} == {"NOT_FOUND"}
    alice = {
        d.action: d for d in decisions_for(ALICE, Actor.CUSTOMER_MANAGER, Channel.RESELLER, "N")
    }
    assert list(alice) == list(SubscriptionAction)
    assert {a for a, d in alice.items() if d.allowed} == MANAGED_BY_CUSTOMER_ON_PARTNER
    # A partner's token lacks namespaces:write: linking is refused by scope before the table.
    partner = {
        d.action: d for d in decisions_for(PARTNER_A, Actor.SELLING_PARTNER, Channel.RESELLER, "N")
    }
    assert "namespaces:write" in partner[A.LINK_NAMESPACE].reason
    assert partner[A.ADD_SEATS].allowed
