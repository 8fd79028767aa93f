"""The root Mutation type: one module per mutation, each checked by scope here."""

from __future__ import annotations

import strawberry

from api.graphql.mutations.create_subscription import create_subscription
from api.graphql.permissions import needs
from domain.policy import Access, Resource


@strawberry.type(description="Everything Provision lets a caller change.")
class Mutation:
    create_subscription = strawberry.mutation(
        resolver=create_subscription,
        description="Record a sale: staff for anyone, a partner for its own end customers.",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
