"""Read models: the queries behind the GraphQL read API, one statement per page or batch.

Every method takes the calling principal. Tenant filtering is applied in SQL (not after
fetching) through ``_visible`` (``persistence.visibility``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain.model.customer import Customer
from domain.model.dedicated import DedicatedTenant
from domain.model.enums import Deployment, Plan, Role, SubscriptionStatus
from domain.model.instance import Instance
from domain.model.namespace import Namespace
from domain.model.partner import Partner
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.model.usage import UsageReport
from domain.model.webhook import WebhookDelivery, WebhookEndpoint
from domain.policy import Reach, Resource, reach
from domain.principal import Principal, PrincipalKind
from persistence.derived import status_condition
from persistence.eligibility_reads import EligibilityReads
from persistence.keyset import KeysetQueries, Order, Page, PageRequest, Source, Where, as_request
from persistence.mappers import (
    CUSTOMER_COLUMNS,
    INSTANCE_COLUMNS,
    LICENSE_VIEW_COLUMNS,
    NAMESPACE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    TRIAL_COLUMNS,
    USAGE_REPORT_COLUMNS,
    customer_from_row,
    instance_from_row,
    namespace_from_row,
    subscription_from_row,
    trial_from_row,
    usage_report_from_row,
)
from persistence.reports import PostgresStaffReports
from persistence.repositories.dedicated import TENANT_COLUMNS, tenant_from_row
from persistence.repositories.partners import PostgresPartners
from persistence.repositories.webhooks import PostgresWebhookDeliveries, PostgresWebhookEndpoints
from persistence.staff_reads import StaffReads
from persistence.views import LicenseView, ProvisioningStepView, provisioning_step_view
from persistence.visibility import Arguments, of_subscription

__all__ = ["Order", "Page", "PageRequest", "ReadModels", "SubscriptionFilter"]

TENANT_COLUMNS_D = ", ".join(f"d.{column.strip()}" for column in TENANT_COLUMNS.split(","))


@dataclass(frozen=True)
class SubscriptionFilter:
    status: SubscriptionStatus | None = None
    deployment: Deployment | None = None
    plan: Plan | None = None
    customer_id: uuid.UUID | None = None
    namespace_id: uuid.UUID | None = None


def subscription_conditions(
    flt: SubscriptionFilter, alias: str, where: Arguments, today: Callable[[], str]
) -> list[str]:
    """The filter's conditions on subscription ``alias`` (also the fast read path's,
    api/graphql/fast_read.py); ``today()`` adds today's date and returns its placeholder."""
    s = alias
    conditions = []
    if flt.status is not None:
        conditions.append(status_condition(flt.status, s, today))
    if flt.deployment is not None:
        conditions.append(f"{s}.deployment = {where.arg(flt.deployment.value)}")
    if flt.plan is not None:
        conditions.append(f"{s}.plan = {where.arg(flt.plan.value)}")
    if flt.customer_id is not None:
        conditions.append(f"{s}.customer = {where.arg(flt.customer_id)}")
    if flt.namespace_id is not None:
        conditions.append(f"{s}.namespace = {where.arg(flt.namespace_id)}")
    return conditions


_SUBSCRIPTIONS = Source(
    "subscription", "s", SUBSCRIPTION_COLUMNS, Resource.SUBSCRIPTIONS, subscription_from_row
)
_CUSTOMERS = Source("customer", "c", CUSTOMER_COLUMNS, Resource.CUSTOMERS, customer_from_row)
_NAMESPACES = Source("namespace", "n", NAMESPACE_COLUMNS, Resource.NAMESPACES, namespace_from_row)
_LICENSES = Source("license", "l", LICENSE_VIEW_COLUMNS, Resource.LICENSES, None, LicenseView)
_INSTANCES = Source("instance", "i", INSTANCE_COLUMNS, Resource.INSTANCES, instance_from_row)
_TRIALS = Source("trial", "t", TRIAL_COLUMNS, Resource.TRIALS, trial_from_row)
_USAGE_REPORTS = Source(
    "usage_report", "u", USAGE_REPORT_COLUMNS, Resource.USAGE, usage_report_from_row
)


PROVISIONING_STEPS = 20
"""Steps per namespace ``Namespace.provisioningSteps`` shows, newest first."""


class ReadModels(StaffReads, EligibilityReads, PostgresStaffReports, KeysetQueries):
    """Queries behind the GraphQL read API (the staff-only ones in ``StaffReads``)."""

    # --- customers -------------------------------------------------------------------------

    async def customers(
        self, principal: Principal, first: int | PageRequest, after: uuid.UUID | None = None
    ) -> Page[Customer]:
        return await self._keyset_page(principal, _CUSTOMERS, Where(), as_request(first, after))

    async def count_customers(self, principal: Principal) -> int:
        return await self._count(principal, _CUSTOMERS, Where())

    async def customers_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Customer]:
        return await self._by_ids(principal, _CUSTOMERS, ids)

    # --- dedicated tenants ----------------------------------------------------------------

    async def _tenants(
        self, principal: Principal, column: str, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, DedicatedTenant]:
        """Tenants whose ``column`` is in ``ids``, cut to the subscriptions the principal sees."""
        where = Where()
        where.add(f"d.{column} = ANY({where.arg(list(ids))})")
        level = reach(principal, Resource.SUBSCRIPTIONS)
        if level is Reach.NOTHING:
            return {}
        if level is not Reach.EVERYTHING:
            where.add(of_subscription("d", level, principal, where))
        rows = await self._db.fetch(
            f"SELECT {TENANT_COLUMNS_D} FROM dedicated_tenant d WHERE {where.sql()}", *where.args
        )
        return {row[column]: tenant_from_row(row) for row in rows}

    async def dedicated_tenants_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, DedicatedTenant]:
        return await self._tenants(principal, "id", ids)

    async def dedicated_tenants_by_subscription(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, DedicatedTenant]:
        return await self._tenants(principal, "subscription", ids)

    # --- webhook endpoints -----------------------------------------------------------------

    async def webhook_endpoints(
        self, principal: Principal, first: int, after: uuid.UUID | None
    ) -> Page[WebhookEndpoint]:
        return await PostgresWebhookEndpoints(self._db).visible_to(principal, first, after)

    async def count_webhook_endpoints(self, principal: Principal) -> int:
        return await PostgresWebhookEndpoints(self._db).count_visible(principal)

    # --- partners --------------------------------------------------------------------------

    async def partners(
        self, principal: Principal, first: int, after: str | None
    ) -> tuple[list[Partner], bool]:
        return await PostgresPartners(self._db).visible_to(principal, first, after)

    async def count_partners(self, principal: Principal) -> int:
        return await PostgresPartners(self._db).count_visible(principal)

    async def partners_of_subscriptions(self, partner_ids: Sequence[str]) -> dict[str, Partner]:
        """The partners named by subscriptions the caller already sees (so: no filter)."""
        return await PostgresPartners(self._db).by_ids(partner_ids)

    async def roles_in(
        self, principal: Principal, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Role]:
        """A portal user's role in each of ``customer_ids`` it is a member of."""
        if principal.kind is not PrincipalKind.PORTAL_USER or not principal.subject:
            return {}
        rows = await self._db.fetch(
            "SELECT customer, role FROM membership WHERE user_subject = $1"
            " AND customer = ANY($2::uuid[])",
            principal.subject,
            list(customer_ids),
        )
        return {row["customer"]: Role(row["role"]) for row in rows}

    async def webhook_deliveries(
        self, endpoint_id: uuid.UUID, first: int, after: uuid.UUID | None, status: str | None
    ) -> Page[WebhookDelivery]:
        """An endpoint's deliveries (the caller has already been shown the endpoint)."""
        return await PostgresWebhookDeliveries(self._db).for_endpoint(
            endpoint_id, first, after, status
        )

    async def count_webhook_deliveries(self, endpoint_id: uuid.UUID, status: str | None) -> int:
        return await PostgresWebhookDeliveries(self._db).count_for_endpoint(endpoint_id, status)

    async def webhook_delivery(self, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        return await PostgresWebhookDeliveries(self._db).get(delivery_id)

    # --- subscriptions ---------------------------------------------------------------------

    def _subscription_where(self, flt: SubscriptionFilter, today: date) -> Where:
        where = Where()
        for condition in subscription_conditions(flt, "s", where, lambda: where.arg(today)):
            where.add(condition)
        return where

    async def subscriptions(
        self,
        principal: Principal,
        flt: SubscriptionFilter,
        today: date,
        first: int | PageRequest,
        after: uuid.UUID | None = None,
    ) -> Page[Subscription]:
        where = self._subscription_where(flt, today)
        return await self._keyset_page(principal, _SUBSCRIPTIONS, where, as_request(first, after))

    async def count_subscriptions(
        self, principal: Principal, flt: SubscriptionFilter, today: date
    ) -> int:
        return await self._count(principal, _SUBSCRIPTIONS, self._subscription_where(flt, today))

    async def subscriptions_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Subscription]:
        return await self._by_ids(principal, _SUBSCRIPTIONS, ids)

    async def subscription_by_name(self, principal: Principal, name: str) -> Subscription | None:
        where = Where()
        where.add(f"s.name = {where.arg(name)}")
        page = await self._page(principal, _SUBSCRIPTIONS, where, 1, None)
        return page.items[0] if page.items else None

    async def subscriptions_by_customer(
        self,
        principal: Principal,
        customer_ids: Sequence[uuid.UUID],
        first: int | PageRequest,
        after: uuid.UUID | None = None,
    ) -> dict[uuid.UUID, Page[Subscription]]:
        return await self._keyset_pages_by_parent(
            principal, _SUBSCRIPTIONS, "customer", customer_ids, as_request(first, after)
        )

    async def count_subscriptions_by_customer(
        self, principal: Principal, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        return await self._counts_by_parent(principal, _SUBSCRIPTIONS, "customer", customer_ids)

    async def subscriptions_by_namespace(
        self, principal: Principal, namespace_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Subscription]:
        """The subscription linked to each namespace (the newest, should history allow more)."""
        rows = await self._rows_in(
            principal, _SUBSCRIPTIONS, "namespace", namespace_ids, order_by="s.id"
        )
        return {row["namespace"]: subscription_from_row(row) for row in rows}

    # --- namespaces ------------------------------------------------------------------------

    async def namespaces(
        self, principal: Principal, first: int | PageRequest, after: uuid.UUID | None = None
    ) -> Page[Namespace]:
        return await self._keyset_page(principal, _NAMESPACES, Where(), as_request(first, after))

    async def count_namespaces(self, principal: Principal) -> int:
        return await self._count(principal, _NAMESPACES, Where())

    async def namespaces_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Namespace]:
        return await self._by_ids(principal, _NAMESPACES, ids)

    async def namespace_by_gitlab_id(
        self, principal: Principal, gitlab_id: int
    ) -> Namespace | None:
        where = Where()
        where.add(f"n.gitlab_id = {where.arg(gitlab_id)}")
        page = await self._page(principal, _NAMESPACES, where, 1, None)
        return page.items[0] if page.items else None

    # --- licenses, instances, trials, usage --------------------------------------------------

    def _child_where(self, alias: str, column: str, parent_id: uuid.UUID | None) -> Where:
        where = Where()
        if parent_id is not None:
            where.add(f"{alias}.{column} = {where.arg(parent_id)}")
        return where

    async def licenses(
        self,
        principal: Principal,
        subscription_id: uuid.UUID | None,
        first: int | PageRequest,
        after: uuid.UUID | None = None,
    ) -> Page[LicenseView]:
        where = self._child_where("l", "subscription", subscription_id)
        return await self._keyset_page(principal, _LICENSES, where, as_request(first, after))

    async def count_licenses(self, principal: Principal, subscription_id: uuid.UUID | None) -> int:
        return await self._count(
            principal, _LICENSES, self._child_where("l", "subscription", subscription_id)
        )

    async def licenses_by_subscription(
        self,
        principal: Principal,
        subscription_ids: Sequence[uuid.UUID],
        first: int | PageRequest,
        after: uuid.UUID | None = None,
    ) -> dict[uuid.UUID, Page[LicenseView]]:
        return await self._keyset_pages_by_parent(
            principal, _LICENSES, "subscription", subscription_ids, as_request(first, after)
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
        rows = await self._rows_in(principal, _LICENSES, "id", ids, select="l.id, l.license_key")
        return {row["id"]: row["license_key"] for row in rows}

    def _instances_where(
        self, subscription_id: uuid.UUID | None, silent_since: datetime | None
    ) -> Where:
        where = self._child_where("i", "subscription", subscription_id)
        if silent_since is not None:
            # Stopped syncing (docs/instances.md): in service, no seat link since the moment.
            where.add(
                "i.retired_at IS NULL AND coalesce(i.last_synced_at, i.activated_at)"
                f" <= {where.arg(silent_since)}"
            )
        return where

    async def instances(
        self,
        principal: Principal,
        subscription_id: uuid.UUID | None,
        first: int,
        after: uuid.UUID | None,
        silent_since: datetime | None = None,
    ) -> Page[Instance]:
        where = self._instances_where(subscription_id, silent_since)
        return await self._page(principal, _INSTANCES, where, first, after)

    async def count_instances(
        self,
        principal: Principal,
        subscription_id: uuid.UUID | None,
        silent_since: datetime | None = None,
    ) -> int:
        return await self._count(
            principal, _INSTANCES, self._instances_where(subscription_id, silent_since)
        )

    async def fleets_by_subscription(
        self, principal: Principal, subscription_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[list[Instance], dict[uuid.UUID, UsageReport]]]:
        """Each subscription's visible instances (oldest first) and each one's newest report.

        Two statements for any number of subscriptions (a page of them asks once).
        """
        rows = await self._rows_in(
            principal, _INSTANCES, "subscription", subscription_ids, order_by="i.id"
        )
        reports = await self._rows_in(
            principal,
            _USAGE_REPORTS,
            "subscription",
            subscription_ids,
            distinct_on="u.subscription, u.instance",
            order_by="u.subscription, u.instance, u.reported_at DESC, u.id DESC",
        )
        fleets: dict[uuid.UUID, tuple[list[Instance], dict[uuid.UUID, UsageReport]]] = {
            subscription_id: ([], {}) for subscription_id in subscription_ids
        }
        for row in rows:
            fleets[row["subscription"]][0].append(instance_from_row(row))
        for row in reports:
            if row["instance"] is not None:
                fleets[row["subscription"]][1][row["instance"]] = usage_report_from_row(row)
        return fleets

    async def instances_by_subscription(
        self,
        principal: Principal,
        subscription_ids: Sequence[uuid.UUID],
        first: int | PageRequest,
        after: uuid.UUID | None = None,
    ) -> dict[uuid.UUID, Page[Instance]]:
        return await self._keyset_pages_by_parent(
            principal, _INSTANCES, "subscription", subscription_ids, as_request(first, after)
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
        rows = await self._rows_in(principal, _TRIALS, "namespace", namespace_ids, order_by="t.id")
        grouped: dict[uuid.UUID, list[Trial]] = {namespace_id: [] for namespace_id in namespace_ids}
        for row in rows:
            grouped[row["namespace"]].append(trial_from_row(row))
        return grouped

    async def provisioning_steps_by_namespace(
        self, principal: Principal, namespace_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[ProvisioningStepView]]:
        """The newest GitLab.com provisioning steps of each namespace (at most
        ``PROVISIONING_STEPS`` each). The caller sees the namespaces already: their steps are
        theirs to see, in the words of ``ProvisioningStepView``."""
        rows = await self._db.fetch(
            "SELECT namespace_id, payload, status, attempts, created_at, updated_at FROM ("
            " SELECT *, row_number() OVER (PARTITION BY namespace_id"
            " ORDER BY created_at DESC, id DESC) AS position FROM provision_event"
            " WHERE namespace_id = ANY($1::uuid[]) AND kind = 'NAMESPACE_PROVISION') steps"
            " WHERE position <= $2 ORDER BY namespace_id, created_at DESC, id DESC",
            list(namespace_ids),
            PROVISIONING_STEPS,
        )
        grouped: dict[uuid.UUID, list[ProvisioningStepView]] = {i: [] for i in namespace_ids}
        for row in rows:
            grouped[row["namespace_id"]].append(
                provisioning_step_view(
                    row["payload"],
                    row["status"],
                    row["attempts"],
                    row["created_at"],
                    row["updated_at"],
                )
            )
        return grouped

    async def trials_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Trial]:
        return await self._by_ids(principal, _TRIALS, ids)

    async def usage_reports(
        self,
        principal: Principal,
        subscription_id: uuid.UUID | None,
        first: int | PageRequest,
        after: uuid.UUID | None = None,
    ) -> Page[UsageReport]:
        where = self._child_where("u", "subscription", subscription_id)
        return await self._keyset_page(principal, _USAGE_REPORTS, where, as_request(first, after))

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
        rows = await self._rows_in(
            principal,
            _USAGE_REPORTS,
            "subscription",
            subscription_ids,
            distinct_on="u.subscription",
            order_by="u.subscription, u.reported_at DESC, u.id DESC",
        )
        return {row["subscription"]: usage_report_from_row(row) for row in rows}
