"""The root Mutation type: one module per mutation, each checked by scope here."""

from __future__ import annotations

import strawberry

from api.graphql.mutations.activate_subscription import (
    activate_subscription,
    cloud_activation_activate,
)
from api.graphql.mutations.cancel_license import cancel_license
from api.graphql.mutations.create_subscription import create_subscription
from api.graphql.mutations.report_usage import report_usage
from api.graphql.mutations.subscription_changes import (
    cancel_subscription,
    change_subscription,
    renew_subscription,
    rotate_activation_code,
)
from api.graphql.permissions import needs
from domain.policy import Access, Resource


@strawberry.type(description="Everything Provision lets a caller change.")
class Mutation:
    create_subscription = strawberry.mutation(
        resolver=create_subscription,
        description="Record a sale: staff for anyone, a partner for its own end customers.",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
    cancel_subscription = strawberry.mutation(
        resolver=cancel_subscription,
        description="Cancel a subscription at period end (default) or now.",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
    renew_subscription = strawberry.mutation(
        resolver=renew_subscription,
        description="Add a term that starts when the current one ends.",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
    change_subscription = strawberry.mutation(
        resolver=change_subscription,
        description="Change the seats of the current or a future segment, or auto-renewal.",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
    rotate_activation_code = strawberry.mutation(
        resolver=rotate_activation_code,
        description="Give a self-managed subscription a new activation code (shown once).",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
    # No token needed: the activation code is the credential (failed attempts are limited).
    activate_subscription = strawberry.mutation(
        resolver=activate_subscription,
        description="An instance turns its activation code into a license (no token needed).",
    )
    cloud_activation_activate = strawberry.mutation(
        resolver=cloud_activation_activate,
        description="GitLab's activation mutation, answered like `activateSubscription`; the"
        " payload is never null and its errors are strings.",
    )
    cancel_license = strawberry.mutation(
        resolver=cancel_license,
        description="Issue a cancellation key for an online cloud license; the instance's next"
        " seat link receives it.",
        extensions=needs(Resource.LICENSES, Access.WRITE),
    )
    report_usage = strawberry.mutation(
        resolver=report_usage,
        description="A seat-link report (as `POST /api/v1/seat_links`): an instance's users,"
        " answered with a newer license key when there is one.",
        extensions=needs(Resource.USAGE, Access.WRITE),
    )
