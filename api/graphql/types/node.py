"""The Relay Node interface, page info and the keyset connection shared by every list."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import strawberry

from api.ids import cursor, global_id
from persistence.read_models import Page

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

NodeT = TypeVar("NodeT")


@strawberry.interface(
    description="An object with a global ID; any of them can be fetched by `node(id:)`."
)
class Node:
    # Implementations hold their domain object in ``entity`` and name their type in
    # ``_global_type``; the ID is encoded only when asked for.
    @strawberry.field(description="The object's global ID (opaque).")
    def id(self) -> strawberry.ID:
        return global_id(self._global_type, self.entity.id)  # type: ignore[attr-defined, return-value]


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page (on the main lists exactly; on the"
        " others, true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="The cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last edge: pass it as `after` for the next page."
    )


CursorOf = Callable[[Any, uuid.UUID], str]
"""Writes the cursor of an item from its sort key and id (``api.graphql.sorting.Paging``)."""


def _plain_cursor(sort_key: Any, key: uuid.UUID) -> str:
    return cursor(key)


@strawberry.type(description="One item of a page and the cursor that points at it.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The item.")
    key: strawberry.Private[uuid.UUID]
    sort_key: strawberry.Private[Any] = None
    write: strawberry.Private[CursorOf] = _plain_cursor

    @strawberry.field(
        description="Pass as `after` to fetch the items after this one (as `before`, those"
        " before it)."
    )
    def cursor(self) -> str:
        # Encoded only when asked for: most pages are read for their nodes.
        return self.write(self.sort_key, self.key)


@strawberry.type(description="A page of items, newest last, with cursors to walk the whole list.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page.")
    has_next: strawberry.Private[bool]
    after_given: strawberry.Private[bool]
    has_previous: strawberry.Private[bool | None]
    count: strawberry.Private[int | Callable[[], Awaitable[int]] | None]

    @strawberry.field(description="Cursors and whether more pages exist.")
    def page_info(self) -> PageInfo:
        edges = self.edges
        return PageInfo(
            has_next_page=self.has_next,
            has_previous_page=self.after_given if self.has_previous is None else self.has_previous,
            start_cursor=edges[0].cursor() if edges else None,
            end_cursor=edges[-1].cursor() if edges else None,
        )

    @strawberry.field(description="How many items the whole list has (counted only when asked).")
    async def total_count(self) -> int | None:
        count = self.count
        if callable(count):
            return await count()
        return count


class Identified(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


E = TypeVar("E", bound=Identified)


def build_connection(
    page: Page[E],
    to_node: Callable[[E], Any],
    *,
    after_given: bool,
    count: int | Callable[[], Awaitable[int]] | None = None,
    write_cursor: CursorOf | None = None,
) -> Connection[Any]:
    write = write_cursor or _plain_cursor
    keys = page.sort_keys or [None] * len(page.items)
    return Connection(
        edges=[
            Edge(node=to_node(item), key=item.id, sort_key=sort_key, write=write)
            for item, sort_key in zip(page.items, keys, strict=True)
        ],
        has_next=page.has_next,
        after_given=after_given,
        has_previous=page.has_previous,
        count=page.total if page.total is not None else count,
    )
