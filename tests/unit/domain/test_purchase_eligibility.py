"""The purchase-eligibility rule behind ``namespaceEligibility``."""

from __future__ import annotations

import pytest

from domain.errors import ValidationFailed
from domain.model.enums import AddOnKind, NamespaceKind, Plan
from domain.model.purchase_eligibility import (
    ClaimedNamespace,
    Purchase,
    kind_of,
    may_purchase,
    purchase_of,
)

GROUP = ClaimedNamespace(1, None, NamespaceKind.GROUP, "free")


def test_purchases_named_by_plan_id() -> None:
    assert purchase_of("Premium", None) == Purchase(plan=Plan.PREMIUM)
    assert purchase_of("duo_enterprise", True) == Purchase(add_on=AddOnKind.DUO_ENTERPRISE)
    assert purchase_of(None, True) == Purchase()
    for plan_id, anything in ((None, None), (None, False), ("platinum", True)):
        with pytest.raises(ValidationFailed):
            purchase_of(plan_id, anything)


@pytest.mark.parametrize(
    ("gitlab_plan", "purchase", "eligible"),
    [
        ("free", Purchase(), True),
        ("ultimate_trial", Purchase(plan=Plan.ULTIMATE), True),
        ("premium", Purchase(plan=Plan.PREMIUM), False),
        ("premium", Purchase(plan=Plan.ULTIMATE), True),
        ("ultimate_trial_paid_customer", Purchase(plan=Plan.ULTIMATE), True),
        ("ultimate_trial_paid_customer", Purchase(plan=Plan.PREMIUM), False),
        ("gold", Purchase(), False),
        ("free", Purchase(add_on=AddOnKind.STORAGE_GB), True),
        ("ultimate", Purchase(add_on=AddOnKind.DUO_PRO), False),  # nothing here to attach to
    ],
)
def test_what_gitlab_says_the_group_pays_for(
    gitlab_plan: str, purchase: Purchase, eligible: bool
) -> None:
    claimed = ClaimedNamespace(1, None, NamespaceKind.GROUP, gitlab_plan)
    assert may_purchase(claimed, None, purchase) is eligible


def test_only_top_level_groups_buy() -> None:
    assert may_purchase(GROUP, None, Purchase())
    subgroup = ClaimedNamespace(2, 1, NamespaceKind.GROUP, "free")
    user = ClaimedNamespace(3, None, kind_of("user"), "free")
    assert not may_purchase(subgroup, None, Purchase(add_on=AddOnKind.COMPUTE_MINUTES))
    assert not may_purchase(user, None, Purchase())
    with pytest.raises(ValidationFailed):
        kind_of("project")
