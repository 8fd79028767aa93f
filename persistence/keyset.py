"""Keyset pagination and batch loading over one table: the machinery of the read models.

Every query takes the calling principal; tenant filtering is applied in SQL (not after
fetching) through ``_visible``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from domain.policy import Resource
from domain.principal import Principal
from persistence.database import Database
from persistence.mappers import Row
from persistence.visibility import tenant_condition

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """Up to ``first`` items after the cursor, and whether more follow."""

    items: list[T]
    has_next: bool
    total: int | None = None
    has_previous: bool | None = None
    """Whether items come before the page (None: not looked at; the API says "after given")."""
    sort_keys: list[Any] | None = None
    """Each item's value of the sort column (``Order.column``), for its cursor."""


@dataclass(frozen=True)
class Order:
    """A page's order: by ``column`` (None: by id alone), then by id as the tiebreaker, both
    the same direction. Ids are time-ordered (UUIDv7): by id is by creation. Each (column, id)
    has an index (and (parent, column, id) for a nested list), so a page is an index scan."""

    column: str | None = None
    descending: bool = False


@dataclass(frozen=True)
class PageRequest:
    """``size`` items of ``order`` after ``cursor`` (or, ``backward``, before it, from the end
    without one). A cursor is the (sort value, id) of an item; the item may be gone since."""

    size: int
    order: Order = Order()
    backward: bool = False
    cursor: tuple[Any, uuid.UUID] | None = None


@dataclass(frozen=True)
class _Keyset:
    """The SQL pieces of a ``PageRequest`` over alias ``a``: the page's condition, the probe's
    (the items on the other side of the cursor), ORDER BY, and the sort column's select."""

    beyond: str | None
    behind: str | None
    order_by: str
    sort_select: str


def as_request(
    first: int | PageRequest, after: uuid.UUID | None, order: Order | None = None
) -> PageRequest:
    """A ``PageRequest``, or the first ``first`` items after the id ``after`` in ``order``."""
    if isinstance(first, PageRequest):
        return first
    return PageRequest(first, order or Order(), cursor=None if after is None else (None, after))


def _keyset(a: str, request: PageRequest, where: Where) -> _Keyset:
    order = request.order
    descending = order.descending != request.backward  # the scan's direction
    direction = "DESC" if descending else "ASC"
    if order.column is None:
        key, order_by, sort_select = f"{a}.id", f"{a}.id {direction}", ""
    else:
        key = f"({a}.{order.column}, {a}.id)"
        order_by = f"{a}.{order.column} {direction}, {a}.id {direction}"
        sort_select = f", {a}.{order.column} AS _sort"
    beyond = behind = None
    if request.cursor is not None:
        value, item_id = request.cursor
        at = (
            where.arg(item_id)
            if order.column is None
            else f"({where.arg(value)}, {where.arg(item_id)})"
        )
        beyond = f"{key} {'<' if descending else '>'} {at}"
        behind = f"{key} {'>=' if descending else '<='} {at}"
    return _Keyset(beyond, behind, order_by, sort_select)


def _cut(rows: Sequence[Row], request: PageRequest, before: bool) -> tuple[list[Row], bool, bool]:
    """The page's rows in the order asked, whether more follow, whether some come before."""
    rows = [row for row in rows if row["id"] is not None]  # an empty page's probe-only row
    more = len(rows) > request.size
    page = rows[: request.size]
    if request.backward:
        page.reverse()
        return page, before, more
    return page, more, before


@dataclass(frozen=True)
class Source:
    """A table as the read side sees it: which columns, whose resource, what a row becomes."""

    table: str
    alias: str
    columns: str
    resource: Resource
    mapper: Callable[[Row], Any] | None  # None: the rows are the views (``record_class``)
    record_class: type[asyncpg.Record] | None = None

    def map(self, rows: Sequence[Row]) -> list[Any]:
        mapper = self.mapper
        return list(rows) if mapper is None else [mapper(row) for row in rows]


class Where:
    """Collects conditions and their positional arguments."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, condition: str) -> None:
        self.conditions.append(condition)

    def sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "TRUE"


class KeysetQueries:
    """Pages, counts and batches over ``Source`` tables, one statement each."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def database(self) -> Database:
        """The handle these reads use (a dry run pins one of its connections)."""
        return self._db

    def _visible(self, principal: Principal, source: Source, where: Where) -> None:
        """Restrict ``source`` to the principal's tenant, in the statement itself."""
        condition = tenant_condition(principal, source.resource, source.alias, where)
        if condition is not None:
            where.add(condition)

    async def _page(
        self,
        principal: Principal,
        source: Source,
        where: Where,
        first: int,
        after: uuid.UUID | None,
        *,
        newest_first: bool = False,
    ) -> Page[Any]:
        self._visible(principal, source, where)
        # Ids are time-ordered (UUIDv7): by id is by creation, and (filter, id) indexes
        # serve either direction.
        beyond, order = ("<", "DESC") if newest_first else (">", "ASC")
        if after is not None:
            where.add(f"{source.alias}.id {beyond} {where.arg(after)}")
        rows = await self._db.fetch(
            f"SELECT {source.columns} FROM {source.table} {source.alias} WHERE {where.sql()}"
            f" ORDER BY {source.alias}.id {order} LIMIT {int(first) + 1}",
            *where.args,
            record_class=source.record_class,
        )
        return Page(source.map(rows[:first]), has_next=len(rows) > first)

    async def _keyset_page(
        self, principal: Principal, source: Source, where: Where, request: PageRequest
    ) -> Page[Any]:
        """One page in one statement; with a cursor, a probe of the other side of it (an
        uncorrelated EXISTS, evaluated once) says whether items come before the page."""
        sql, args = self.keyset_sql(principal, source, where, request)
        rows = await self._db.fetch(sql, *args, record_class=source.record_class)
        before = bool(rows and rows[0]["_before"])
        page, has_next, has_previous = _cut(rows, request, before)
        return Page(
            source.map(page),
            has_next=has_next,
            has_previous=has_previous,
            sort_keys=[row["_sort"] for row in page] if request.order.column else None,
        )

    def keyset_sql(
        self, principal: Principal, source: Source, where: Where, request: PageRequest
    ) -> tuple[str, list[Any]]:
        """The statement of ``_keyset_page`` (tests EXPLAIN it: an index scan per order)."""
        a = source.alias
        self._visible(principal, source, where)
        keyset = _keyset(a, request, where)
        page_where = where.sql() + (f" AND {keyset.beyond}" if keyset.beyond else "")
        page = (
            f"SELECT {source.columns}{keyset.sort_select} FROM {source.table} {a}"
            f" WHERE {page_where} ORDER BY {keyset.order_by} LIMIT {int(request.size) + 1}"
        )
        if keyset.behind is None:
            return f"SELECT _page.*, FALSE AS _before FROM ({page}) _page", where.args
        probe = f"SELECT 1 FROM {source.table} {a} WHERE {where.sql()} AND {keyset.behind}"
        return (
            f"SELECT _page.*, _probe._before FROM (SELECT EXISTS ({probe}) AS _before) _probe"
            f" LEFT JOIN LATERAL ({page}) _page ON TRUE",
            where.args,
        )

    async def _keyset_pages_by_parent(
        self,
        principal: Principal,
        source: Source,
        parent_column: str,
        parent_ids: Sequence[uuid.UUID],
        request: PageRequest,
    ) -> dict[uuid.UUID, Page[Any]]:
        """One page per parent, all in one statement: a LATERAL keyset page (and probe) per
        parent id, each served by the (parent, column, id) index."""
        a = source.alias
        where = Where()
        parents = where.arg(list(parent_ids))
        where.add(f"{a}.{parent_column} = _parents._parent")
        self._visible(principal, source, where)
        keyset = _keyset(a, request, where)
        page_where = where.sql() + (f" AND {keyset.beyond}" if keyset.beyond else "")
        probe = (
            f"EXISTS (SELECT 1 FROM {source.table} {a} WHERE {where.sql()} AND {keyset.behind})"
            if keyset.behind
            else "FALSE"
        )
        rows = await self._db.fetch(
            f"SELECT _page.*, _parents._parent, _probe._before"
            f" FROM unnest({parents}::uuid[]) AS _parents(_parent)"
            f" CROSS JOIN LATERAL (SELECT {probe} AS _before) _probe"
            f" LEFT JOIN LATERAL (SELECT {source.columns}{keyset.sort_select}"
            f" FROM {source.table} {a} WHERE {page_where} ORDER BY {keyset.order_by}"
            f" LIMIT {int(request.size) + 1}) _page ON TRUE",
            *where.args,
            record_class=source.record_class,
        )
        grouped: dict[uuid.UUID, list[Row]] = {parent_id: [] for parent_id in parent_ids}
        for row in rows:
            grouped[row["_parent"]].append(row)
        pages: dict[uuid.UUID, Page[Any]] = {}
        for parent_id, parent_rows in grouped.items():
            before = bool(parent_rows and parent_rows[0]["_before"])
            page, has_next, has_previous = _cut(parent_rows, request, before)
            pages[parent_id] = Page(
                source.map(page),
                has_next=has_next,
                has_previous=has_previous,
                sort_keys=[row["_sort"] for row in page] if request.order.column else None,
            )
        return pages

    async def _count(self, principal: Principal, source: Source, where: Where) -> int:
        self._visible(principal, source, where)
        value = await self._db.fetchval(
            f"SELECT count(*) FROM {source.table} {source.alias} WHERE {where.sql()}", *where.args
        )
        return int(value)

    async def _by_ids(
        self, principal: Principal, source: Source, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Any]:
        where = Where()
        where.add(f"{source.alias}.id = ANY({where.arg(list(ids))})")
        self._visible(principal, source, where)
        rows = await self._db.fetch(
            f"SELECT {source.columns} FROM {source.table} {source.alias} WHERE {where.sql()}",
            *where.args,
            record_class=source.record_class,
        )
        return dict(zip((row["id"] for row in rows), source.map(rows), strict=True))

    async def _pages_by_parent(
        self,
        principal: Principal,
        source: Source,
        parent_column: str,
        parent_ids: Sequence[uuid.UUID],
        first: int,
        after: uuid.UUID | None,
    ) -> dict[uuid.UUID, Page[Any]]:
        """One page per parent, all in one statement: a LATERAL keyset page per parent id,
        each served by the (parent, id) index."""
        a = source.alias
        where = Where()
        parents = where.arg(list(parent_ids))
        where.add(f"{a}.{parent_column} = _parents._parent")
        self._visible(principal, source, where)
        if after is not None:
            where.add(f"{a}.id > {where.arg(after)}")
        rows = await self._db.fetch(
            f"SELECT _page.*, _parents._parent FROM unnest({parents}::uuid[]) AS _parents(_parent)"
            f" CROSS JOIN LATERAL (SELECT {source.columns} FROM {source.table} {a}"
            f" WHERE {where.sql()} ORDER BY {a}.id LIMIT {int(first) + 1}) _page",
            *where.args,
            record_class=source.record_class,
        )
        grouped: dict[uuid.UUID, list[Row]] = {parent_id: [] for parent_id in parent_ids}
        for row in rows:
            grouped[row["_parent"]].append(row)
        return {
            parent_id: Page(
                source.map(parent_rows[:first]),
                has_next=len(parent_rows) > first,
            )
            for parent_id, parent_rows in grouped.items()
        }

    async def _counts_by_parent(
        self,
        principal: Principal,
        source: Source,
        parent_column: str,
        parent_ids: Sequence[uuid.UUID],
    ) -> dict[uuid.UUID, int]:
        a = source.alias
        where = Where()
        where.add(f"{a}.{parent_column} = ANY({where.arg(list(parent_ids))})")
        self._visible(principal, source, where)
        rows = await self._db.fetch(
            f"SELECT {a}.{parent_column} AS _parent, count(*) AS _total"
            f" FROM {source.table} {a} WHERE {where.sql()} GROUP BY {a}.{parent_column}",
            *where.args,
        )
        counts = {row["_parent"]: int(row["_total"]) for row in rows}
        return {parent_id: counts.get(parent_id, 0) for parent_id in parent_ids}

    async def _rows_in(
        self,
        principal: Principal,
        source: Source,
        column: str,
        ids: Sequence[uuid.UUID],
        *,
        select: str | None = None,
        order_by: str | None = None,
        distinct_on: str | None = None,
    ) -> list[Row]:
        """The visible rows whose ``column`` is one of ``ids``, in one statement."""
        a = source.alias
        where = Where()
        where.add(f"{a}.{column} = ANY({where.arg(list(ids))})")
        self._visible(principal, source, where)
        distinct = f"DISTINCT ON ({distinct_on}) " if distinct_on else ""
        order = f" ORDER BY {order_by}" if order_by else ""
        rows: list[Row] = await self._db.fetch(
            f"SELECT {distinct}{select or source.columns} FROM {source.table} {a}"
            f" WHERE {where.sql()}{order}",
            *where.args,
        )
        return rows
