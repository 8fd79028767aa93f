"""Which of a user's GitLab.com groups may buy a plan or an add-on (GitLab's
``namespaceEligibility``, protocol C7; protocols-next §3.1).

GitLab.com sends the user's owned top-level groups as it sees them; the portal answers with the
ones the purchase applies to. GitLab's view of a group (its plan) is combined with ours (the
active subscription linked to it): whichever says the group pays for more wins, so neither a
stale copy here nor a plan sold elsewhere offers a purchase that cannot be made.

The rules (the portal's own are not public; these are Provision's):
- only top-level groups buy; user namespaces and subgroups never are eligible;
- a plan (``planId`` ``premium``/``ultimate``) is for a group that pays for less than it;
- "any self-service plan" (``eligibleForPurchase``) is for a group not already on Ultimate;
- add-on seats (``duo_pro``, ``duo_enterprise``) attach to the group's active subscription
  here: only a group that has one;
- compute minutes and storage packs are for any top-level group, free ones included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.errors import ValidationFailed
from domain.model.enums import AddOnKind, NamespaceKind, Plan, SubscriptionStatus
from domain.model.subscription import Subscription

_RANK = {Plan.FREE: 0, Plan.PREMIUM: 1, Plan.ULTIMATE: 2}
# GitLab's plan names and what the group pays for; trials pay for nothing. The paid-customer
# Ultimate trial runs on a Premium group; the legacy metal names and the programs are mapped to
# their tiers.
_GITLAB_PLANS = {
    "free": Plan.FREE,
    "bronze": Plan.PREMIUM,
    "silver": Plan.PREMIUM,
    "premium": Plan.PREMIUM,
    "ultimate_trial_paid_customer": Plan.PREMIUM,
    "gold": Plan.ULTIMATE,
    "ultimate": Plan.ULTIMATE,
    "opensource": Plan.ULTIMATE,
}
_PLAN_IDS = {"premium": Plan.PREMIUM, "ultimate": Plan.ULTIMATE}
_ADD_ON_IDS = {
    "duo_pro": AddOnKind.DUO_PRO,
    "duo_enterprise": AddOnKind.DUO_ENTERPRISE,
    "compute_minutes": AddOnKind.COMPUTE_MINUTES,
    "storage": AddOnKind.STORAGE_GB,
}
PLAN_IDS = (*_PLAN_IDS, *_ADD_ON_IDS)
"""The ``planId`` values understood (case-insensitive)."""


@dataclass(frozen=True)
class Purchase:
    """What is being bought: a plan, an add-on, or any self-service plan (neither)."""

    plan: Plan | None = None
    add_on: AddOnKind | None = None


def purchase_of(plan_id: str | None, any_self_service_plan: bool | None) -> Purchase:
    """The purchase GitLab.com asks about; ``planId`` wins when both are given."""
    if plan_id is None:
        if not any_self_service_plan:
            raise ValidationFailed(
                "planId and eligibleForPurchase cannot both be empty", path=("planId",)
            )
        return Purchase()
    key = plan_id.strip().lower()
    if key in _PLAN_IDS:
        return Purchase(plan=_PLAN_IDS[key])
    if key in _ADD_ON_IDS:
        return Purchase(add_on=_ADD_ON_IDS[key])
    raise ValidationFailed(f"planId is one of {', '.join(PLAN_IDS)}", path=("planId",))


@dataclass(frozen=True)
class ClaimedNamespace:
    """A group as GitLab.com describes it in the request."""

    gitlab_id: int
    parent_gitlab_id: int | None
    kind: NamespaceKind
    gitlab_plan: str


def active_subscription(linked: list[Subscription], today: date) -> Subscription | None:
    """The group's active subscription here (the newest, should there be more)."""
    active = [s for s in linked if s.status(today) is SubscriptionStatus.ACTIVE]
    return active[-1] if active else None


def may_purchase(
    namespace: ClaimedNamespace, subscription: Subscription | None, purchase: Purchase
) -> bool:
    """Whether ``namespace`` (with its active ``subscription`` here, if any) may make
    ``purchase``."""
    if namespace.kind is not NamespaceKind.GROUP or namespace.parent_gitlab_id is not None:
        return False
    claimed = _GITLAB_PLANS.get(namespace.gitlab_plan.strip().lower(), Plan.FREE)
    ours = subscription.plan if subscription is not None else Plan.FREE
    paid = max(_RANK[claimed], _RANK[ours])
    if purchase.add_on in (AddOnKind.DUO_PRO, AddOnKind.DUO_ENTERPRISE):
        return subscription is not None
    if purchase.add_on is not None:
        return True
    wanted = purchase.plan or Plan.ULTIMATE
    return paid < _RANK[wanted]


def kind_of(gitlab_kind: str | None) -> NamespaceKind:
    """GitLab's ``kind`` (``group``, ``user``; a group when not sent)."""
    name = (gitlab_kind or "group").strip().upper()
    if name not in NamespaceKind.__members__:
        raise ValidationFailed("kind is `group` or `user`", path=("namespaces", "kind"))
    return NamespaceKind[name]


@dataclass(frozen=True)
class Eligible:
    """A group that may make the purchase, with the subscription it would attach to."""

    gitlab_id: int
    subscription: Subscription | None


def eligible_namespaces(
    claimed: list[ClaimedNamespace],
    linked: dict[int, list[Subscription]],
    purchase: Purchase,
    today: date,
) -> list[Eligible]:
    """The claimed groups that may make ``purchase``, in the order sent, each once."""
    answer: dict[int, Eligible] = {}
    for namespace in claimed:
        subscription = active_subscription(linked.get(namespace.gitlab_id, []), today)
        if namespace.gitlab_id not in answer and may_purchase(namespace, subscription, purchase):
            answer[namespace.gitlab_id] = Eligible(namespace.gitlab_id, subscription)
    return list(answer.values())
