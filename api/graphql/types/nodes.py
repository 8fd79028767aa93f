"""The node types that reference each other, in one module so they import no one in a circle:
Subscription (terms, segments, add-ons, derived status and seats, children), Customer,
License and Instance (and the future terms an instance is told of), Namespace and Trial, and
Usage with its seat-link usage reports."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Context, Info
from api.graphql.enums import (
    AddOnKind,
    Channel,
    DedicatedTenantState,
    Deployment,
    InstanceContributionReason,
    InstanceRole,
    LicensingMode,
    MaintenanceWindow,
    NamespacePlan,
    Plan,
    SubscriptionStatus,
    TrialStatus,
    TrialType,
    UsageSource,
    api_enum,
)
from api.graphql.loaders import Loader, PageKey
from api.graphql.resolve import load_then, present
from api.graphql.sorting import (
    INSTANCES,
    LICENSES,
    SUBSCRIPTIONS,
    Before,
    Last,
    LicenseSort,
    Paging,
    SubscriptionSort,
    paging,
)
from api.graphql.types.node import Connection, Node, build_connection
from api.graphql.types.partner import PartnerType, SubscriptionPermission, partner_type
from domain.model import customer as customer_model
from domain.model import dedicated as dedicated_model
from domain.model import future_subscription
from domain.model import instance as instance_model
from domain.model import namespace as namespace_model
from domain.model import subscription as subscription_model
from domain.model import trial as trial_model
from domain.model import usage as usage_model
from domain.model.channel_policy import Actor, actor_of, decisions_for
from domain.model.enums import Deployment as DomainDeployment
from domain.model.enums import Role
from domain.model.fleet import combine, is_stale
from domain.model.usage import usage_of
from domain.principal import Principal, PrincipalKind
from domain.use_cases.fleet import figures_of
from persistence.keyset import Page
from persistence.views import LicenseView, ProvisioningStepView

# --- subscription ------------------------------------------------------------------------------


def child_connection(
    loader: Loader[PageKey, Page[Any]],
    parent_id: uuid.UUID,
    pages: Paging,
    to_node: Callable[[Any], Any],
    *,
    count: Callable[[], Awaitable[int]],
    after_given: bool,
) -> Connection[Any] | Awaitable[Connection[Any]]:
    """A nested list's page: from the loader, which the parent list prefetched for every
    parent in one statement (``api/graphql/prefetch.py``), so statements per request do not
    grow with the parents' page size."""
    return load_then(
        loader,
        (parent_id, pages.request),
        lambda page: build_connection(
            page, to_node, after_given=after_given, count=count, write_cursor=pages.cursor
        ),
    )


@strawberry.type(name="Segment", description="A stretch of a term with its own seat count.")
class SegmentType:
    start_date: date = strawberry.field(description="First day covered.")
    end_date: date = strawberry.field(description="First day no longer covered (exclusive).")
    seats: int = strawberry.field(description="Seats licensed during the segment.")


@strawberry.type(name="Term", description="A contract period: the purchase or one renewal.")
class TermType:
    start_date: date = strawberry.field(description="First day of the term.")
    end_date: date = strawberry.field(description="First day after the term (exclusive).")
    segments: list[SegmentType] = strawberry.field(
        description="The term's segments in date order; several make a ramp deal."
    )


@strawberry.type(name="AddOn", description="Something bought on top of the plan.")
class AddOnType:
    kind: AddOnKind = strawberry.field(description="What the add-on adds.")
    name: str = strawberry.field(description="The add-on's name, as GitLab shows it.")
    quantity: int = strawberry.field(description="How much of it (minutes, GB or seats).")
    start_date: date = strawberry.field(description="First day covered.")
    end_date: date = strawberry.field(description="First day no longer covered (exclusive).")


@strawberry.type(
    name="Subscription",
    description="What a customer bought. Status and seats are derived from the terms and today.",
)
class SubscriptionNode(Node):
    _global_type = "Subscription"
    # Fields read the entity when asked: a page builds one small object per subscription.
    entity: strawberry.Private[subscription_model.Subscription]
    # The request context: today's date and the loaders (resolvers need no info).
    context: strawberry.Private[Context]

    @strawberry.field(description="Unique name like A-S00012345, never reused.")
    def name(self) -> str:
        return self.entity.name

    @strawberry.field(description="Where the product runs.")
    def deployment(self) -> Deployment:
        return api_enum(Deployment, self.entity.deployment)

    @strawberry.field(description="The tier sold.")
    def plan(self) -> Plan:
        return api_enum(Plan, self.entity.plan)

    @strawberry.field(description="How it was sold.")
    def channel(self) -> Channel:
        return api_enum(Channel, self.entity.channel)

    @strawberry.field(description="The partner who sold it (reseller and marketplace channels).")
    def partner_id(self) -> str | None:
        return self.entity.partner_id

    @strawberry.field(
        description="The partner who sold it (null when sold directly): whoever sees the"
        " subscription sees its partner's id, name and kind."
    )
    def partner(self) -> PartnerType | None:
        if self.entity.partner_id is None:
            return None
        return load_then(  # type: ignore[return-value]
            self.context.loaders.partners,
            self.entity.partner_id,
            lambda p: partner_type(p) if p else None,
        )

    @strawberry.field(
        description="Every action on the subscription, whether the caller may take it and why:"
        " computed from the same channel policy and scope checks the mutations apply (a"
        " reseller's customer gets MANAGED_BY_PARTNER naming the partner for seats, renewal,"
        " plan, cancellation and auto-renewal)."
    )
    async def viewer_permissions(self) -> list[SubscriptionPermission]:
        entity, ctx = self.entity, self.context
        principal = ctx.principal
        role = None
        if principal.kind is PrincipalKind.PORTAL_USER:
            role = await ctx.loaders.viewer_roles.load(entity.customer_id)
        partner_name = None
        if names_partner(entity, principal, role):
            assert entity.partner_id is not None
            partner = await ctx.loaders.partners.load(entity.partner_id)
            partner_name = partner.name if partner else None
        return permissions_of(entity, principal, role, partner_name)

    @strawberry.field(description="Derived from dates and cancellation.")
    def status(self) -> SubscriptionStatus:
        return api_enum(SubscriptionStatus, self.entity.status(self.context.today))

    @strawberry.field(
        description="Cancelled at the end of the current term: active until then, no renewal."
    )
    def cancel_at_period_end(self) -> bool:
        return self.entity.cancel_at_period_end

    @strawberry.field(description="Renews by itself at the end of the term.")
    def auto_renew(self) -> bool:
        return self.entity.auto_renew

    @strawberry.field(description="How instances get their license; null for GitLab.com.")
    def licensing_mode(self) -> LicensingMode | None:
        mode = self.entity.licensing_mode
        return api_enum(LicensingMode, mode) if mode else None

    @strawberry.field(description="How many distinct instances may activate.")
    def max_instances(self) -> int:
        return self.entity.max_instances

    @strawberry.field(description="Whether quarterly seat reconciliation applies.")
    def reconciliation_enabled(self) -> bool:
        return self.entity.reconciliation_enabled

    @strawberry.field(description="First day of the first term.")
    def start_date(self) -> date:
        return self.entity.start_date

    @strawberry.field(description="First day after the last term (exclusive).")
    def end_date(self) -> date:
        return self.entity.end_date

    @strawberry.field(description="Seats of the current segment.")
    def seats(self) -> int:
        return self.entity.seats(self.context.today)

    @strawberry.field(description="When the subscription was recorded.")
    def created_at(self) -> datetime:
        return self.entity.created_at

    @strawberry.field(description="The terms, in date order, with their segments.")
    def terms(self) -> list[TermType]:
        return [
            TermType(
                start_date=term.start_date,
                end_date=term.end_date,
                segments=[
                    SegmentType(start_date=s.start_date, end_date=s.end_date, seats=s.seats)
                    for s in term.segments
                ],
            )
            for term in self.entity.terms
        ]

    @strawberry.field(description="Add-ons bought on top of the plan.")
    def add_ons(self) -> list[AddOnType]:
        return [
            AddOnType(
                kind=api_enum(AddOnKind, a.kind),
                name=a.kind.value.lower(),
                quantity=a.quantity,
                start_date=a.start_date,
                end_date=a.end_date,
            )
            for a in self.entity.add_ons
        ]

    @strawberry.field(
        description="A DEDICATED subscription's tenant: its state, facts and history (null for"
        " the other deployments, and for a Dedicated one sold without tenant facts)."
    )
    def dedicated_tenant(self) -> DedicatedTenantNode | None:
        if self.entity.deployment is not DomainDeployment.DEDICATED:
            return None
        return load_then(  # type: ignore[return-value]
            self.context.loaders.dedicated_tenant_by_subscription,
            self.entity.id,
            lambda found: dedicated_tenant_node(found) if found else None,
        )

    @strawberry.field(description="The customer who owns the subscription.")
    def customer(self) -> CustomerNode:
        return load_then(  # type: ignore[return-value]
            self.context.loaders.customers,
            self.entity.customer_id,
            lambda c: customer_node(present(c, "customer")),
        )

    @strawberry.field(description="The linked GitLab.com namespace (GitLab.com subscriptions).")
    def namespace(self) -> NamespaceNode | None:
        if self.entity.namespace_id is None:
            return None
        today = self.context.today
        return load_then(  # type: ignore[return-value]
            self.context.loaders.namespaces,
            self.entity.namespace_id,
            lambda n: namespace_node(n, today) if n else None,
        )

    @strawberry.field(
        description="Licenses issued for the subscription, oldest first unless sorted."
    )
    def licenses(
        self,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
        last: Last = None,
        before: Before = None,
        sort: Annotated[
            LicenseSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
    ) -> Connection[LicenseNode]:
        loaders, parent_id = self.context.loaders, self.entity.id
        pages = paging(LICENSES, first=first, after=after, last=last, before=before, sort=sort)
        return child_connection(  # type: ignore[return-value]
            loaders.licenses_by_subscription,
            parent_id,
            pages,
            license_node,
            count=lambda: loaders.license_counts.load(parent_id),  # type: ignore[arg-type, return-value]
            after_given=after is not None,
        )

    @strawberry.field(description="Instances activated on the subscription, oldest first.")
    def instances(
        self,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
    ) -> Connection[InstanceNode]:
        loaders, parent_id = self.context.loaders, self.entity.id
        return child_connection(  # type: ignore[return-value]
            loaders.instances_by_subscription,
            parent_id,
            paging(INSTANCES, first=first, after=after),
            instance_node,
            count=lambda: loaders.instance_counts.load(parent_id),  # type: ignore[arg-type, return-value]
            after_given=after is not None,
        )

    @strawberry.field(
        description="The latest usage: seat link for instances, GitLab.com's report for groups."
    )
    def usage(self) -> UsageType | None:
        entity, today = self.entity, self.context.today
        if usage_from_namespace(entity):
            if entity.namespace_id is None:
                return None
            return load_then(  # type: ignore[return-value]
                self.context.loaders.namespaces,
                entity.namespace_id,
                lambda namespace: namespace_usage(entity, namespace, today),
            )
        return load_then(  # type: ignore[return-value]
            self.context.loaders.latest_usage,
            entity.id,
            lambda report: report_usage(entity, report, today),
        )

    @strawberry.field(
        description="Usage per instance and combined by the fleet rule (docs/instances.md):"
        " production counts every user, Geo secondaries and disaster-recovery standbys none,"
        " staging and test the users beyond the subscription's seats; retired instances none."
        " Null for GitLab.com subscriptions."
    )
    async def instance_usage(self) -> InstanceUsageType | None:
        entity, ctx = self.entity, self.context
        if entity.deployment is DomainDeployment.GITLAB_COM:
            return None
        instances, latest = await ctx.loaders.fleets.load(entity.id) or ([], {})
        fleet = combine(entity.seats(ctx.today), figures_of(instances, latest))
        by_id = {i.id: i for i in instances}
        return InstanceUsageType(
            seats=fleet.seats,
            billable_users=fleet.billable_users,
            max_seats_used=fleet.max_seats_used,
            overage=fleet.overage,
            true_up_seats=fleet.overage,
            instances=[
                InstanceContributionType(
                    instance=instance_node(by_id[part.instance_id]),
                    role=api_enum(InstanceRole, part.role),
                    billable_users=part.billable_users,
                    max_historical_users=part.max_historical_users,
                    counted_billable_users=part.counted_billable_users,
                    counted_max_users=part.counted_max_users,
                    reason=api_enum(InstanceContributionReason, part.reason),
                    explanation=part.explanation,
                    reported_at=report.reported_at
                    if (report := latest.get(part.instance_id))
                    else None,
                )
                for part in fleet.contributions
            ],
        )


def names_partner(
    entity: subscription_model.Subscription, principal: Principal, role: Role | None
) -> bool:
    """Whether the caller's permissions name the partner (a partner-sold subscription seen by
    anyone but staff)."""
    actor = actor_of(principal, partner_id=entity.partner_id, role=role)
    return entity.partner_id is not None and actor is not Actor.STAFF


def permissions_of(
    entity: subscription_model.Subscription,
    principal: Principal,
    role: Role | None,
    partner_name: str | None,
) -> list[SubscriptionPermission]:
    """``Subscription.viewerPermissions`` from the caller's role in the customer and the
    partner's name (both paths: the usual one's loaders, the fast one's statement)."""
    actor = actor_of(principal, partner_id=entity.partner_id, role=role)
    name = None
    if names_partner(entity, principal, role):
        name = partner_name if partner_name is not None else entity.partner_id
    return [
        SubscriptionPermission(entity=d)
        for d in decisions_for(principal, actor, entity.channel, name)
    ]


def usage_from_namespace(entity: subscription_model.Subscription) -> bool:
    """GitLab.com subscriptions read usage from their namespace, the others from seat link."""
    return entity.deployment is DomainDeployment.GITLAB_COM


def namespace_usage(
    entity: subscription_model.Subscription, namespace: object, today: date
) -> UsageType | None:
    usage = getattr(namespace, "usage", None)
    if usage is None:
        return None
    return UsageType.from_domain(
        usage_of(entity, usage.billable_members, usage.max_seats_used, usage.reported_at, today)
    )


def report_usage(
    entity: subscription_model.Subscription, report: object, today: date
) -> UsageType | None:
    if report is None:
        return None
    return UsageType.from_domain(
        usage_of(
            entity,
            report.billable_users,  # type: ignore[attr-defined]
            report.max_historical_users,  # type: ignore[attr-defined]
            report.reported_at,  # type: ignore[attr-defined]
            today,
        )
    )


def subscription_node(
    entity: subscription_model.Subscription, context: Context
) -> SubscriptionNode:
    return SubscriptionNode(entity=entity, context=context)


# --- dedicated tenant --------------------------------------------------------------------------


@strawberry.type(description="One move of a Dedicated tenant: when, from where, to where, why.")
class DedicatedTenantStateChange:
    at: datetime = strawberry.field(description="When it moved.")
    from_state: DedicatedTenantState | None = strawberry.field(
        description="The state before (null for the order)."
    )
    to_state: DedicatedTenantState = strawberry.field(description="The state after.")
    reason: str = strawberry.field(description="Why (the step, or the provisioner's words).")


@strawberry.type(
    name="DedicatedTenant",
    description="A GitLab Dedicated subscription's tenant: the facts it was sized with, its"
    " state and the history of its moves, and the last error of a step (docs/dedicated.md).",
)
class DedicatedTenantNode(Node):
    _global_type = "DedicatedTenant"
    entity: strawberry.Private[dedicated_model.DedicatedTenant]

    @strawberry.field(description="Where the tenant is in its life.")
    def state(self) -> DedicatedTenantState:
        return api_enum(DedicatedTenantState, self.entity.state)

    @strawberry.field(description="The expected number of users (the reference architecture).")
    def expected_users(self) -> int:
        return self.entity.facts.expected_users

    @strawberry.field(description="Repository storage in GiB (grows, never shrinks).")
    def storage_gib(self) -> int:
        return self.entity.facts.storage_gib

    @strawberry.field(description="The AWS region the tenant runs in.")
    def primary_region(self) -> str:
        return self.entity.facts.primary_region

    @strawberry.field(description="The disaster-recovery region (null: none).")
    def secondary_region(self) -> str | None:
        return self.entity.facts.secondary_region

    @strawberry.field(description="Who completes onboarding and becomes a Switchboard user.")
    def onboarding_contacts(self) -> list[str]:
        return list(self.entity.facts.onboarding_contacts)

    @strawberry.field(description="The weekly maintenance window.")
    def maintenance_window(self) -> MaintenanceWindow:
        return api_enum(MaintenanceWindow, self.entity.facts.maintenance_window)

    @strawberry.field(description="Whether the customer brings their own KMS keys (permanent).")
    def bring_your_own_key(self) -> bool:
        return self.entity.facts.bring_your_own_key

    @strawberry.field(description="Whether the tenant is a Geo migration of a self-managed one.")
    def geo_migration(self) -> bool:
        return self.entity.facts.geo_migration

    @strawberry.field(description="Hosted runner types (`linux-small-amd64`, …).")
    def hosted_runners(self) -> list[str]:
        return list(self.entity.facts.hosted_runners)

    @strawberry.field(description="Every move, oldest first.")
    def history(self) -> list[DedicatedTenantStateChange]:
        return [
            DedicatedTenantStateChange(
                at=h.at,
                from_state=api_enum(DedicatedTenantState, h.from_state) if h.from_state else None,
                to_state=api_enum(DedicatedTenantState, h.to_state),
                reason=h.reason,
            )
            for h in self.entity.history
        ]

    @strawberry.field(
        description="Why the last step failed (a provisioner's refusal, an outage), null once a"
        " step succeeds. A ledger step that gave up is retried with `retryProvisionEvent`, a"
        " FAILED tenant with `retryDedicatedTenant`."
    )
    def last_error(self) -> str | None:
        return self.entity.last_error

    @strawberry.field(description="The tenant's URL, once the provisioner reported it.")
    def tenant_url(self) -> str | None:
        return self.entity.tenant_url

    @strawberry.field(description="When it was ordered.")
    def created_at(self) -> datetime:
        return self.entity.created_at

    @strawberry.field(description="The license last delivered to the tenant.")
    def license(self, info: Info) -> LicenseNode | None:
        if self.entity.license_id is None:
            return None
        return load_then(  # type: ignore[return-value]
            info.context.loaders.licenses,
            self.entity.license_id,
            lambda found: license_node(found) if found else None,
        )

    @strawberry.field(description="The subscription the tenant serves.")
    def subscription(self, info: Info) -> SubscriptionNode:
        return _subscription(info, self.entity.subscription_id)  # type: ignore[return-value]


def dedicated_tenant_node(entity: dedicated_model.DedicatedTenant) -> DedicatedTenantNode:
    return DedicatedTenantNode(entity=entity)


# --- customer ----------------------------------------------------------------------------------


@strawberry.type(name="Customer", description="A billing account: a company and its contact.")
class CustomerNode(Node):
    _global_type = "Customer"
    company: str = strawberry.field(description="The company's name.")
    contact_name: str = strawberry.field(description="Who to talk to.")
    contact_email: str = strawberry.field(description="Where emails go.")
    created_at: datetime = strawberry.field(description="When the customer was recorded.")
    entity: strawberry.Private[customer_model.Customer]

    @strawberry.field(description="The customer's subscriptions, oldest first unless sorted.")
    def subscriptions(
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
            SubscriptionSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
    ) -> Connection[SubscriptionNode]:
        loaders, parent_id = info.context.loaders, self.entity.id
        pages = paging(SUBSCRIPTIONS, first=first, after=after, last=last, before=before, sort=sort)
        return child_connection(  # type: ignore[return-value]
            loaders.subscriptions_by_customer,
            parent_id,
            pages,
            lambda s: subscription_node(s, info.context),
            count=lambda: loaders.subscription_counts_by_customer.load(parent_id),  # type: ignore[arg-type, return-value]
            after_given=after is not None,
        )


def customer_node(entity: customer_model.Customer) -> CustomerNode:
    return CustomerNode(
        company=entity.company,
        contact_name=entity.contact_name,
        contact_email=entity.contact_email,
        created_at=entity.created_at,
        entity=entity,
    )


# --- license -----------------------------------------------------------------------------------


def _subscription(
    info: Info, subscription_id: uuid.UUID
) -> SubscriptionNode | Awaitable[SubscriptionNode]:
    return load_then(
        info.context.loaders.subscriptions,
        subscription_id,
        lambda s: subscription_node(present(s, "subscription"), info.context),
    )


@strawberry.type(name="License", description="A signed statement of what an instance may use.")
class LicenseNode(Node):
    _global_type = "License"
    # Fields read the entity when asked: a page builds one small object per license.
    entity: strawberry.Private[LicenseView]

    @strawberry.field(description="Online cloud, offline cloud or legacy.")
    def mode(self) -> LicensingMode:
        return api_enum(LicensingMode, self.entity.mode)

    @strawberry.field(description="The tier licensed.")
    def plan(self) -> Plan:
        return api_enum(Plan, self.entity.plan)

    @strawberry.field(description="Licensed users (`active_user_count`).")
    def seats(self) -> int:
        return self.entity.seats

    @strawberry.field(description="First day the license is valid (`issued_at`).")
    def starts_at(self) -> date:
        return self.entity.starts_at

    @strawberry.field(description="The day the license expires (exclusive).")
    def expires_at(self) -> date:
        return self.entity.expires_at

    @strawberry.field(description="Whether this is a trial license.")
    def trial(self) -> bool:
        return self.entity.trial

    @strawberry.field(
        description="Whether this is a cancellation key (`generated_from_cancellation`)."
    )
    def cancelled(self) -> bool:
        return self.entity.cancelled

    @strawberry.field(
        description="GitLab's license envelope; identical bytes until something in it changes."
    )
    def license_key(self, info: Info) -> str:
        return load_then(  # type: ignore[return-value]
            info.context.loaders.license_keys,
            self.entity.id,
            lambda key: present(key, "license key"),
        )

    @strawberry.field(description="When the license was issued.")
    def created_at(self) -> datetime:
        return self.entity.created_at

    @strawberry.field(description="The subscription the license was issued for.")
    def subscription(self, info: Info) -> SubscriptionNode:
        return _subscription(info, self.entity.subscription_id)  # type: ignore[return-value]


@strawberry.type(description="A term that starts after the current one (GitLab's shape).")
class FutureSubscription:
    cloud_license_enabled: bool = strawberry.field(description="Online or offline cloud.")
    offline_cloud_license_enabled: bool = strawberry.field(description="Offline cloud.")
    plan: str = strawberry.field(description="premium or ultimate.")
    name: str = strawberry.field(description="The licensee's name.")
    company: str = strawberry.field(description="The licensee's company.")
    email: str = strawberry.field(description="The licensee's email.")
    starts_at: str = strawberry.field(description="YYYY-MM-DD.")
    expires_at: str = strawberry.field(description="YYYY-MM-DD (exclusive).")
    users_in_license_count: int = strawberry.field(description="Seats at the term's start.")


def future_subscription_nodes(
    futures: Iterable[future_subscription.FutureSubscription],
) -> list[FutureSubscription]:
    return [
        FutureSubscription(
            cloud_license_enabled=f.cloud_license_enabled,
            offline_cloud_license_enabled=f.offline_cloud_license_enabled,
            plan=f.plan,
            name=f.name,
            company=f.company,
            email=f.email,
            starts_at=f.starts_at.isoformat(),
            expires_at=f.expires_at.isoformat(),
            users_in_license_count=f.users_in_license_count,
        )
        for f in futures
    ]


def license_node(entity: LicenseView) -> LicenseNode:
    return LicenseNode(entity=entity)


@strawberry.type(
    name="Instance", description="A self-managed installation bound to a subscription."
)
class InstanceNode(Node):
    _global_type = "Instance"
    instance_identifier: str = strawberry.field(description="The UUID the instance sends.")
    hostname: str | None = strawberry.field(description="The hostname it last reported.")
    gitlab_version: str | None = strawberry.field(description="The version it last reported.")
    activated_at: datetime = strawberry.field(description="When it first activated.")
    last_synced_at: datetime | None = strawberry.field(description="Its last seat-link sync.")
    retired_at: datetime | None = strawberry.field(
        description="When it was retired or replaced; null while in service."
    )
    access_ends_on: date | None = strawberry.field(
        description="The day its end key expires (GitLab then runs unlicensed); set exactly"
        " when retired."
    )
    entity: strawberry.Private[instance_model.Instance]

    @strawberry.field(description="What it is for; decides whether its users count seats.")
    def role(self) -> InstanceRole:
        return api_enum(InstanceRole, self.entity.role)

    @strawberry.field(
        description="In service and no seat link (or, never synced, no activation) for"
        " PROVISION_INSTANCE_STALE_DAYS days (7 by default)."
    )
    def stopped_syncing(self, info: Info) -> bool:
        ctx = info.context
        return not self.entity.retired and is_stale(
            self.entity.last_synced_at,
            self.entity.activated_at,
            ctx.clock.now(),
            ctx.commands.instance_stale_days,
        )

    @strawberry.field(description="The instance that replaced it (a hardware move), if any.")
    def replaced_by(self, info: Info) -> InstanceNode | None:
        if self.entity.replaced_by is None:
            return None
        return load_then(  # type: ignore[return-value]
            info.context.loaders.instances,
            self.entity.replaced_by,
            lambda i: instance_node(i) if i else None,
        )

    @strawberry.field(description="The subscription the instance is activated on.")
    def subscription(self, info: Info) -> SubscriptionNode:
        return _subscription(info, self.entity.subscription_id)  # type: ignore[return-value]


def instance_node(entity: instance_model.Instance) -> InstanceNode:
    return InstanceNode(
        instance_identifier=entity.instance_identifier,
        hostname=entity.hostname,
        gitlab_version=entity.gitlab_version,
        activated_at=entity.activated_at,
        last_synced_at=entity.last_synced_at,
        retired_at=entity.retired_at,
        access_ends_on=entity.access_ends_on,
        entity=entity,
    )


# --- namespace ---------------------------------------------------------------------------------


@strawberry.enum(description="How far a provisioning step got, as its customer is told.")
class ProvisioningState(Enum):
    WAITING = strawberry.enum_value("WAITING", description="Recorded; not sent yet.")
    IN_PROGRESS = strawberry.enum_value("IN_PROGRESS", description="Being sent to GitLab.com.")
    DONE = strawberry.enum_value("DONE", description="GitLab.com applied it.")
    RETRYING = strawberry.enum_value(
        "RETRYING", description="An attempt failed; it is tried again by itself."
    )
    WITH_SUPPORT = strawberry.enum_value(
        "WITH_SUPPORT", description="It stopped being retried; support is looking at it."
    )
    CLOSED = strawberry.enum_value("CLOSED", description="Closed by support without sending.")


_STATES = {
    "PENDING": ProvisioningState.WAITING,
    "RUNNING": ProvisioningState.IN_PROGRESS,
    "SUCCEEDED": ProvisioningState.DONE,
    "FAILED": ProvisioningState.RETRYING,
    "DEAD": ProvisioningState.WITH_SUPPORT,
    "RESOLVED": ProvisioningState.CLOSED,
}


@strawberry.type(description="One step of a group's provisioning on GitLab.com.")
class ProvisioningStep:
    description: str = strawberry.field(description="What the step sets, for people.")
    state: ProvisioningState = strawberry.field(description="How far it got.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    created_at: datetime = strawberry.field(description="When it was recorded.")
    updated_at: datetime = strawberry.field(description="Its last change.")


def provisioning_step(view: ProvisioningStepView) -> ProvisioningStep:
    return ProvisioningStep(
        description=view.description,
        state=_STATES.get(view.status, ProvisioningState.WAITING),
        attempts=view.attempts,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


@strawberry.type(name="Namespace", description="A GitLab.com group or user namespace.")
class NamespaceNode(Node):
    _global_type = "Namespace"
    gitlab_id: int = strawberry.field(description="The namespace's id on GitLab.com.")
    path: str = strawberry.field(description="Its full path, like `acme/platform`.")
    name: str = strawberry.field(description="Its display name.")
    kind: str = strawberry.field(description="GROUP or USER.")
    parent_gitlab_id: int | None = strawberry.field(
        description="The parent group's GitLab id; null for a top-level namespace."
    )
    top_level: bool = strawberry.field(description="Whether it has no parent.")
    base_plan: NamespacePlan = strawberry.field(description="The plan it pays for, trials aside.")
    owner_gitlab_user_ids: list[int] = strawberry.field(
        description="GitLab user ids of its owners."
    )
    billable_members: int | None = strawberry.field(description="Latest billable member count.")
    max_seats_used: int | None = strawberry.field(description="Highest seat count used.")
    compute_minutes_used: int | None = strawberry.field(description="Compute minutes used.")
    storage_used_bytes: float | None = strawberry.field(description="Storage used, in bytes.")
    usage_reported_at: datetime | None = strawberry.field(
        description="When GitLab.com last reported usage."
    )
    entity: strawberry.Private[namespace_model.Namespace]
    today: strawberry.Private[date]

    @strawberry.field(description="The effective plan: the base plan, or an active trial's.")
    def plan(self, info: Info) -> NamespacePlan:
        entity, today = self.entity, self.today
        return load_then(  # type: ignore[return-value]
            info.context.loaders.trials_by_namespace,
            entity.id,
            lambda trials: namespace_plan(entity, trials, today),
        )

    @strawberry.field(description="Every trial the namespace had, oldest first.")
    def trials(self, info: Info) -> list[TrialNode]:
        today = self.today
        return load_then(  # type: ignore[return-value]
            info.context.loaders.trials_by_namespace,
            self.entity.id,
            lambda trials: [trial_node(t, today) for t in trials or []],
        )

    @strawberry.field(
        description="What Provision asked GitLab.com to do for the group (plan, seats,"
        " trials, add-ons), newest first, at most 20: each step's state, not its payload."
    )
    def provisioning_steps(self, info: Info) -> list[ProvisioningStep]:
        return load_then(  # type: ignore[return-value]
            info.context.loaders.provisioning_steps,
            self.entity.id,
            lambda steps: [provisioning_step(s) for s in steps or []],
        )

    @strawberry.field(description="The paid subscription linked to the namespace.")
    def subscription(self, info: Info) -> SubscriptionNode | None:
        return load_then(  # type: ignore[return-value]
            info.context.loaders.subscription_by_namespace,
            self.entity.id,
            lambda s: subscription_node(s, info.context) if s else None,
        )


def namespace_plan(
    entity: namespace_model.Namespace, trials: Iterable[trial_model.Trial] | None, today: date
) -> NamespacePlan:
    return api_enum(NamespacePlan, entity.effective_plan(list(trials or []), today))


def namespace_node(entity: namespace_model.Namespace, today: date) -> NamespaceNode:
    usage = entity.usage
    return NamespaceNode(
        gitlab_id=entity.gitlab_id,
        path=entity.path,
        name=entity.name,
        kind=entity.kind.value,
        parent_gitlab_id=entity.parent_gitlab_id,
        top_level=entity.top_level,
        base_plan=api_enum(NamespacePlan, entity.base_plan),
        owner_gitlab_user_ids=list(entity.owner_user_ids),
        billable_members=usage.billable_members if usage else None,
        max_seats_used=usage.max_seats_used if usage else None,
        compute_minutes_used=usage.compute_minutes_used if usage else None,
        storage_used_bytes=float(usage.storage_used_bytes) if usage else None,
        usage_reported_at=usage.reported_at if usage else None,
        entity=entity,
        today=today,
    )


@strawberry.type(
    name="Trial", description="A time-boxed plan on a namespace, or a trial subscription."
)
class TrialNode(Node):
    _global_type = "Trial"
    type: TrialType = strawberry.field(description="What is being tried.")
    status: TrialStatus = strawberry.field(description="Whether the trial covers today.")
    starts_on: date = strawberry.field(description="First day of the trial.")
    ends_on: date = strawberry.field(description="First day after the trial (exclusive).")
    reverts_to: NamespacePlan | None = strawberry.field(
        description="The plan the namespace returns to when the trial ends."
    )
    extended: bool = strawberry.field(description="Whether staff extended it (once at most).")
    created_at: datetime = strawberry.field(description="When the trial was started.")
    entity: strawberry.Private[trial_model.Trial]

    @strawberry.field(description="The namespace on trial (GitLab.com trials).")
    def namespace(self, info: Info) -> NamespaceNode | None:
        if self.entity.namespace_id is None:
            return None
        today = info.context.today
        return load_then(  # type: ignore[return-value]
            info.context.loaders.namespaces,
            self.entity.namespace_id,
            lambda n: namespace_node(n, today) if n else None,
        )

    @strawberry.field(description="The trial subscription (self-managed trials).")
    def subscription(self, info: Info) -> SubscriptionNode | None:
        if self.entity.subscription_id is None:
            return None
        return load_then(  # type: ignore[return-value]
            info.context.loaders.subscriptions,
            self.entity.subscription_id,
            lambda s: subscription_node(s, info.context) if s else None,
        )


def trial_node(entity: trial_model.Trial, today: date) -> TrialNode:
    return TrialNode(
        type=api_enum(TrialType, entity.type),
        status=api_enum(TrialStatus, entity.status(today)),
        starts_on=entity.starts_on,
        ends_on=entity.ends_on,
        reverts_to=api_enum(NamespacePlan, entity.reverts_to) if entity.reverts_to else None,
        extended=entity.extended,
        created_at=entity.created_at,
        entity=entity,
    )


# --- usage -------------------------------------------------------------------------------------


@strawberry.type(name="Usage", description="A subscription's latest usage against its seats.")
class UsageType:
    seats_in_use: int = strawberry.field(description="Billable users (or members) now.")
    max_seats_used: int = strawberry.field(description="The highest count seen in the term.")
    overage: int = strawberry.field(description="max(0, maxSeatsUsed - seats).")
    reported_at: datetime | None = strawberry.field(description="When it was reported.")
    next_reconciliation_date: date | None = strawberry.field(
        description="The next quarterly reconciliation, when reconciliation is enabled."
    )

    @classmethod
    def from_domain(cls, usage: usage_model.Usage) -> UsageType:
        return cls(
            seats_in_use=usage.seats_in_use,
            max_seats_used=usage.max_seats_used,
            overage=usage.overage,
            reported_at=usage.reported_at,
            next_reconciliation_date=usage.next_reconciliation_date,
        )


@strawberry.type(
    name="InstanceContribution", description="One instance's part of the subscription's usage."
)
class InstanceContributionType:
    instance: InstanceNode = strawberry.field(description="The instance.")
    role: InstanceRole = strawberry.field(description="Its role, which the rule applies.")
    billable_users: int = strawberry.field(description="Billable users it last reported.")
    max_historical_users: int = strawberry.field(description="The highest count it reported.")
    counted_billable_users: int = strawberry.field(description="Of those, how many count now.")
    counted_max_users: int = strawberry.field(
        description="Of its highest count, how many count (the true-up input)."
    )
    reason: InstanceContributionReason = strawberry.field(description="Why they count, or not.")
    explanation: str = strawberry.field(description="The reason in words, with the allowance.")
    reported_at: datetime | None = strawberry.field(
        description="When its last seat link's figures are from; null without one."
    )


@strawberry.type(
    name="InstanceUsage",
    description="A self-managed subscription's usage as the fleet rule combines its instances.",
)
class InstanceUsageType:
    seats: int = strawberry.field(description="Seats of the current segment.")
    billable_users: int = strawberry.field(description="Counted billable users now (the sum).")
    max_seats_used: int = strawberry.field(
        description="The sum of every instance's counted highest count."
    )
    overage: int = strawberry.field(description="max(0, maxSeatsUsed - seats).")
    true_up_seats: int = strawberry.field(
        description="Seats a true-up (reconciliation or renewal) bills: the overage."
    )
    instances: list[InstanceContributionType] = strawberry.field(
        description="Every instance's contribution, oldest instance first, retired ones too."
    )


@strawberry.type(name="UsageReport", description="One seat-link report from an instance.")
class UsageReportNode(Node):
    _global_type = "UsageReport"
    billable_users: int = strawberry.field(description="Billable users at the time.")
    max_historical_users: int = strawberry.field(description="Highest user count in the term.")
    add_on_seats: JSON = strawberry.field(
        description="Assigned add-on seats by add-on name, as reported."
    )
    gitlab_version: str | None = strawberry.field(description="The instance's version.")
    hostname: str | None = strawberry.field(description="The instance's hostname.")
    reported_at: datetime = strawberry.field(description="When the report arrived.")
    source: UsageSource = strawberry.field(
        description="Seat link, or a row of an uploaded license usage file."
    )
    entity: strawberry.Private[usage_model.UsageReport]

    @strawberry.field(description="The subscription reported on.")
    def subscription(self, info: Info) -> SubscriptionNode | None:
        return load_then(  # type: ignore[return-value]
            info.context.loaders.subscriptions,
            self.entity.subscription_id,
            lambda s: subscription_node(s, info.context) if s else None,
        )


def usage_report_node(entity: usage_model.UsageReport) -> UsageReportNode:
    return UsageReportNode(
        billable_users=entity.billable_users,
        max_historical_users=entity.max_historical_users,
        add_on_seats=cast(JSON, entity.add_on_seats),
        gitlab_version=entity.gitlab_version,
        hostname=entity.hostname,
        reported_at=entity.reported_at,
        source=api_enum(UsageSource, entity.source),
        entity=entity,
    )
