"""The Customer type."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.errors import page_size
from api.graphql.resolve import load_then
from api.graphql.types.node import Connection, Node, build_connection
from api.ids import parse_cursor
from domain.model import customer as model

if TYPE_CHECKING:
    from api.graphql.types.subscription import SubscriptionNode


@strawberry.type(name="Customer", description="A billing account: a company and its contact.")
class CustomerNode(Node):
    _global_type = "Customer"
    company: str = strawberry.field(description="The company's name.")
    contact_name: str = strawberry.field(description="Who to talk to.")
    contact_email: str = strawberry.field(description="Where emails go.")
    created_at: datetime = strawberry.field(description="When the customer was recorded.")
    entity: strawberry.Private[model.Customer]

    @strawberry.field(description="The customer's subscriptions, oldest first.")
    def subscriptions(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
    ) -> Connection[Annotated[SubscriptionNode, strawberry.lazy("api.graphql.types.subscription")]]:
        from api.graphql.types.subscription import subscription_node

        loaders, parent_id = info.context.loaders, self.entity.id
        key = (parent_id, page_size(first), parse_cursor(after))
        return load_then(  # type: ignore[return-value]
            loaders.subscriptions_by_customer,
            key,
            lambda page: build_connection(
                page,
                lambda s: subscription_node(s, info.context),
                after_given=after is not None,
                count=lambda: loaders.subscription_counts_by_customer.load(parent_id),  # type: ignore[arg-type, return-value]
            ),
        )


def customer_node(entity: model.Customer) -> CustomerNode:
    return CustomerNode(
        company=entity.company,
        contact_name=entity.contact_name,
        contact_email=entity.contact_email,
        created_at=entity.created_at,
        entity=entity,
    )
