"""GitLab.com's ``namespaceEligibility`` (protocol C7, query ``FilterEligibleNamespaces``),
in GitLab's shape: which of a user's groups may buy a plan or an add-on."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.errors import api_error
from domain.errors import DomainError, ValidationFailed
from domain.model.purchase_eligibility import (
    ClaimedNamespace,
    eligible_namespaces,
    kind_of,
    purchase_of,
)

MAX_NAMESPACES = 1000


@strawberry.input(description="A GitLab.com namespace as GitLab.com sees it (its own shape).")
class GitlabNamespaceInput:
    id: int = strawberry.field(description="The namespace's GitLab id.")
    parent_id: int | None = strawberry.field(
        default=None, description="Its parent group's GitLab id; null for a top-level one."
    )
    plan: str | None = strawberry.field(
        default=None, description="GitLab's plan name: `free`, `premium`, `ultimate_trial`, …"
    )
    trial: bool | None = strawberry.field(default=None, description="On a trial now.")
    kind: str | None = strawberry.field(
        default=None, description="`group` or `user` (a group when omitted)."
    )
    members_count_with_descendants: int | None = strawberry.field(
        default=None, description="Members, subgroups included (groups only)."
    )


@strawberry.type(description="The subscription a purchase for the namespace attaches to.")
class EligibleNamespaceSubscription:
    name: str = strawberry.field(description="Its name, like `A-S00012345`.")


@strawberry.type(description="A namespace that may make the purchase asked about.")
class EligibleNamespace:
    id: int = strawberry.field(description="The namespace's GitLab id, as sent.")
    zuora_account_id: str | None = strawberry.field(
        description="The billing account of its active subscription; null when it has none."
    )
    subscription: EligibleNamespaceSubscription | None = strawberry.field(
        description="Its active subscription here; null when it has none."
    )


async def namespace_eligibility(
    info: Info,
    customer_uid: Annotated[
        int, strawberry.argument(description="The GitLab user id of the buyer.")
    ],
    namespaces: Annotated[
        list[GitlabNamespaceInput],
        strawberry.argument(description="The buyer's owned top-level groups, as GitLab sees them."),
    ],
    plan_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(
            description="What is bought: `premium`, `ultimate`, or an add-on (`duo_pro`,"
            " `duo_enterprise`, `compute_minutes`, `storage`)."
        ),
    ] = None,
    eligible_for_purchase: Annotated[
        bool | None,
        strawberry.argument(description="True: may the group buy any self-service plan."),
    ] = None,
) -> list[EligibleNamespace]:
    ctx = info.context
    try:
        if len(namespaces) > MAX_NAMESPACES:
            raise ValidationFailed(
                f"at most {MAX_NAMESPACES} namespaces per call", path=("namespaces",)
            )
        purchase = purchase_of(None if plan_id is None else str(plan_id), eligible_for_purchase)
        claimed = [
            ClaimedNamespace(n.id, n.parent_id, kind_of(n.kind), n.plan or "free")
            for n in namespaces
        ]
    except DomainError as refused:
        raise api_error(refused) from None
    linked = await ctx.read.subscriptions_linked_to_groups(
        ctx.principal, [n.gitlab_id for n in claimed]
    )
    return [
        EligibleNamespace(
            id=e.gitlab_id,
            zuora_account_id=str(e.subscription.customer_id) if e.subscription else None,
            subscription=EligibleNamespaceSubscription(name=e.subscription.name)
            if e.subscription
            else None,
        )
        for e in eligible_namespaces(claimed, linked, purchase, ctx.today)
    ]
