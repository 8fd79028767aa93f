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
