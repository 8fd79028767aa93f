"""The Viewer type: the calling principal as the API sees it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import PrincipalKind, api_enum
from api.graphql.errors import api_error
from api.graphql.sorting import CUSTOMERS, Before, CustomerSort, Last, paging
from api.graphql.types.node import Connection, build_connection
from api.graphql.types.nodes import CustomerNode, customer_node
from api.graphql.types.partner import PartnerType, partner_type
from domain.errors import DomainError, NotFound
from domain.policy import Access, Resource, require_scope
from domain.principal import Principal
from domain.principal import PrincipalKind as DomainPrincipalKind


@strawberry.type(description="Who is calling: the principal's kind, and what it may see.")
class Viewer:
    kind: PrincipalKind = strawberry.field(description="The kind of principal the token is.")
    subject: str | None = strawberry.field(description="The token's subject, if any.")
    scopes: list[str] = strawberry.field(description="The scopes granted to the token.")
    principal: strawberry.Private[Principal]

    @strawberry.field(
        description="The customers the caller may see, oldest first unless sorted (needs"
        " `customers:read`)."
    )
    async def customers(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
        last: Last = None,
        before: Before = None,
        sort: Annotated[
            CustomerSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
    ) -> Connection[CustomerNode]:
        try:
            require_scope(self.principal, Resource.CUSTOMERS, Access.READ)
        except DomainError as refused:
            raise api_error(refused) from None
        read = info.context.read
        pages = paging(CUSTOMERS, first=first, after=after, last=last, before=before, sort=sort)
        page = await read.customers(self.principal, pages.request)
        return build_connection(
            page,
            customer_node,
            after_given=after is not None,
            count=lambda: read.count_customers(self.principal),
            write_cursor=pages.cursor,
        )

    @strawberry.field(
        description="The partner the caller acts for (partner tokens; needs `partners:read`);"
        " null for every other kind of caller."
    )
    async def partner(self, info: Info) -> PartnerType | None:
        principal = self.principal
        if principal.kind is not DomainPrincipalKind.PARTNER or not principal.partner_id:
            return None
        try:
            found = await info.context.commands.partners.get(principal, principal.partner_id)
        except NotFound:
            return None
        except DomainError as refused:
            raise api_error(refused) from None
        return partner_type(found)


def viewer_of(principal: Principal) -> Viewer:
    return Viewer(
        kind=api_enum(PrincipalKind, principal.kind),
        subject=principal.subject,
        scopes=sorted(principal.scopes),
        principal=principal,
    )
