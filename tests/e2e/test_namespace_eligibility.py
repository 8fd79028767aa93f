"""GitLab.com's ``FilterEligibleNamespaces`` (protocol C7, protocols-next §3.1), sent as GitLab
sends it: admin headers, GitLab's query text and variables; only eligible ids come back, as
integers, with the account and the active subscription a purchase attaches to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from domain.model.enums import Deployment, Plan
from persistence.database import Database

import factories as f
from graphql_client import codes

# GitLab's query (ee/lib/gitlab/subscription_portal/clients/graphql.rb), as sent.
FILTER_ELIGIBLE_NAMESPACES = """query FilterEligibleNamespaces($customerUid: Int!,
  $namespaces: [GitlabNamespaceInput!]!, $planId: ID, $eligibleForPurchase: Boolean) {
  namespaceEligibility(customerUid: $customerUid, namespaces: $namespaces, planId: $planId,
    eligibleForPurchase: $eligibleForPurchase) {
    id
    accountId: zuoraAccountId
    subscription { name }
  }
}"""


def _group(gitlab_id: int, plan: str = "free", **more: Any) -> dict[str, Any]:
    return {"id": gitlab_id, "parentId": None, "plan": plan, "trial": False, "kind": "group",
            "membersCountWithDescendants": 4, **more}  # fmt: skip


async def _ask(http: httpx.AsyncClient, namespaces: list[dict[str, Any]], **variables: Any) -> Any:
    answer = await http.post(
        "/graphql",
        json={
            "query": FILTER_ELIGIBLE_NAMESPACES,
            "variables": {"customerUid": 7, "namespaces": namespaces, **variables},
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_gitlab_com_filters_the_groups_a_user_may_buy_for(
    gitlab_com: httpx.AsyncClient, clean_db: Database
) -> None:
    premium_group, ultimate_group = f.namespace(11), f.namespace(12)
    acme = f.customer()
    premium = f.subscription(
        acme, deployment=Deployment.GITLAB_COM, namespace_id=premium_group.id, plan=Plan.PREMIUM
    )
    ultimate = f.subscription(
        acme, deployment=Deployment.GITLAB_COM, namespace_id=ultimate_group.id, plan=Plan.ULTIMATE
    )
    await f.store(clean_db, premium_group, ultimate_group, acme, premium, ultimate)
    sent = [
        _group(11, "premium"),
        _group(12, "ultimate"),
        _group(13, "ultimate_trial", trial=True),  # never seen here: a free group on a trial
        _group(14, "free", parentId=13),  # a subgroup
        _group(15, "free", kind="user", membersCountWithDescendants=None),
        _group(16, "ultimate"),  # paid for elsewhere, unknown here
    ]

    any_plan = await _ask(gitlab_com, sent, planId=None, eligibleForPurchase=True)
    assert "errors" not in any_plan, any_plan
    assert any_plan["data"]["namespaceEligibility"] == [
        {"id": 11, "accountId": str(acme.id), "subscription": {"name": premium.name}},
        {"id": 13, "accountId": None, "subscription": None},
    ]
    buy_premium = await _ask(gitlab_com, sent, planId="premium")
    assert [e["id"] for e in buy_premium["data"]["namespaceEligibility"]] == [13]
    duo = await _ask(gitlab_com, sent, planId="duo_pro", eligibleForPurchase=False)
    assert duo["data"]["namespaceEligibility"] == [
        {"id": 11, "accountId": str(acme.id), "subscription": {"name": premium.name}},
        {"id": 12, "accountId": str(acme.id), "subscription": {"name": ultimate.name}},
    ]
    minutes = await _ask(gitlab_com, sent, planId="compute_minutes")
    assert [e["id"] for e in minutes["data"]["namespaceEligibility"]] == [11, 12, 13, 16]


async def test_an_expired_subscription_is_no_subscription(
    gitlab_com: httpx.AsyncClient, clean_db: Database
) -> None:
    group, acme = f.namespace(21), f.customer()
    old = f.subscription(
        acme,
        deployment=Deployment.GITLAB_COM,
        namespace_id=group.id,
        start=f.TODAY - timedelta(days=800),
    )
    await f.store(clean_db, group, acme, old)
    answer = await _ask(gitlab_com, [_group(21)], planId="premium")
    assert answer["data"]["namespaceEligibility"] == [
        {"id": 21, "accountId": None, "subscription": None}
    ]


async def test_bad_requests_get_top_level_errors(
    gitlab_com: httpx.AsyncClient, clean_db: Database
) -> None:
    # GitLab shows "Failed to fetch namespaces" for any top-level error.
    for variables in ({}, {"planId": "platinum"}):
        answer = await _ask(gitlab_com, [_group(1)], **variables)
        assert answer["data"] is None
        assert codes(answer) == ["VALIDATION_FAILED"], answer
    bad_kind = await _ask(gitlab_com, [_group(1, kind="project")], planId="premium")
    assert codes(bad_kind) == ["VALIDATION_FAILED"]
    too_many = await _ask(gitlab_com, [_group(i) for i in range(1, 1002)], planId="premium")
    assert codes(too_many) == ["VALIDATION_FAILED"]
