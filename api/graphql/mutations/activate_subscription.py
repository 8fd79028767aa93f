"""activateSubscription, and GitLab's own cloudActivationActivate answered by the same use
case. No bearer token: the activation code is the credential, so failed attempts are limited
per code and per source address."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.loaders import Loaders
from api.graphql.types.mutation_error import MutationError, UserError
from api.graphql.types.nodes import (
    FutureSubscription,
    InstanceNode,
    LicenseNode,
    future_subscription_nodes,
    instance_node,
    license_node,
)
from auth.rate_limit import Limit
from domain.errors import ActivationCodeInvalid, DomainError
from domain.model.activation_code import hash_activation_code
from domain.model.future_subscription import future_subscriptions
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.activate_subscription import Activated, ActivateSubscription
from persistence.tenant_time import acting_at

CODE_FAILURES = 10
ADDRESS_FAILURES = 30


class RateLimited(DomainError):
    """Too many failed activations for this code or from this address."""

    code = "RATE_LIMITED"


@strawberry.input(description="An instance asking for its license.")
class ActivateSubscriptionInput:
    activation_code: str = strawberry.field(description="The 24-character code.")
    instance_identifier: str = strawberry.field(description="The instance's UUID.")
    hostname: str | None = strawberry.field(default=None, description="Its hostname.")
    gitlab_version: str | None = strawberry.field(default=None, description="Its version.")
    automated: bool = strawberry.field(
        default=False, description="Activated by the installer rather than by a person."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retry-safe: the same key returns the first result."
    )


@strawberry.input(description="GitLab's activation input (cloud licensing).")
class CloudActivationActivateInput:
    activation_code: str = strawberry.field(description="The 24-character code.")
    instance_identifier: str = strawberry.field(description="The instance's UUID.")
    automated: bool | None = strawberry.field(default=None, description="Installer-driven.")
    gitlab_version: str | None = strawberry.field(default=None, description="Its version.")
    hostname: str | None = strawberry.field(default=None, description="Its hostname.")


@strawberry.type(description="The instance's license, or why there is none.")
class ActivateSubscriptionPayload:
    license: LicenseNode | None = strawberry.field(description="The license issued.")
    license_key: str | None = strawberry.field(
        description="The license key to load; the same bytes while nothing in it changes."
    )
    instance: InstanceNode | None = strawberry.field(description="The activated instance.")
    future_subscriptions: list[FutureSubscription] = strawberry.field(
        description="Terms that start later (renewals already bought)."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="GitLab's activation answer; never null, errors as strings.")
class CloudActivationActivatePayload:
    license_key: str | None = strawberry.field(description="The license key to load.")
    future_subscriptions: list[FutureSubscription] = strawberry.field(
        description="Terms that start later."
    )
    errors: list[str] = strawberry.field(description="Empty on success; shown to the admin.")


def _future(activated: Activated) -> list[FutureSubscription]:
    return future_subscription_nodes(
        future_subscriptions(activated.subscription, activated.customer, activated.future_terms)
    )


async def _activate(info: Info, command: ActivateSubscription) -> Activated:
    """Run the use case behind the failed-attempt limits; on success the rest of the operation
    runs as the instance (the code proved it), so the payload can show its license."""
    ctx = info.context
    address = ctx.request.client.host if ctx.request and ctx.request.client else "unknown"
    limits = [
        Limit("activation_code", hash_activation_code(command.activation_code)[:64], CODE_FAILURES),
        Limit("activation_address", address, ADDRESS_FAILURES),
    ]
    commands = ctx.commands
    if await commands.failures.retry_after(limits) is not None:
        raise RateLimited("too many failed activation attempts; retry later")
    # A sandbox's subscription activates on its test clock (docs/test-clock.md).
    offset = timedelta(0)
    if commands.sandbox is not None:
        customer = await commands.sandbox.clocks.customer_of_activation_code(
            command.activation_code
        )
        offset = await commands.sandbox.offset_of_customer(customer)
    try:
        with acting_at(offset):
            activated = await commands.activate_subscription(command)
    except ActivationCodeInvalid:
        await commands.failures.record_failure(limits)
        raise
    if not ctx.principal.is_authenticated:
        ctx.principal = Principal(
            PrincipalKind.INSTANCE,
            subject=activated.instance.instance_identifier,
            subscription_id=activated.subscription.id,
            scopes=grantable(PrincipalKind.INSTANCE),
        )
        ctx.loaders = Loaders.build(ctx.read, ctx.principal)
    return activated


async def activate_subscription(
    info: Info,
    input: Annotated[
        ActivateSubscriptionInput, strawberry.argument(description="Code and instance.")
    ],
) -> ActivateSubscriptionPayload:
    command = ActivateSubscription(
        input.activation_code.strip(),
        input.instance_identifier,
        input.hostname,
        input.gitlab_version,
        input.automated,
        input.idempotency_key,
    )
    try:
        activated = await _activate(info, command)
    except DomainError as failure:
        return ActivateSubscriptionPayload(
            license=None,
            license_key=None,
            instance=None,
            future_subscriptions=[],
            errors=[UserError.from_domain(failure)],
        )
    view = await info.context.loaders.licenses.load(activated.license.id)
    return ActivateSubscriptionPayload(
        license=license_node(view) if view is not None else None,
        license_key=activated.license.license_key,
        instance=instance_node(activated.instance),
        future_subscriptions=_future(activated),
        errors=[],
    )


async def cloud_activation_activate(
    info: Info,
    input: Annotated[
        CloudActivationActivateInput, strawberry.argument(description="GitLab's input.")
    ],
) -> CloudActivationActivatePayload:
    command = ActivateSubscription(
        input.activation_code.strip(),
        input.instance_identifier,
        input.hostname,
        input.gitlab_version,
        bool(input.automated),
    )
    try:
        activated = await _activate(info, command)
    except DomainError as failure:
        # GitLab's UI matches substrings of these ("invalid activation code", "without cloud
        # compatible subscription"); the domain messages carry them.
        return CloudActivationActivatePayload(
            license_key=None, future_subscriptions=[], errors=[failure.message]
        )
    return CloudActivationActivatePayload(
        license_key=activated.license.license_key,
        future_subscriptions=_future(activated),
        errors=[],
    )
