"""The channel policy: which actions each kind of actor may take on a subscription, per the
channel it was sold through (docs/partners.md). One table, read by the use cases that act
and by the field that tells a viewer what it may do, so the two cannot disagree.

GitLab hid add-seats and renew from its resellers' customers (epic &8941): the customer of a
partner-sold subscription sees it, links groups and rotates its activation code, but asks the
partner for anything that changes what was bought or what it costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError, Forbidden, ManagedByPartner, NotFound
from domain.model.enums import Channel, Role
from domain.policy import Access, Resource, scope
from domain.principal import Principal, PrincipalKind


class SubscriptionAction(StrEnum):
    """What may be done to an existing subscription."""

    ADD_SEATS = "ADD_SEATS"
    """Change the seats of the current or a future segment (``changeSubscription(seats)``)."""
    RENEW = "RENEW"
    CHANGE_PLAN = "CHANGE_PLAN"
    CANCEL = "CANCEL"
    TOGGLE_AUTO_RENEW = "TOGGLE_AUTO_RENEW"
    LINK_NAMESPACE = "LINK_NAMESPACE"
    ROTATE_ACTIVATION_CODE = "ROTATE_ACTIVATION_CODE"
    TRANSFER = "TRANSFER"
    """Move it between channels (direct and a partner): staff only."""


class Actor(StrEnum):
    """Who acts, as the policy sees it (the principal's kind and its tie to the subscription)."""

    STAFF = "STAFF"
    SELLING_PARTNER = "SELLING_PARTNER"
    """The partner named on the subscription (other partners do not see it at all)."""
    CUSTOMER_MANAGER = "CUSTOMER_MANAGER"
    """An owner or admin of the subscription's customer."""
    CUSTOMER_VIEWER = "CUSTOMER_VIEWER"
    """A viewer of the subscription's customer: reads only."""


PARTNER_CHANNELS = frozenset({Channel.RESELLER, Channel.MARKETPLACE})
PARTNER_MANAGED = frozenset(
    {
        SubscriptionAction.ADD_SEATS,
        SubscriptionAction.RENEW,
        SubscriptionAction.CHANGE_PLAN,
        SubscriptionAction.CANCEL,
        SubscriptionAction.TOGGLE_AUTO_RENEW,
    }
)
"""What the partner, not the customer, does on a subscription the partner sold."""

_TO_DO = {
    SubscriptionAction.ADD_SEATS: "change its seats",
    SubscriptionAction.RENEW: "renew it",
    SubscriptionAction.CHANGE_PLAN: "change its plan",
    SubscriptionAction.CANCEL: "cancel it",
    SubscriptionAction.TOGGLE_AUTO_RENEW: "turn its auto-renewal on or off",
}
MANAGED_BY_PARTNER = ManagedByPartner.code
FORBIDDEN = Forbidden.code


@dataclass(frozen=True)
class Decision:
    """Whether an action is allowed, and why (``code`` is the error a refusal raises)."""

    action: SubscriptionAction
    allowed: bool
    reason: str
    code: str | None = None

    def enforce(self) -> None:
        """Raise the refusal's error (``ManagedByPartner`` or ``Forbidden``); nothing if allowed."""
        if self.allowed:
            return
        error: DomainError = (
            ManagedByPartner(self.reason, path=("subscriptionId",))
            if self.code == MANAGED_BY_PARTNER
            else Forbidden(self.reason)
        )
        raise error


def _refused(action: SubscriptionAction, reason: str, code: str = FORBIDDEN) -> Decision:
    return Decision(action, False, reason, code)


def decide(
    action: SubscriptionAction, actor: Actor, channel: Channel, partner_name: str | None
) -> Decision:
    """What ``actor`` may do on a subscription sold through ``channel`` (by ``partner_name``,
    for the partner channels)."""
    if actor is Actor.STAFF:
        return Decision(action, True, "staff may do anything to any subscription")
    if action is SubscriptionAction.TRANSFER:
        return _refused(action, "only staff move a subscription between channels")
    if actor is Actor.CUSTOMER_VIEWER:
        return _refused(action, "viewers read; owners and admins change subscriptions")
    if actor is Actor.SELLING_PARTNER:
        if action is SubscriptionAction.LINK_NAMESPACE:
            return _refused(action, "groups are linked by their owners in the portal, or by staff")
        return Decision(action, True, "you sold this subscription")
    if channel in PARTNER_CHANNELS and action in PARTNER_MANAGED:
        partner = partner_name or "the partner who sold it"
        return _refused(
            action,
            f"this subscription is managed by {partner}; contact them to {_TO_DO[action]}",
            MANAGED_BY_PARTNER,
        )
    return Decision(action, True, "you manage this subscription for its customer")


def actor_of(principal: Principal, *, partner_id: str | None, role: Role | None) -> Actor | None:
    """The policy's actor for ``principal`` on a subscription sold by ``partner_id`` to a
    customer where the principal has ``role`` (portal users). None: it may not act on the
    subscription at all, which then does not exist for it (``NotFound``) - another partner's,
    another customer's, or one a portal user sees only through a group it owns."""
    kind = principal.kind
    if kind is PrincipalKind.STAFF:
        return Actor.STAFF
    if kind is PrincipalKind.PARTNER:
        sold_it = principal.partner_id is not None and partner_id == principal.partner_id
        return Actor.SELLING_PARTNER if sold_it else None
    if kind is PrincipalKind.PORTAL_USER:
        if role is None:
            return None
        return Actor.CUSTOMER_VIEWER if role is Role.VIEWER else Actor.CUSTOMER_MANAGER
    # Instances and GitLab.com read subscriptions at most; anyone else sees none.
    return None


ACTION_SCOPES: dict[SubscriptionAction, str] = {
    action: scope(Resource.SUBSCRIPTIONS, Access.WRITE) for action in SubscriptionAction
} | {SubscriptionAction.LINK_NAMESPACE: scope(Resource.NAMESPACES, Access.WRITE)}
"""The scope each action's mutation checks before anything else."""


NOT_FOUND = NotFound.code


def decisions_for(
    principal: Principal,
    actor: Actor | None,
    channel: Channel,
    partner_name: str | None,
) -> list[Decision]:
    """Every action as ``principal`` (``actor`` on the subscription, None when it may not act
    on it) would meet it: first its token's scope, then its reach, then the channel policy -
    the order the mutations check them in."""
    decisions = []
    for action in SubscriptionAction:
        needed = ACTION_SCOPES[action]
        if not principal.has_scope(needed):
            decisions.append(_refused(action, f"the access token lacks the `{needed}` scope"))
        elif actor is None:
            decisions.append(
                _refused(
                    action,
                    "only the customer's members, its partner and staff act on it",
                    NOT_FOUND,
                )
            )
        else:
            decisions.append(decide(action, actor, channel, partner_name))
    return decisions
