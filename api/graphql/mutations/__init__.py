"""The root Mutation type: one module per mutation, each checked by scope here."""

from __future__ import annotations

import strawberry

from api.graphql.marketplaces import (
    delete_marketplace_offer,
    set_marketplace_offer,
    update_marketplace_offer,
)
from api.graphql.mutations.activate_subscription import (
    activate_subscription,
    cloud_activation_activate,
)
from api.graphql.mutations.cancel_license import cancel_license
from api.graphql.mutations.create_subscription import create_subscription
from api.graphql.mutations.dedicated import change_dedicated_tenant, retry_dedicated_tenant
from api.graphql.mutations.fleet import replace_instance, retire_instance, set_instance_role
from api.graphql.mutations.issue_offline_license import issue_offline_license
from api.graphql.mutations.link_namespace import link_namespace, unlink_namespace
from api.graphql.mutations.partners import (
    create_partner,
    transfer_subscription,
    update_partner,
)
from api.graphql.mutations.provision_events import (
    resolve_provision_event,
    retry_provision_event,
)
from api.graphql.mutations.report_usage import report_usage
from api.graphql.mutations.sandbox_clock import advance_test_clock
from api.graphql.mutations.subscription_changes import (
    cancel_subscription,
    change_subscription,
    renew_subscription,
    rotate_activation_code,
)
from api.graphql.mutations.trials import apply_trial, extend_trial, reactivate_trial
from api.graphql.mutations.upload_usage_file import upload_usage_file
from api.graphql.mutations.upsert_namespace import (
    order_namespace_name_update,
    report_namespace_usage,
    upsert_namespace,
)
from api.graphql.mutations.webhooks import (
    create_webhook_endpoint,
    delete_webhook_endpoint,
    resend_webhook_delivery,
    rotate_webhook_secret,
    update_webhook_endpoint,
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
    issue_offline_license = strawberry.mutation(
        resolver=issue_offline_license,
        description="The license file of an offline-cloud, legacy or Dedicated subscription.",
        extensions=needs(Resource.LICENSES, Access.WRITE),
    )
    link_namespace = strawberry.mutation(
        resolver=link_namespace,
        description="Give a GitLab.com subscription's plan to a top-level group (its owner or"
        " staff); relinking moves it, the old group reverts.",
        extensions=needs(Resource.NAMESPACES, Access.WRITE),
    )
    unlink_namespace = strawberry.mutation(
        resolver=unlink_namespace,
        description="Take the plan back from a group (staff); the group reverts.",
        extensions=needs(Resource.NAMESPACES, Access.WRITE),
    )
    upsert_namespace = strawberry.mutation(
        resolver=upsert_namespace,
        description="Create or update a namespace by its GitLab id (GitLab.com, staff).",
        extensions=needs(Resource.NAMESPACES, Access.WRITE),
    )
    order_namespace_name_update = strawberry.mutation(
        resolver=order_namespace_name_update,
        description="GitLab.com's rename of a linked group (protocol C11); its links stay.",
        extensions=needs(Resource.NAMESPACES, Access.WRITE),
    )
    report_namespace_usage = strawberry.mutation(
        resolver=report_namespace_usage,
        description="Record a namespace's usage: members, seats, minutes, storage (GitLab.com).",
        extensions=needs(Resource.NAMESPACES, Access.WRITE),
    )
    apply_trial = strawberry.mutation(
        resolver=apply_trial,
        description="Start a trial on a top-level group (its owner, GitLab.com or staff).",
        extensions=needs(Resource.TRIALS, Access.WRITE),
    )
    extend_trial = strawberry.mutation(
        resolver=extend_trial,
        description="Extend an active trial by its length, once (staff).",
        extensions=needs(Resource.TRIALS, Access.WRITE),
    )
    reactivate_trial = strawberry.mutation(
        resolver=reactivate_trial,
        description="Run an expired trial on a free group again from today, once (staff).",
        extensions=needs(Resource.TRIALS, Access.WRITE),
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
    retry_provision_event = strawberry.mutation(
        resolver=retry_provision_event,
        description="Staff: run a FAILED or DEAD ledger row again, due now, attempts counted"
        " from zero.",
        extensions=needs(Resource.PROVISION_EVENTS, Access.WRITE),
    )
    change_dedicated_tenant = strawberry.mutation(
        resolver=change_dedicated_tenant,
        description="Grow an ACTIVE Dedicated tenant's storage (it never shrinks) or set its"
        " expected users; the provisioner is sent the change (the tenant is CHANGING until it"
        " answers). Staff, the selling partner, or the customer's owners and admins unless a"
        " partner manages the subscription.",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
    retry_dedicated_tenant = strawberry.mutation(
        resolver=retry_dedicated_tenant,
        description="Staff: send a FAILED Dedicated tenant's step (provisioning, change or"
        " removal) to the provisioner again; the tenant returns to the state it failed in.",
        extensions=needs(Resource.PROVISION_EVENTS, Access.WRITE),
    )
    resolve_provision_event = strawberry.mutation(
        resolver=resolve_provision_event,
        description="Staff: close a FAILED or DEAD ledger row with a reason; no worker runs it"
        " again.",
        extensions=needs(Resource.PROVISION_EVENTS, Access.WRITE),
    )
    set_instance_role = strawberry.mutation(
        resolver=set_instance_role,
        description="Say what an instance is for (production, staging, Geo secondary…); the"
        " role decides whether its users count seats (docs/instances.md).",
        extensions=needs(Resource.LICENSES, Access.WRITE),
    )
    retire_instance = strawberry.mutation(
        resolver=retire_instance,
        description="Retire an instance: its users stop counting, and its next seat link"
        " receives an end key that expires on accessEndsOn.",
        extensions=needs(Resource.LICENSES, Access.WRITE),
    )
    replace_instance = strawberry.mutation(
        resolver=replace_instance,
        description="Move an instance to a new one (new instance id): the new one gets the"
        " normal key and the role, the old one's next seat link an end key.",
        extensions=needs(Resource.LICENSES, Access.WRITE),
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
    advance_test_clock = strawberry.mutation(
        resolver=advance_test_clock,
        description="Staff or a sandbox's owner: move a sandbox customer's test clock"
        " forwards, running on the way, in order, what time drives for that tenant (trials"
        " ending, ramp steps, renewals and expiries, reminder emails; docs/test-clock.md).",
        extensions=needs(Resource.CUSTOMERS, Access.WRITE),
    )
    upload_usage_file = strawberry.mutation(
        resolver=upload_usage_file,
        description="Record an offline instance's license usage file (GitLab's export),"
        " verified against the license whose key it carries; answers with a signed receipt.",
        extensions=needs(Resource.USAGE, Access.WRITE),
    )
    create_webhook_endpoint = strawberry.mutation(
        resolver=create_webhook_endpoint,
        description="Register a webhook endpoint (a customer's user for its customer, a"
        " partner for what it sold, staff for anyone or everything); the secret is shown once.",
        extensions=needs(Resource.WEBHOOKS, Access.WRITE),
    )
    update_webhook_endpoint = strawberry.mutation(
        resolver=update_webhook_endpoint,
        description="Change an endpoint's URL, event types, description or enabled flag.",
        extensions=needs(Resource.WEBHOOKS, Access.WRITE),
    )
    delete_webhook_endpoint = strawberry.mutation(
        resolver=delete_webhook_endpoint,
        description="Delete an endpoint; rows already recorded for it are skipped.",
        extensions=needs(Resource.WEBHOOKS, Access.WRITE),
    )
    create_partner = strawberry.mutation(
        resolver=create_partner,
        description="Register a partner organisation (staff).",
        extensions=needs(Resource.PARTNERS, Access.WRITE),
    )
    update_partner = strawberry.mutation(
        resolver=update_partner,
        description="Rename a partner or change its kind (staff).",
        extensions=needs(Resource.PARTNERS, Access.WRITE),
    )
    transfer_subscription = strawberry.mutation(
        resolver=transfer_subscription,
        description="Move a subscription between channels - direct and a partner, or between"
        " partners - now or at a later moment, with a reason (staff; audited).",
        extensions=needs(Resource.SUBSCRIPTIONS, Access.WRITE),
    )
    resend_webhook_delivery = strawberry.mutation(
        resolver=resend_webhook_delivery,
        description="Send a delivery again (any status): a new row with the same body and"
        " `webhook-id`, so receivers that had it drop it.",
        extensions=needs(Resource.WEBHOOKS, Access.WRITE),
    )
    rotate_webhook_secret = strawberry.mutation(
        resolver=rotate_webhook_secret,
        description="Give an endpoint a new secret (shown once); the old one also signs"
        " deliveries for the overlap.",
        extensions=needs(Resource.WEBHOOKS, Access.WRITE),
    )
    set_marketplace_offer = strawberry.mutation(
        resolver=set_marketplace_offer,
        description="Map a marketplace offer and plan to what it sells (replaces the mapping"
        " of the same marketplace, offer and plan); staff.",
        extensions=needs(Resource.MARKETPLACES, Access.WRITE),
    )
    update_marketplace_offer = strawberry.mutation(
        resolver=update_marketplace_offer,
        description="Change an offer mapping's plan, deployment, seats or term; staff.",
        extensions=needs(Resource.MARKETPLACES, Access.WRITE),
    )
    delete_marketplace_offer = strawberry.mutation(
        resolver=delete_marketplace_offer,
        description="Delete an offer mapping: later orders for it go DEAD as unknown; staff.",
        extensions=needs(Resource.MARKETPLACES, Access.WRITE),
    )
