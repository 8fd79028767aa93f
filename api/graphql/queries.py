"""The root Query type: lists are keyset connections, single objects are nullable lookups."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from api.graphql.cloud_connector import cloud_connector_access
from api.graphql.context import Info
from api.graphql.enums import Deployment, Plan, SubscriptionStatus
from api.graphql.errors import api_error, page_size
from api.graphql.marketplaces import marketplace_inbox, marketplace_node, marketplace_offers
from api.graphql.mutations.trials import trial_eligibility
from api.graphql.namespace_eligibility import namespace_eligibility
from api.graphql.partner_queries import partner, partners
from api.graphql.permissions import needs, signed_in
from api.graphql.prefetch import (
    node_fields,
    prefetch_customers,
    prefetch_namespaces,
    prefetch_subscriptions,
)
from api.graphql.reports import StaffReports, staff_reports
from api.graphql.sorting import (
    CUSTOMERS,
    LICENSES,
    NAMESPACES,
    SUBSCRIPTIONS,
    USAGE_REPORTS,
    Before,
    CustomerSort,
    Last,
    LicenseSort,
    NamespaceSort,
    SubscriptionSort,
    UsageReportSort,
    paging,
)
from api.graphql.staff_queries import audit_entries, provision_event_summary_field, provision_events
from api.graphql.types.audit import audit_entry_node
from api.graphql.types.node import Connection, Node, build_connection
from api.graphql.types.nodes import (
    CustomerNode,
    InstanceNode,
    LicenseNode,
    NamespaceNode,
    SubscriptionNode,
    TrialNode,
    UsageReportNode,
    customer_node,
    dedicated_tenant_node,
    instance_node,
    license_node,
    namespace_node,
    subscription_node,
    trial_node,
    usage_report_node,
)
from api.graphql.types.provision_event import provision_event_node
from api.graphql.types.viewer import Viewer, viewer_of
from api.graphql.types.webhook import (
    WebhookEndpointNode,
    webhook_delivery_node,
    webhook_endpoint_node,
)
from api.ids import parse_cursor, parse_global_id, parse_typed_id
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.model.enums import Deployment as DomainDeployment
from domain.model.enums import Plan as DomainPlan
from domain.model.enums import SubscriptionStatus as DomainStatus
from domain.model.subscription import is_subscription_name
from domain.policy import Access, Resource, require_scope
from domain.use_cases.fleet import stale_before
from persistence.read_models import SubscriptionFilter

First = Annotated[
    int | None, strawberry.argument(description="Page size, 0 to 100 (20 when omitted).")
]
After = Annotated[
    str | None, strawberry.argument(description="The `endCursor` of the previous page.")
]
MAX_NODES = 100


def _id_arg(value: str | None, type_name: str, name: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return parse_typed_id(value, type_name, path=(name,))
    except DomainError as error:
        raise api_error(error) from None


def _cursor(after: str | None) -> uuid.UUID | None:
    try:
        return parse_cursor(after)
    except DomainError as error:
        raise api_error(error) from None


_NODE_RESOURCES = {
    "Subscription": Resource.SUBSCRIPTIONS,
    "Customer": Resource.CUSTOMERS,
    "Namespace": Resource.NAMESPACES,
    "License": Resource.LICENSES,
    "Instance": Resource.INSTANCES,
    "Trial": Resource.TRIALS,
    "UsageReport": Resource.USAGE,
    "ProvisionEvent": Resource.PROVISION_EVENTS,
    "AuditEntry": Resource.AUDIT,
    "WebhookEndpoint": Resource.WEBHOOKS,
    "MarketplaceOffer": Resource.MARKETPLACES,
    "MarketplaceInboxEntry": Resource.MARKETPLACES,
    "WebhookDelivery": Resource.WEBHOOKS,
    "DedicatedTenant": Resource.SUBSCRIPTIONS,
}


async def resolve_node(info: Info, value: str) -> Node | None:
    """Any object by its global ID; None when it does not exist or is not visible."""
    try:
        type_name, local_id = parse_global_id(value)
    except DomainError as error:
        raise api_error(error) from None
    loaders, today = info.context.loaders, info.context.today
    resource = _NODE_RESOURCES.get(type_name)
    if resource is None:
        return None
    try:
        require_scope(info.context.principal, resource, Access.READ)
    except DomainError as refused:
        raise api_error(refused) from None
    if type_name == "Subscription":
        sub = await loaders.subscriptions.load(local_id)
        return subscription_node(sub, info.context) if sub else None
    if type_name == "Customer":
        customer = await loaders.customers.load(local_id)
        return customer_node(customer) if customer else None
    if type_name == "Namespace":
        namespace = await loaders.namespaces.load(local_id)
        return namespace_node(namespace, today) if namespace else None
    if type_name == "License":
        lic = await loaders.licenses.load(local_id)
        return license_node(lic) if lic else None
    if type_name == "Instance":
        instance = await loaders.instances.load(local_id)
        return instance_node(instance) if instance else None
    if type_name == "Trial":
        trial = await loaders.trials.load(local_id)
        return trial_node(trial, today) if trial else None
    if type_name == "UsageReport":
        report = await loaders.usage_reports.load(local_id)
        return usage_report_node(report) if report else None
    if type_name == "ProvisionEvent":
        event = await loaders.provision_events.load(local_id)
        return provision_event_node(event) if event else None
    if type_name == "AuditEntry":
        entry = await loaders.audit_entries.load(local_id)
        return audit_entry_node(entry) if entry else None
    if type_name == "DedicatedTenant":
        tenant = await loaders.dedicated_tenants.load(local_id)
        return dedicated_tenant_node(tenant) if tenant else None
    if type_name == "WebhookEndpoint":
        try:
            endpoint = await info.context.commands.webhooks.get(info.context.principal, local_id)
        except NotFound:
            return None
        return webhook_endpoint_node(endpoint)
    if type_name in ("MarketplaceOffer", "MarketplaceInboxEntry"):
        return await marketplace_node(info, type_name, local_id)
    if type_name == "WebhookDelivery":
        delivery = await info.context.read.webhook_delivery(local_id)
        if delivery is None:
            return None
        try:  # visible with its endpoint, and only then
            await info.context.commands.webhooks.get(info.context.principal, delivery.endpoint_id)
        except NotFound:
            return None
        return webhook_delivery_node(delivery)
    return None


@strawberry.type(description="Everything Provision lets a caller read.")
class Query:
    trial_eligibility = strawberry.field(
        resolver=trial_eligibility,
        description="Per namespace and trial type: eligible, or the reason why not.",
        extensions=needs(Resource.TRIALS),
    )
    namespace_eligibility = strawberry.field(
        resolver=namespace_eligibility,
        description="GitLab.com's `FilterEligibleNamespaces`: of the groups sent, those that"
        " may make the purchase, each with its active subscription (protocol C7).",
        extensions=needs(Resource.NAMESPACES),
    )
    # No token needed: the license key is the credential (as on the seat link).
    cloud_connector_access = strawberry.field(
        resolver=cloud_connector_access,
        description="GitLab's Cloud Connector sync: for a current online cloud license, a"
        " service token and the services it may reach (no token needed).",
    )

    @strawberry.field(description="Who is calling, and what they may see.")
    def viewer(self, info: Info) -> Viewer:
        return viewer_of(info.context.principal)

    @strawberry.field(description="Any object by its global ID.", extensions=signed_in())
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")],
    ) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(
        description="Several objects by global ID, in the order asked (null if unseen).",
        extensions=signed_in(),
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Up to 100 global IDs.")
        ],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise api_error(ValidationFailed(f"at most {MAX_NODES} ids per call", path=("ids",)))
        return [await resolve_node(info, value) for value in ids]

    @strawberry.field(
        description="Customers, oldest first unless sorted.", extensions=needs(Resource.CUSTOMERS)
    )
    async def customers(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        sort: Annotated[
            CustomerSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
    ) -> Connection[CustomerNode]:
        ctx = info.context
        pages = paging(CUSTOMERS, first=first, after=after, last=last, before=before, sort=sort)
        page = await ctx.read.customers(ctx.principal, pages.request)
        await prefetch_customers(info, node_fields(info), page.items)
        return build_connection(
            page,
            customer_node,
            after_given=after is not None,
            count=lambda: ctx.read.count_customers(ctx.principal),
            write_cursor=pages.cursor,
        )

    @strawberry.field(
        description="Subscriptions, oldest first unless sorted, optionally filtered.",
        extensions=needs(Resource.SUBSCRIPTIONS),
    )
    async def subscriptions(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        sort: Annotated[
            SubscriptionSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
        status: Annotated[
            SubscriptionStatus | None, strawberry.argument(description="Only this status.")
        ] = None,
        deployment: Annotated[
            Deployment | None, strawberry.argument(description="Only this deployment.")
        ] = None,
        plan: Annotated[Plan | None, strawberry.argument(description="Only this plan.")] = None,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this customer's.")
        ] = None,
    ) -> Connection[SubscriptionNode]:
        ctx = info.context
        pages = paging(SUBSCRIPTIONS, first=first, after=after, last=last, before=before, sort=sort)
        flt = SubscriptionFilter(
            status=DomainStatus[status.name] if status else None,
            deployment=DomainDeployment[deployment.name] if deployment else None,
            plan=DomainPlan[plan.name] if plan else None,
            customer_id=_id_arg(customer_id, "Customer", "customerId"),
        )
        today = ctx.today
        page = await ctx.read.subscriptions(ctx.principal, flt, today, pages.request)
        await prefetch_subscriptions(info, node_fields(info), page.items)
        return build_connection(
            page,
            lambda s: subscription_node(s, ctx),
            after_given=after is not None,
            count=lambda: ctx.read.count_subscriptions(ctx.principal, flt, today),
            write_cursor=pages.cursor,
        )

    @strawberry.field(
        description="One subscription by global ID or by name (A-S00012345).",
        extensions=needs(Resource.SUBSCRIPTIONS),
    )
    async def subscription(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global ID.")
        ] = None,
        name: Annotated[str | None, strawberry.argument(description="Its name.")] = None,
    ) -> SubscriptionNode | None:
        ctx = info.context
        if (id is None) == (name is None):
            raise api_error(ValidationFailed("give exactly one of `id` and `name`", path=("id",)))
        if id is not None:
            sub = await ctx.loaders.subscriptions.load(_id_arg(id, "Subscription", "id"))  # type: ignore[arg-type]
        else:
            assert name is not None
            if not is_subscription_name(name):
                raise api_error(
                    ValidationFailed(f"{name!r} is not a name like A-S00012345", path=("name",))
                )
            sub = await ctx.read.subscription_by_name(ctx.principal, name)
        return subscription_node(sub, ctx) if sub else None

    @strawberry.field(
        description="GitLab.com namespaces, oldest first unless sorted.",
        extensions=needs(Resource.NAMESPACES),
    )
    async def namespaces(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        sort: Annotated[
            NamespaceSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
    ) -> Connection[NamespaceNode]:
        ctx = info.context
        pages = paging(NAMESPACES, first=first, after=after, last=last, before=before, sort=sort)
        page = await ctx.read.namespaces(ctx.principal, pages.request)
        await prefetch_namespaces(info, node_fields(info), page.items)
        today = ctx.today
        return build_connection(
            page,
            lambda n: namespace_node(n, today),
            after_given=after is not None,
            count=lambda: ctx.read.count_namespaces(ctx.principal),
            write_cursor=pages.cursor,
        )

    @strawberry.field(
        description="One namespace by global ID or by its GitLab id.",
        extensions=needs(Resource.NAMESPACES),
    )
    async def namespace(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global ID.")
        ] = None,
        gitlab_id: Annotated[
            int | None, strawberry.argument(description="Its id on GitLab.com.")
        ] = None,
    ) -> NamespaceNode | None:
        ctx = info.context
        if (id is None) == (gitlab_id is None):
            raise api_error(
                ValidationFailed("give exactly one of `id` and `gitlabId`", path=("id",))
            )
        if id is not None:
            namespace = await ctx.loaders.namespaces.load(_id_arg(id, "Namespace", "id"))  # type: ignore[arg-type]
        else:
            assert gitlab_id is not None
            namespace = await ctx.read.namespace_by_gitlab_id(ctx.principal, gitlab_id)
        return namespace_node(namespace, ctx.today) if namespace else None

    @strawberry.field(
        description="Licenses, oldest first unless sorted, optionally of one subscription.",
        extensions=needs(Resource.LICENSES),
    )
    async def licenses(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        sort: Annotated[
            LicenseSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
        subscription_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this subscription's.")
        ] = None,
    ) -> Connection[LicenseNode]:
        ctx = info.context
        pages = paging(LICENSES, first=first, after=after, last=last, before=before, sort=sort)
        sub_id = _id_arg(subscription_id, "Subscription", "subscriptionId")
        page = await ctx.read.licenses(ctx.principal, sub_id, pages.request)
        return build_connection(
            page,
            license_node,
            after_given=after is not None,
            count=lambda: ctx.read.count_licenses(ctx.principal, sub_id),
            write_cursor=pages.cursor,
        )

    @strawberry.field(description="One license by global ID.", extensions=needs(Resource.LICENSES))
    async def license(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its global ID.")],
    ) -> LicenseNode | None:
        found = await info.context.loaders.licenses.load(_id_arg(id, "License", "id"))  # type: ignore[arg-type]
        return license_node(found) if found else None

    @strawberry.field(
        description="Activated instances, oldest first, optionally of one subscription.",
        extensions=needs(Resource.INSTANCES),
    )
    async def instances(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        subscription_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this subscription's.")
        ] = None,
        stopped_syncing: Annotated[
            bool | None,
            strawberry.argument(
                description="True: only instances in service that sent no seat link for"
                " PROVISION_INSTANCE_STALE_DAYS days (docs/instances.md)."
            ),
        ] = None,
    ) -> Connection[InstanceNode]:
        ctx = info.context
        size, cursor = page_size(first), _cursor(after)
        sub_id = _id_arg(subscription_id, "Subscription", "subscriptionId")
        silent_since = (
            stale_before(ctx.clock.now(), ctx.commands.instance_stale_days)
            if stopped_syncing
            else None
        )
        page = await ctx.read.instances(ctx.principal, sub_id, size, cursor, silent_since)
        return build_connection(
            page,
            instance_node,
            after_given=after is not None,
            count=lambda: ctx.read.count_instances(ctx.principal, sub_id, silent_since),
        )

    @strawberry.field(
        description="Trials, oldest first, optionally of one namespace.",
        extensions=needs(Resource.TRIALS),
    )
    async def trials(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        namespace_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this namespace's.")
        ] = None,
    ) -> Connection[TrialNode]:
        ctx = info.context
        size, cursor = page_size(first), _cursor(after)
        ns_id = _id_arg(namespace_id, "Namespace", "namespaceId")
        page = await ctx.read.trials(ctx.principal, ns_id, size, cursor)
        today = ctx.today
        return build_connection(
            page,
            lambda t: trial_node(t, today),
            after_given=after is not None,
            count=lambda: ctx.read.count_trials(ctx.principal, ns_id),
        )

    @strawberry.field(
        description="Seat-link usage reports, oldest first unless sorted, optionally of one"
        " subscription.",
        extensions=needs(Resource.USAGE),
    )
    async def usage_reports(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        sort: Annotated[
            UsageReportSort | None,
            strawberry.argument(description="The order (CREATED_AT ASC when omitted)."),
        ] = None,
        subscription_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this subscription's.")
        ] = None,
    ) -> Connection[UsageReportNode]:
        ctx = info.context
        pages = paging(USAGE_REPORTS, first=first, after=after, last=last, before=before, sort=sort)
        sub_id = _id_arg(subscription_id, "Subscription", "subscriptionId")
        page = await ctx.read.usage_reports(ctx.principal, sub_id, pages.request)
        return build_connection(
            page,
            usage_report_node,
            after_given=after is not None,
            count=lambda: ctx.read.count_usage_reports(ctx.principal, sub_id),
            write_cursor=pages.cursor,
        )

    @strawberry.field(
        description="Webhook endpoints the caller sees (its own; staff all), oldest first.",
        extensions=needs(Resource.WEBHOOKS),
    )
    async def webhook_endpoints(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[WebhookEndpointNode]:
        ctx = info.context
        size, cursor = page_size(first), _cursor(after)
        page = await ctx.read.webhook_endpoints(ctx.principal, size, cursor)
        return build_connection(
            page,
            webhook_endpoint_node,
            after_given=after is not None,
            count=lambda: ctx.read.count_webhook_endpoints(ctx.principal),
        )

    partners = strawberry.field(
        resolver=partners,
        description="Partner organisations by id: staff every one, a partner itself.",
        extensions=needs(Resource.PARTNERS),
    )
    partner = strawberry.field(
        resolver=partner,
        description="A partner by id (null when it does not exist or is not the caller's).",
        extensions=needs(Resource.PARTNERS),
    )
    provision_events = strawberry.field(
        resolver=provision_events,
        description="Provisioning ledger rows, newest first unless sorted, optionally filtered"
        " (staff).",
        extensions=needs(Resource.PROVISION_EVENTS),
    )
    provision_event_summary = strawberry.field(
        resolver=provision_event_summary_field,
        description="The ledger at a glance: counts by status and kind, the oldest due row's"
        " wait (staff).",
        extensions=needs(Resource.PROVISION_EVENTS),
    )
    marketplace_offers = strawberry.field(
        resolver=marketplace_offers,
        description="The marketplace offer mapping, oldest first (staff).",
        extensions=needs(Resource.MARKETPLACES),
    )
    marketplace_inbox = strawberry.field(
        resolver=marketplace_inbox,
        description="Events the marketplaces sent, newest first, optionally filtered (staff).",
        extensions=needs(Resource.MARKETPLACES),
    )
    audit_entries = strawberry.field(
        resolver=audit_entries,
        description="The audit trail, newest first, optionally filtered (staff).",
        extensions=needs(Resource.AUDIT),
    )
    staff_reports: StaffReports = strawberry.field(
        resolver=staff_reports,
        description="Reports for the provisioning and support teams, one query each (staff).",
        extensions=needs(Resource.REPORTS),
    )
