"""Read models: keyset pages and batch loads for the API, one statement per page or batch.

Every method takes the calling principal. Tenant filtering is applied in SQL (not after
fetching) through ``_visible``; until the OAuth issue lands every principal sees everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

import asyncpg

from domain.model.customer import Customer
from domain.model.enums import Deployment, Plan, SubscriptionStatus
from domain.model.instance import Instance
from domain.model.namespace import Namespace
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.model.usage import UsageReport
from domain.principal import Principal
from persistence.database import Database
from persistence.mappers import (
    CUSTOMER_COLUMNS,
    INSTANCE_COLUMNS,
    LICENSE_VIEW_COLUMNS,
    NAMESPACE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    TRIAL_COLUMNS,
    USAGE_REPORT_COLUMNS,
    Row,
    customer_from_row,
    instance_from_row,
    namespace_from_row,
    subscription_from_row,
    trial_from_row,
    usage_report_from_row,
)
from persistence.views import LicenseView

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """Up to ``first`` items after the cursor, and whether more follow."""

    items: list[T]
    has_next: bool
    total: int | None = None


@dataclass(frozen=True)
class SubscriptionFilter:
    status: SubscriptionStatus | None = None
    deployment: Deployment | None = None
    plan: Plan | None = None
    customer_id: uuid.UUID | None = None
    namespace_id: uuid.UUID | None = None


@dataclass(frozen=True)
class _Source:
    table: str
    alias: str
    columns: str
    mapper: Callable[[Row], Any] | None  # None: the rows are the views (``record_class``)
    record_class: type[asyncpg.Record] | None = None

    def map(self, rows: Sequence[Row]) -> list[Any]:
        mapper = self.mapper
        return list(rows) if mapper is None else [mapper(row) for row in rows]


_SUBSCRIPTIONS = _Source("subscription", "s", SUBSCRIPTION_COLUMNS, subscription_from_row)
_CUSTOMERS = _Source("customer", "c", CUSTOMER_COLUMNS, customer_from_row)
_NAMESPACES = _Source("namespace", "n", NAMESPACE_COLUMNS, namespace_from_row)
_LICENSES = _Source("license", "l", LICENSE_VIEW_COLUMNS, None, LicenseView)
_INSTANCES = _Source("instance", "i", INSTANCE_COLUMNS, instance_from_row)
_TRIALS = _Source("trial", "t", TRIAL_COLUMNS, trial_from_row)
_USAGE_REPORTS = _Source("usage_report", "u", USAGE_REPORT_COLUMNS, usage_report_from_row)

_STATUS_SQL = {
    SubscriptionStatus.CANCELLED: "s.cancelled_at IS NOT NULL",
    SubscriptionStatus.PENDING: "s.cancelled_at IS NULL AND s.start_date > {today}",
    SubscriptionStatus.EXPIRED: "s.cancelled_at IS NULL AND s.end_date <= {today}",
    SubscriptionStatus.ACTIVE: (
        "s.cancelled_at IS NULL AND s.start_date <= {today} AND s.end_date > {today}"
    ),
}


class _Where:
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


class ReadModels:
    """Queries behind the GraphQL read API."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _visible(self, principal: Principal, source: _Source, where: _Where) -> None:
        """Restrict ``source`` to the principal's tenant (every principal sees all, for now)."""

    async def _page(
        self,
        principal: Principal,
        source: _Source,
        where: _Where,
        first: int,
        after: uuid.UUID | None,
    ) -> Page[Any]:
        self._visible(principal, source, where)
        if after is not None:
            where.add(f"{source.alias}.id > {where.arg(after)}")
        rows = await self._db.fetch(
            f"SELECT {source.columns} FROM {source.table} {source.alias} WHERE {where.sql()}"
            f" ORDER BY {source.alias}.id LIMIT {int(first) + 1}",
            *where.args,
            record_class=source.record_class,
        )
        return Page(source.map(rows[:first]), has_next=len(rows) > first)

    async def _count(self, principal: Principal, source: _Source, where: _Where) -> int:
        self._visible(principal, source, where)
        value = await self._db.fetchval(
            f"SELECT count(*) FROM {source.table} {source.alias} WHERE {where.sql()}", *where.args
        )
        return int(value)

    async def _by_ids(
        self, principal: Principal, source: _Source, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Any]:
        where = _Where()
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
        source: _Source,
        parent_column: str,
        parent_ids: Sequence[uuid.UUID],
        first: int,
        after: uuid.UUID | None,
    ) -> dict[uuid.UUID, Page[Any]]:
        """One page per parent, all in one statement: a LATERAL keyset page per parent id,
        each served by the (parent, id) index."""
        a = source.alias
        where = _Where()
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
        source: _Source,
        parent_column: str,
        parent_ids: Sequence[uuid.UUID],
    ) -> dict[uuid.UUID, int]:
        a = source.alias
        where = _Where()
        where.add(f"{a}.{parent_column} = ANY({where.arg(list(parent_ids))})")
        self._visible(principal, source, where)
        rows = await self._db.fetch(
            f"SELECT {a}.{parent_column} AS _parent, count(*) AS _total"
            f" FROM {source.table} {a} WHERE {where.sql()} GROUP BY {a}.{parent_column}",
            *where.args,
        )
        counts = {row["_parent"]: int(row["_total"]) for row in rows}
        return {parent_id: counts.get(parent_id, 0) for parent_id in parent_ids}

    # --- customers -------------------------------------------------------------------------

    async def customers(
        self, principal: Principal, first: int, after: uuid.UUID | None
    ) -> Page[Customer]:
        return await self._page(principal, _CUSTOMERS, _Where(), first, after)

    async def count_customers(self, principal: Principal) -> int:
        return await self._count(principal, _CUSTOMERS, _Where())

    async def customers_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Customer]:
        return await self._by_ids(principal, _CUSTOMERS, ids)

    # --- subscriptions ---------------------------------------------------------------------

    def _subscription_where(self, flt: SubscriptionFilter, today: date) -> _Where:
        where = _Where()
        if flt.status is not None:
            template = _STATUS_SQL[flt.status]
            if "{today}" in template:
                template = template.format(today=where.arg(today))
            where.add(template)
        if flt.deployment is not None:
            where.add(f"s.deployment = {where.arg(flt.deployment.value)}")
        if flt.plan is not None:
            where.add(f"s.plan = {where.arg(flt.plan.value)}")
        if flt.customer_id is not None:
            where.add(f"s.customer = {where.arg(flt.customer_id)}")
        if flt.namespace_id is not None:
            where.add(f"s.namespace = {where.arg(flt.namespace_id)}")
        return where

    async def subscriptions(
        self,
        principal: Principal,
        flt: SubscriptionFilter,
        today: date,
        first: int,
        after: uuid.UUID | None,
    ) -> Page[Subscription]:
        where = self._subscription_where(flt, today)
        return await self._page(principal, _SUBSCRIPTIONS, where, first, after)

    async def count_subscriptions(
        self, principal: Principal, flt: SubscriptionFilter, today: date
    ) -> int:
        return await self._count(principal, _SUBSCRIPTIONS, self._subscription_where(flt, today))

    async def subscriptions_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Subscription]:
        return await self._by_ids(principal, _SUBSCRIPTIONS, ids)

    async def subscription_by_name(self, principal: Principal, name: str) -> Subscription | None:
        where = _Where()
        where.add(f"s.name = {where.arg(name)}")
        page = await self._page(principal, _SUBSCRIPTIONS, where, 1, None)
        return page.items[0] if page.items else None

    async def subscriptions_by_customer(
        self,
        principal: Principal,
        customer_ids: Sequence[uuid.UUID],
        first: int,
        after: uuid.UUID | None,
    ) -> dict[uuid.UUID, Page[Subscription]]:
        return await self._pages_by_parent(
            principal, _SUBSCRIPTIONS, "customer", customer_ids, first, after
        )

    async def count_subscriptions_by_customer(
        self, principal: Principal, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        return await self._counts_by_parent(principal, _SUBSCRIPTIONS, "customer", customer_ids)

    async def subscriptions_by_namespace(
        self, principal: Principal, namespace_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Subscription]:
        """The subscription linked to each namespace (the newest, should history allow more)."""
        where = _Where()
        where.add(f"s.namespace = ANY({where.arg(list(namespace_ids))})")
        self._visible(principal, _SUBSCRIPTIONS, where)
        rows = await self._db.fetch(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE {where.sql()} ORDER BY s.id",
            *where.args,
        )
        return {row["namespace"]: subscription_from_row(row) for row in rows}

    # --- namespaces ------------------------------------------------------------------------

    async def namespaces(
        self, principal: Principal, first: int, after: uuid.UUID | None
    ) -> Page[Namespace]:
        return await self._page(principal, _NAMESPACES, _Where(), first, after)

    async def count_namespaces(self, principal: Principal) -> int:
        return await self._count(principal, _NAMESPACES, _Where())

    async def namespaces_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Namespace]:
        return await self._by_ids(principal, _NAMESPACES, ids)

    async def namespace_by_gitlab_id(
        self, principal: Principal, gitlab_id: int
    ) -> Namespace | None:
        where = _Where()
        where.add(f"n.gitlab_id = {where.arg(gitlab_id)}")
        page = await self._page(principal, _NAMESPACES, where, 1, None)
        return page.items[0] if page.items else None

    # --- licenses, instances, trials, usage --------------------------------------------------

    def _child_where(self, alias: str, column: str, parent_id: uuid.UUID | None) -> _Where:
        where = _Where()
        if parent_id is not None:
            where.add(f"{alias}.{column} = {where.arg(parent_id)}")
        return where

    async def licenses(
        self,
        principal: Principal,
        subscription_id: uuid.UUID | None,
        first: int,
        after: uuid.UUID | None,
    ) -> Page[LicenseView]:
        where = self._child_where("l", "subscription", subscription_id)
        return await self._page(principal, _LICENSES, where, first, after)

    async def count_licenses(self, principal: Principal, subscription_id: uuid.UUID | None) -> int:
        return await self._count(
            principal, _LICENSES, self._child_where("l", "subscription", subscription_id)
        )

    async def licenses_by_subscription(
        self,
        principal: Principal,
        subscription_ids: Sequence[uuid.UUID],
        first: int,
        after: uuid.UUID | None,
    ) -> dict[uuid.UUID, Page[LicenseView]]:
        return await self._pages_by_parent(
            principal, _LICENSES, "subscription", subscription_ids, first, after
        )

    async def count_licenses_by_subscription(
        self, principal: Principal, subscription_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        return await self._counts_by_parent(principal, _LICENSES, "subscription", subscription_ids)

    async def licenses_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, LicenseView]:
        return await self._by_ids(principal, _LICENSES, ids)

    async def license_keys_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        where = _Where()
        where.add(f"l.id = ANY({where.arg(list(ids))})")
        self._visible(principal, _LICENSES, where)
        rows = await self._db.fetch(
            f"SELECT l.id, l.license_key FROM license l WHERE {where.sql()}", *where.args
        )
        return {row["id"]: row["license_key"] for row in rows}

    async def instances(
        self,
        principal: Principal,
        subscription_id: uuid.UUID | None,
        first: int,
        after: uuid.UUID | None,
    ) -> Page[Instance]:
        where = self._child_where("i", "subscription", subscription_id)
        return await self._page(principal, _INSTANCES, where, first, after)

    async def count_instances(self, principal: Principal, subscription_id: uuid.UUID | None) -> int:
        return await self._count(
            principal, _INSTANCES, self._child_where("i", "subscription", subscription_id)
        )

    async def instances_by_subscription(
        self,
        principal: Principal,
        subscription_ids: Sequence[uuid.UUID],
        first: int,
        after: uuid.UUID | None,
    ) -> dict[uuid.UUID, Page[Instance]]:
        return await self._pages_by_parent(
            principal, _INSTANCES, "subscription", subscription_ids, first, after
        )

    async def count_instances_by_subscription(
        self, principal: Principal, subscription_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        return await self._counts_by_parent(principal, _INSTANCES, "subscription", subscription_ids)

    async def instances_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Instance]:
        return await self._by_ids(principal, _INSTANCES, ids)

    async def trials(
        self,
        principal: Principal,
        namespace_id: uuid.UUID | None,
        first: int,
        after: uuid.UUID | None,
    ) -> Page[Trial]:
        where = self._child_where("t", "namespace", namespace_id)
        return await self._page(principal, _TRIALS, where, first, after)

    async def count_trials(self, principal: Principal, namespace_id: uuid.UUID | None) -> int:
        return await self._count(
            principal, _TRIALS, self._child_where("t", "namespace", namespace_id)
        )

    async def trials_by_namespace(
        self, principal: Principal, namespace_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[Trial]]:
        """Every trial of each namespace (a namespace has at most one per type, so few)."""
        where = _Where()
        where.add(f"t.namespace = ANY({where.arg(list(namespace_ids))})")
        self._visible(principal, _TRIALS, where)
        rows = await self._db.fetch(
            f"SELECT {TRIAL_COLUMNS} FROM trial t WHERE {where.sql()} ORDER BY t.id", *where.args
        )
        grouped: dict[uuid.UUID, list[Trial]] = {namespace_id: [] for namespace_id in namespace_ids}
        for row in rows:
            grouped[row["namespace"]].append(trial_from_row(row))
        return grouped

    async def trials_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Trial]:
        return await self._by_ids(principal, _TRIALS, ids)

    async def usage_reports(
        self,
        principal: Principal,
        subscription_id: uuid.UUID | None,
        first: int,
        after: uuid.UUID | None,
    ) -> Page[UsageReport]:
        where = self._child_where("u", "subscription", subscription_id)
        return await self._page(principal, _USAGE_REPORTS, where, first, after)

    async def count_usage_reports(
        self, principal: Principal, subscription_id: uuid.UUID | None
    ) -> int:
        return await self._count(
            principal, _USAGE_REPORTS, self._child_where("u", "subscription", subscription_id)
        )

    async def usage_reports_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, UsageReport]:
        return await self._by_ids(principal, _USAGE_REPORTS, ids)

    async def latest_usage_by_subscription(
        self, principal: Principal, subscription_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, UsageReport]:
        where = _Where()
        where.add(f"u.subscription = ANY({where.arg(list(subscription_ids))})")
        self._visible(principal, _USAGE_REPORTS, where)
        rows = await self._db.fetch(
            f"SELECT DISTINCT ON (u.subscription) {USAGE_REPORT_COLUMNS} FROM usage_report u"
            f" WHERE {where.sql()} ORDER BY u.subscription, u.reported_at DESC, u.id DESC",
            *where.args,
        )
        return {row["subscription"]: usage_report_from_row(row) for row in rows}
