"""linkNamespace and unlinkNamespace: a GitLab.com subscription's plan goes to a group."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import (
    NamespaceNode,
    SubscriptionNode,
    namespace_node,
    subscription_node,
)
from api.ids import parse_typed_id
from domain.use_cases.link_namespace import Linked, LinkNamespace, UnlinkNamespace


@strawberry.input(description="Which subscription gives its plan to which top-level group.")
class LinkNamespaceInput:
    subscription_id: strawberry.ID = strawberry.field(description="A GitLab.com subscription.")
    namespace_id: strawberry.ID = strawberry.field(description="A top-level group you own.")


@strawberry.input(description="Which subscription lets go of its group.")
class UnlinkNamespaceInput:
    subscription_id: strawberry.ID = strawberry.field(description="The linked subscription.")


@strawberry.type(description="The subscription and the group after the change.")
class LinkNamespacePayload:
    subscription: SubscriptionNode | None = strawberry.field(description="The subscription.")
    namespace: NamespaceNode | None = strawberry.field(description="The group.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The subscription and the group after the unlinking.")
class UnlinkNamespacePayload(LinkNamespacePayload):
    """unlink_namespace's own payload (the fields of LinkNamespacePayload)."""


def _payload(
    info: Info, linked: Linked | None, errors: list[MutationError]
) -> LinkNamespacePayload:
    if linked is None:
        return LinkNamespacePayload(subscription=None, namespace=None, errors=errors)
    ctx = info.context
    return LinkNamespacePayload(
        subscription=subscription_node(linked.subscription, ctx),
        namespace=namespace_node(linked.namespace, ctx.today) if linked.namespace else None,
        errors=[],
    )


async def link_namespace(
    info: Info,
    input: Annotated[LinkNamespaceInput, strawberry.argument(description="What to link.")],
) -> LinkNamespacePayload:
    ctx = info.context
    linked, errors = await outcome(
        lambda: ctx.commands.namespaces.link(
            ctx.principal,
            LinkNamespace(
                parse_typed_id(input.subscription_id, "Subscription", path=("subscriptionId",)),
                parse_typed_id(input.namespace_id, "Namespace", path=("namespaceId",)),
            ),
        )
    )
    return _payload(info, linked, errors)


async def unlink_namespace(
    info: Info,
    input: Annotated[UnlinkNamespaceInput, strawberry.argument(description="What to unlink.")],
) -> UnlinkNamespacePayload:
    ctx = info.context
    linked, errors = await outcome(
        lambda: ctx.commands.namespaces.unlink(
            ctx.principal,
            UnlinkNamespace(
                parse_typed_id(input.subscription_id, "Subscription", path=("subscriptionId",))
            ),
        )
    )
    return as_payload(UnlinkNamespacePayload, _payload(info, linked, errors))
