"""Root fields for partners: the list (staff every partner; a partner itself) and one by id."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.errors import api_error, page_size
from api.graphql.types.partner import (
    PartnerConnection,
    PartnerType,
    parse_partner_cursor,
    partner_connection,
    partner_type,
)
from domain.errors import DomainError, NotFound


async def partners(
    info: Info,
    first: Annotated[int | None, strawberry.argument(description="Page size, 0 to 100.")] = None,
    after: Annotated[
        str | None, strawberry.argument(description="Cursor to continue after.")
    ] = None,
) -> PartnerConnection:
    ctx = info.context
    try:
        cursor = parse_partner_cursor(after)
    except DomainError as error:
        raise api_error(error) from None
    found, has_next = await ctx.read.partners(ctx.principal, page_size(first), cursor)
    return partner_connection(
        found,
        has_next,
        after_given=after is not None,
        total=await ctx.read.count_partners(ctx.principal),
    )


async def partner(
    info: Info,
    id: Annotated[str, strawberry.argument(description="The partner id.")],
) -> PartnerType | None:
    ctx = info.context
    try:
        return partner_type(await ctx.commands.partners.get(ctx.principal, id))
    except NotFound:
        return None
    except DomainError as error:
        raise api_error(error) from None
