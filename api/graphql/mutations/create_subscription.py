"""createSubscription: a sale by staff or a partner; self-managed ones get an activation code."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import Channel, Deployment, LicensingMode, MaintenanceWindow, Plan
from api.graphql.mutations.outcome import outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import SubscriptionNode, subscription_node
from api.ids import parse_typed_id
from domain.model import dedicated
from domain.model import enums as model
from domain.model.dedicated import TenantFacts
from domain.use_cases.create_subscription import (
    CreateSubscription,
    NewCustomer,
    SegmentSpec,
)


@strawberry.input(description="A stretch of a term with its own seat count.")
class SegmentInput:
    start_date: datetime.date = strawberry.field(description="First day (inclusive).")
    end_date: datetime.date = strawberry.field(description="End (exclusive): the next starts here.")
    seats: int = strawberry.field(description="Seats during this segment, at least 1.")


@strawberry.input(description="A contract period: one or more consecutive segments (a ramp).")
class TermInput:
    segments: list[SegmentInput] = strawberry.field(description="In date order, consecutive.")


@strawberry.input(description="A customer created with the subscription.")
class NewCustomerInput:
    company: str = strawberry.field(description="The company's name.")
    contact_name: str = strawberry.field(description="Who receives the emails.")
    contact_email: str = strawberry.field(description="Where the emails go.")


@strawberry.input(
    description="A GitLab Dedicated tenant's facts, as the customer gives them before onboarding."
)
class DedicatedTenantInput:
    expected_users: int = strawberry.field(description="Expected users, at least 1.")
    storage_gib: int = strawberry.field(description="Initial repository storage in GiB.")
    primary_region: str = strawberry.field(description="An AWS region, e.g. `eu-west-1`.")
    onboarding_contacts: list[str] = strawberry.field(
        description="1 to 10 email addresses: who completes onboarding (they are invited)."
    )
    maintenance_window: MaintenanceWindow = strawberry.field(
        description="The weekly maintenance window."
    )
    secondary_region: str | None = strawberry.field(
        default=None, description="The disaster-recovery region (differs from the primary)."
    )
    bring_your_own_key: bool = strawberry.field(
        default=False, description="The customer brings their own KMS keys (permanent)."
    )
    geo_migration: bool = strawberry.field(
        default=False, description="Migrate an existing self-managed instance with Geo."
    )
    hosted_runners: list[str] = strawberry.field(
        default_factory=list, description="Hosted runner types, e.g. `linux-small-amd64`."
    )

    def to_facts(self) -> TenantFacts:
        return TenantFacts(
            expected_users=self.expected_users,
            storage_gib=self.storage_gib,
            primary_region=self.primary_region,
            secondary_region=self.secondary_region,
            onboarding_contacts=tuple(self.onboarding_contacts),
            maintenance_window=dedicated.MaintenanceWindow[self.maintenance_window.name],
            bring_your_own_key=self.bring_your_own_key,
            geo_migration=self.geo_migration,
            hosted_runners=tuple(self.hosted_runners),
        )


@strawberry.input(description="What was sold, to whom, and how.")
class CreateSubscriptionInput:
    deployment: Deployment = strawberry.field(description="Where the product runs.")
    plan: Plan = strawberry.field(description="PREMIUM or ULTIMATE.")
    term: TermInput = strawberry.field(description="The first term and its segments.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing customer (or give `newCustomer`)."
    )
    new_customer: NewCustomerInput | None = strawberry.field(
        default=None, description="A new customer (or give `customerId`)."
    )
    licensing_mode: LicensingMode | None = strawberry.field(
        default=None,
        description="Self-managed and Dedicated only; ONLINE_CLOUD (OFFLINE_CLOUD for Dedicated)"
        " when omitted.",
    )
    max_instances: int = strawberry.field(
        default=1, description="Distinct instances that may activate (self-managed)."
    )
    channel: Channel = strawberry.field(
        default=Channel.SALES, description="How it was sold; partners use RESELLER/MARKETPLACE."
    )
    partner_id: str | None = strawberry.field(
        default=None, description="The partner who sold it (staff only; a partner is itself)."
    )
    auto_renew: bool = strawberry.field(default=True, description="Renew at the end of term.")
    reconciliation_enabled: bool = strawberry.field(
        default=False, description="Quarterly seat reconciliation."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retry-safe: the same key returns the first result."
    )
    dedicated: DedicatedTenantInput | None = strawberry.field(
        default=None,
        description="DEDICATED only: the tenant's facts. Given, the order starts the tenant's"
        " lifecycle (invitation, provisioning, license) with no manual step.",
    )


@strawberry.type(description="The new subscription, or why there is none.")
class CreateSubscriptionPayload:
    subscription: SubscriptionNode | None = strawberry.field(description="What was created.")
    activation_code: str | None = strawberry.field(
        description="Self-managed only, shown once (stored hashed); null on an idempotent"
        " replay - rotate the code if it was lost."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


def to_command(data: CreateSubscriptionInput) -> CreateSubscription:
    customer_id = (
        parse_typed_id(data.customer_id, "Customer", path=("customerId",))
        if data.customer_id is not None
        else None
    )
    new = data.new_customer
    return CreateSubscription(
        deployment=model.Deployment[data.deployment.name],
        plan=model.Plan[data.plan.name],
        segments=tuple(SegmentSpec(s.start_date, s.end_date, s.seats) for s in data.term.segments),
        customer_id=customer_id,
        new_customer=NewCustomer(new.company, new.contact_name, new.contact_email) if new else None,
        licensing_mode=model.LicensingMode[data.licensing_mode.name]
        if data.licensing_mode
        else None,
        max_instances=data.max_instances,
        channel=model.Channel[data.channel.name],
        partner_id=data.partner_id,
        auto_renew=data.auto_renew,
        reconciliation_enabled=data.reconciliation_enabled,
        idempotency_key=data.idempotency_key,
        dedicated=data.dedicated.to_facts() if data.dedicated else None,
    )


async def create_subscription(
    info: Info,
    input: Annotated[CreateSubscriptionInput, strawberry.argument(description="The sale.")],
) -> CreateSubscriptionPayload:
    ctx = info.context
    created, errors = await outcome(
        lambda: ctx.commands.create_subscription(ctx.principal, to_command(input))
    )
    if created is None:
        return CreateSubscriptionPayload(subscription=None, activation_code=None, errors=errors)
    return CreateSubscriptionPayload(
        subscription=subscription_node(created.subscription, ctx),
        activation_code=created.activation_code,
        errors=[],
    )
