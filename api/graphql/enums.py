"""GraphQL enums: the domain's vocabularies with descriptions. ``api_enum`` converts by name.

Each enum is written out (its descriptions are the API reference) and mirrors the domain's
member for member; ``vocabulary_gaps`` says where it does not, and the schema is not built
while it does not (a domain error without an ``ErrorCode`` would reach clients as INTERNAL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum
from typing import TypeVar

import strawberry

from domain.errors import DomainError
from domain.model import (
    channel_policy,
    channel_transfer,
    dedicated,
    fleet,
    marketplace,
    partner,
    usage,
    webhook,
)
from domain.model import enums as model
from domain.model.audit import SYSTEM_ACTOR
from domain.model.provision_event import ProvisionKind, ProvisionStatus
from domain.principal import PrincipalKind as DomainPrincipalKind

E = TypeVar("E", bound=Enum)


def api_enum(enum_type: type[E], member: Enum) -> E:
    """The GraphQL member with the same name as a domain member."""
    return enum_type[member.name]


@strawberry.enum(description="A product tier a subscription sells.")
class Plan(Enum):
    FREE = strawberry.enum_value("FREE", description="The free tier; never sold as a subscription.")
    PREMIUM = strawberry.enum_value("PREMIUM", description="The Premium tier.")
    ULTIMATE = strawberry.enum_value("ULTIMATE", description="The Ultimate tier.")


@strawberry.enum(description="The plan code GitLab.com shows on a namespace, trials included.")
class NamespacePlan(Enum):
    FREE = strawberry.enum_value("FREE", description="No paid plan.")
    PREMIUM = strawberry.enum_value("PREMIUM", description="Paid Premium.")
    ULTIMATE = strawberry.enum_value("ULTIMATE", description="Paid Ultimate.")
    ULTIMATE_TRIAL = strawberry.enum_value(
        "ULTIMATE_TRIAL", description="An Ultimate trial on a free group."
    )
    ULTIMATE_TRIAL_PAID_CUSTOMER = strawberry.enum_value(
        "ULTIMATE_TRIAL_PAID_CUSTOMER",
        description="An Ultimate trial on a paid Premium group; it reverts to Premium.",
    )


@strawberry.enum(description="Where the product runs for the customer.")
class Deployment(Enum):
    GITLAB_COM = strawberry.enum_value(
        "GITLAB_COM", description="SaaS: a GitLab.com top-level group gets the plan."
    )
    SELF_MANAGED = strawberry.enum_value(
        "SELF_MANAGED", description="The customer's own instance, activated with a code."
    )
    DEDICATED = strawberry.enum_value(
        "DEDICATED", description="A single-tenant instance run for the customer."
    )


@strawberry.enum(description="How a subscription was sold.")
class Channel(Enum):
    WEB_DIRECT = strawberry.enum_value("WEB_DIRECT", description="Bought in the customer portal.")
    SALES = strawberry.enum_value("SALES", description="Sold by our sales team.")
    RESELLER = strawberry.enum_value("RESELLER", description="Sold by a reseller partner.")
    MARKETPLACE = strawberry.enum_value(
        "MARKETPLACE", description="Sold through a cloud marketplace partner."
    )


@strawberry.enum(description="How a self-managed instance receives its license.")
class LicensingMode(Enum):
    ONLINE_CLOUD = strawberry.enum_value(
        "ONLINE_CLOUD", description="Activated with a code, synced daily (seat link)."
    )
    OFFLINE_CLOUD = strawberry.enum_value(
        "OFFLINE_CLOUD", description="A cloud license delivered as a file, usage sent by email."
    )
    LEGACY = strawberry.enum_value("LEGACY", description="A license file, no sync.")


@strawberry.enum(description="A subscription's status, derived from its dates and cancellation.")
class SubscriptionStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="The first term has not started.")
    ACTIVE = strawberry.enum_value("ACTIVE", description="Today falls within a term.")
    EXPIRED = strawberry.enum_value("EXPIRED", description="The last term has ended.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled with immediate effect.")


@strawberry.enum(
    description="What a self-managed instance is for; it decides whether its users count seats"
    " (docs/instances.md)."
)
class InstanceRole(Enum):
    PRODUCTION = strawberry.enum_value(
        "PRODUCTION", description="The instance people work on: every billable user counts."
    )
    STAGING = strawberry.enum_value(
        "STAGING",
        description="A pre-production copy: free up to the subscription's seats, users beyond"
        " count.",
    )
    DISASTER_RECOVERY = strawberry.enum_value(
        "DISASTER_RECOVERY",
        description="A standby that takes over when production fails: adds no seats.",
    )
    GEO_SECONDARY = strawberry.enum_value(
        "GEO_SECONDARY", description="A Geo replica of a primary: mirrors its users, adds no seats."
    )
    TEST = strawberry.enum_value("TEST", description="A test installation: counted like staging.")


@strawberry.enum(description="Why an instance's users count against the seats, or do not.")
class InstanceContributionReason(Enum):
    COUNTED = strawberry.enum_value("COUNTED", description="Production: all its users count.")
    REPLICA = strawberry.enum_value(
        "REPLICA", description="A Geo secondary or disaster-recovery standby: none counts."
    )
    WITHIN_ALLOWANCE = strawberry.enum_value(
        "WITHIN_ALLOWANCE", description="Staging or test within its allowance: none counts."
    )
    BEYOND_ALLOWANCE = strawberry.enum_value(
        "BEYOND_ALLOWANCE",
        description="Staging or test beyond its allowance: the users beyond it count.",
    )
    RETIRED = strawberry.enum_value(
        "RETIRED", description="Retired or replaced: its users moved on, none counts."
    )
    NO_REPORT = strawberry.enum_value("NO_REPORT", description="No seat link yet.")


@strawberry.enum(description="The kinds of trial.")
class TrialType(Enum):
    ULTIMATE = strawberry.enum_value("ULTIMATE", description="Ultimate on a free group.")
    ULTIMATE_ON_PREMIUM = strawberry.enum_value(
        "ULTIMATE_ON_PREMIUM", description="Ultimate on a paid Premium group."
    )
    DUO_ENTERPRISE = strawberry.enum_value(
        "DUO_ENTERPRISE", description="The Duo Enterprise add-on."
    )


@strawberry.enum(description="Whether a trial covers today.")
class TrialStatus(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="The trial covers today.")
    EXPIRED = strawberry.enum_value("EXPIRED", description="The trial has ended.")


@strawberry.enum(description="What an add-on adds to a subscription.")
class AddOnKind(Enum):
    COMPUTE_MINUTES = strawberry.enum_value(
        "COMPUTE_MINUTES", description="Extra CI/CD compute minutes (quantity in minutes)."
    )
    STORAGE_GB = strawberry.enum_value("STORAGE_GB", description="Extra storage (in GB).")
    DUO_PRO = strawberry.enum_value("DUO_PRO", description="Duo Pro seats.")
    DUO_ENTERPRISE = strawberry.enum_value("DUO_ENTERPRISE", description="Duo Enterprise seats.")


@strawberry.enum(description="Where a provisioning ledger row is in its life.")
class ProvisionEventStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Waiting for a worker (due or not).")
    RUNNING = strawberry.enum_value("RUNNING", description="A worker holds it under a lease.")
    SUCCEEDED = strawberry.enum_value("SUCCEEDED", description="Done.")
    FAILED = strawberry.enum_value(
        "FAILED", description="The last attempt failed; it runs again at `nextAttemptAt`."
    )
    DEAD = strawberry.enum_value(
        "DEAD", description="Every attempt failed; an alert went out. Staff retry or resolve it."
    )
    RESOLVED = strawberry.enum_value(
        "RESOLVED", description="Closed by staff with a reason; no worker runs it again."
    )


@strawberry.enum(
    description="What a webhook endpoint can hear; the payload's `type` is the value shown"
    " (docs/webhooks.md)."
)
class WebhookEventType(Enum):
    SUBSCRIPTION_CREATED = strawberry.enum_value(
        "SUBSCRIPTION_CREATED",
        description="`subscription.created`: a sale was recorded.",
    )
    SUBSCRIPTION_CHANGED = strawberry.enum_value(
        "SUBSCRIPTION_CHANGED",
        description="`subscription.changed`: seats or auto-renew changed.",
    )
    SUBSCRIPTION_RENEWED = strawberry.enum_value(
        "SUBSCRIPTION_RENEWED",
        description="`subscription.renewed`: a new term was added.",
    )
    SUBSCRIPTION_CANCELLED = strawberry.enum_value(
        "SUBSCRIPTION_CANCELLED",
        description="`subscription.cancelled`: cancelled now or at period end.",
    )
    LICENSE_ISSUED = strawberry.enum_value(
        "LICENSE_ISSUED",
        description="`license.issued`: a new license was signed (never the key).",
    )
    INSTANCE_ACTIVATED = strawberry.enum_value(
        "INSTANCE_ACTIVATED",
        description="`instance.activated`: a self-managed instance activated the subscription.",
    )
    TRIAL_STARTED = strawberry.enum_value(
        "TRIAL_STARTED",
        description="`trial.started`: a namespace or self-managed trial began.",
    )
    TRIAL_ENDED = strawberry.enum_value(
        "TRIAL_ENDED",
        description="`trial.ended`: a namespace trial ended and its plan reverts.",
    )
    NAMESPACE_PROVISIONED = strawberry.enum_value(
        "NAMESPACE_PROVISIONED",
        description="`namespace.provisioned`: GitLab.com took a namespace's plan.",
    )
    PROVISIONING_FAILED = strawberry.enum_value(
        "PROVISIONING_FAILED",
        description="`provisioning.failed`: a provisioning step went DEAD.",
    )
    PROVISIONING_RESOLVED = strawberry.enum_value(
        "PROVISIONING_RESOLVED",
        description="`provisioning.resolved`: staff resolved a failed provisioning step.",
    )
    USAGE_OVER_SEATS = strawberry.enum_value(
        "USAGE_OVER_SEATS",
        description="`usage.over_seats`: usage first exceeded the seats in a term.",
    )


@strawberry.enum(description="Stable codes of the errors this API returns.")
class ErrorCode(Enum):
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="No such object, or not visible to the caller."
    )
    VALIDATION_FAILED = strawberry.enum_value(
        "VALIDATION_FAILED", description="An input broke a rule; `path` names the field."
    )
    IDEMPOTENCY_KEY_REUSED = strawberry.enum_value(
        "IDEMPOTENCY_KEY_REUSED", description="The idempotency key was used with another input."
    )
    IDEMPOTENCY_KEY_IN_FLIGHT = strawberry.enum_value(
        "IDEMPOTENCY_KEY_IN_FLIGHT",
        description="A request with the same idempotency key is in progress; retry shortly.",
    )
    UNAUTHENTICATED = strawberry.enum_value(
        "UNAUTHENTICATED", description="The operation needs a bearer token."
    )
    FORBIDDEN = strawberry.enum_value("FORBIDDEN", description="The token lacks the scope needed.")
    TENANT_TRANSITION_REFUSED = strawberry.enum_value(
        "TENANT_TRANSITION_REFUSED",
        description="The Dedicated tenant's state does not allow that move (only a FAILED"
        " tenant is retried).",
    )
    ACTIVATION_CODE_INVALID = strawberry.enum_value(
        "ACTIVATION_CODE_INVALID", description="The activation code is malformed or unknown."
    )
    SUBSCRIPTION_NOT_CLOUD_LICENSABLE = strawberry.enum_value(
        "SUBSCRIPTION_NOT_CLOUD_LICENSABLE",
        description="The subscription has no cloud license to activate.",
    )
    SUBSCRIPTION_NOT_ACTIVE = strawberry.enum_value(
        "SUBSCRIPTION_NOT_ACTIVE", description="The subscription is expired, cancelled or pending."
    )
    INSTANCE_LIMIT_REACHED = strawberry.enum_value(
        "INSTANCE_LIMIT_REACHED", description="maxInstances distinct instances already activated."
    )
    LICENSE_ALREADY_CANCELLED = strawberry.enum_value(
        "LICENSE_ALREADY_CANCELLED", description="The license was cancelled before."
    )
    LICENSE_NOT_ONLINE_CLOUD = strawberry.enum_value(
        "LICENSE_NOT_ONLINE_CLOUD",
        description="Cloud Connector access is for current online cloud licenses only.",
    )
    LICENSE_EXPIRED = strawberry.enum_value(
        "LICENSE_EXPIRED", description="The license ended longer ago than its grace period."
    )
    SUBSCRIPTION_ALREADY_CANCELLED = strawberry.enum_value(
        "SUBSCRIPTION_ALREADY_CANCELLED", description="The subscription was cancelled before."
    )
    SUBSCRIPTION_NOT_SAAS = strawberry.enum_value(
        "SUBSCRIPTION_NOT_SAAS", description="Only GitLab.com subscriptions link to namespaces."
    )
    NAMESPACE_NOT_TOP_LEVEL = strawberry.enum_value(
        "NAMESPACE_NOT_TOP_LEVEL", description="Only top-level groups can be linked or trialled."
    )
    NOT_NAMESPACE_OWNER = strawberry.enum_value(
        "NOT_NAMESPACE_OWNER", description="The user does not own the group."
    )
    NAMESPACE_ALREADY_LINKED = strawberry.enum_value(
        "NAMESPACE_ALREADY_LINKED", description="The group already has an active paid subscription."
    )
    TRIAL_NOT_ELIGIBLE = strawberry.enum_value(
        "TRIAL_NOT_ELIGIBLE", description="The namespace cannot get this trial."
    )
    TRIAL_ALREADY_USED = strawberry.enum_value(
        "TRIAL_ALREADY_USED", description="This email or namespace had this trial type before."
    )
    ALREADY_ULTIMATE = strawberry.enum_value(
        "ALREADY_ULTIMATE", description="The group is on Ultimate (paid or trial) already."
    )
    TRIAL_REQUIRES_FREE_PLAN = strawberry.enum_value(
        "TRIAL_REQUIRES_FREE_PLAN",
        description="ULTIMATE trials are for free groups (Premium ones get ULTIMATE_ON_PREMIUM).",
    )
    TRIAL_REQUIRES_PREMIUM_PLAN = strawberry.enum_value(
        "TRIAL_REQUIRES_PREMIUM_PLAN",
        description="ULTIMATE_ON_PREMIUM trials are for groups on paid Premium.",
    )
    TRIAL_ALREADY_REACTIVATED = strawberry.enum_value(
        "TRIAL_ALREADY_REACTIVATED", description="The trial was reactivated before."
    )
    TRIAL_NOT_ACTIVE = strawberry.enum_value(
        "TRIAL_NOT_ACTIVE", description="Only an active trial can be extended."
    )
    TRIAL_NOT_EXPIRED = strawberry.enum_value(
        "TRIAL_NOT_EXPIRED", description="Only an expired trial on a free group is reactivated."
    )
    TRIAL_ALREADY_EXTENDED = strawberry.enum_value(
        "TRIAL_ALREADY_EXTENDED", description="The trial was extended before."
    )
    RATE_LIMITED = strawberry.enum_value(
        "RATE_LIMITED", description="Too many attempts; retry later."
    )
    PROVISION_EVENT_NOT_RETRYABLE = strawberry.enum_value(
        "PROVISION_EVENT_NOT_RETRYABLE",
        description="Only a FAILED or DEAD provision event can be retried.",
    )
    PROVISION_EVENT_NOT_RESOLVABLE = strawberry.enum_value(
        "PROVISION_EVENT_NOT_RESOLVABLE",
        description="Only a FAILED or DEAD provision event can be resolved.",
    )
    ILLEGAL_TRANSITION = strawberry.enum_value(
        "ILLEGAL_TRANSITION",
        description="The provision event cannot move from its status to the one asked for.",
    )
    MANAGED_BY_PARTNER = strawberry.enum_value(
        "MANAGED_BY_PARTNER",
        description="A partner sold the subscription and manages it: the message names the"
        " partner to contact.",
    )
    NOT_A_SANDBOX = strawberry.enum_value(
        "NOT_A_SANDBOX",
        description="The customer is no sandbox: only a sandbox's test clock moves.",
    )
    CLOCK_NOT_FORWARD = strawberry.enum_value(
        "CLOCK_NOT_FORWARD",
        description="A test clock only moves forwards; `path` names the field.",
    )
    DOMAIN_ERROR = strawberry.enum_value(
        "DOMAIN_ERROR", description="A rule without a code of its own was broken; see `message`."
    )
    SERVICE_UNAVAILABLE = strawberry.enum_value(
        "SERVICE_UNAVAILABLE",
        description="The database cannot be reached; retry after the `Retry-After` seconds.",
    )
    INTERNAL = strawberry.enum_value(
        "INTERNAL", description="An unexpected error; quote the request id to support."
    )


@strawberry.enum(description="Where marketplace orders come from (docs/marketplaces.md).")
class Marketplace(Enum):
    AWS = strawberry.enum_value("AWS", description="AWS Marketplace (SaaS).")
    AZURE = strawberry.enum_value("AZURE", description="Azure Marketplace (SaaS fulfillment).")
    STRIPE = strawberry.enum_value(
        "STRIPE", description="Our Stripe-style billing system (web-direct sales)."
    )


@strawberry.enum(description="How far an inbound marketplace event got.")
class MarketplaceInboxState(Enum):
    RECEIVED = strawberry.enum_value(
        "RECEIVED",
        description="Stored; its ledger row applies it (FAILED or DEAD there says why not).",
    )
    APPLIED = strawberry.enum_value("APPLIED", description="Applied to the subscription.")
    IGNORED_STALE = strawberry.enum_value(
        "IGNORED_STALE",
        description="Older than the last event applied to the same marketplace subscription.",
    )
    IGNORED = strawberry.enum_value("IGNORED", description="Nothing to do.")


@strawberry.enum(description="What kind of organisation a partner is.")
class PartnerKind(Enum):
    RESELLER = strawberry.enum_value("RESELLER", description="Resells to its own customers.")
    DISTRIBUTOR = strawberry.enum_value(
        "DISTRIBUTOR", description="Sells through resellers of its own."
    )
    MARKETPLACE = strawberry.enum_value(
        "MARKETPLACE", description="A cloud marketplace (AWS, Azure, GCP)."
    )


@strawberry.enum(description="Something that can be done to an existing subscription.")
class SubscriptionAction(Enum):
    ADD_SEATS = strawberry.enum_value(
        "ADD_SEATS", description="Change the seats (`changeSubscription(seats:)`)."
    )
    RENEW = strawberry.enum_value("RENEW", description="Add a term (`renewSubscription`).")
    CHANGE_PLAN = strawberry.enum_value("CHANGE_PLAN", description="Move to another tier.")
    CANCEL = strawberry.enum_value("CANCEL", description="Cancel (`cancelSubscription`).")
    TOGGLE_AUTO_RENEW = strawberry.enum_value(
        "TOGGLE_AUTO_RENEW", description="Turn auto-renewal on or off."
    )
    LINK_NAMESPACE = strawberry.enum_value(
        "LINK_NAMESPACE", description="Link a GitLab.com group (`linkNamespace`)."
    )
    ROTATE_ACTIVATION_CODE = strawberry.enum_value(
        "ROTATE_ACTIVATION_CODE", description="Replace the activation code."
    )
    TRANSFER = strawberry.enum_value(
        "TRANSFER", description="Move it between channels (`transferSubscription`, staff)."
    )


@strawberry.enum(description="Where a channel transfer stands.")
class ChannelTransferStatus(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Recorded; applied when its `effectiveAt` comes."
    )
    APPLIED = strawberry.enum_value("APPLIED", description="The subscription moved.")
    SUPERSEDED = strawberry.enum_value(
        "SUPERSEDED", description="A later transfer replaced it before it took effect."
    )


@strawberry.enum(description="Where a usage report's figures came from.")
class UsageSource(Enum):
    SEAT_LINK = strawberry.enum_value(
        "SEAT_LINK", description="An online instance's daily sync, or `reportUsage`."
    )
    USAGE_FILE = strawberry.enum_value(
        "USAGE_FILE",
        description="A row of a license usage file an offline instance exported"
        " (`uploadUsageFile`).",
    )


@strawberry.enum(description="Where a GitLab Dedicated tenant is in its life.")
class DedicatedTenantState(Enum):
    ORDERED = strawberry.enum_value("ORDERED", description="Sold; onboarding not started.")
    ONBOARDING_INVITED = strawberry.enum_value(
        "ONBOARDING_INVITED", description="The onboarding contacts were invited."
    )
    PROVISIONING = strawberry.enum_value(
        "PROVISIONING", description="The provisioner is creating the tenant."
    )
    ACTIVE = strawberry.enum_value("ACTIVE", description="Running, with its license.")
    CHANGING = strawberry.enum_value(
        "CHANGING", description="A change (more users, more storage) is being applied."
    )
    DEPROVISIONING = strawberry.enum_value(
        "DEPROVISIONING", description="The subscription ended; the tenant is being removed."
    )
    GONE = strawberry.enum_value("GONE", description="Removed.")
    FAILED = strawberry.enum_value(
        "FAILED",
        description="The provisioner reported a failure (`lastError` says why); staff retry"
        " it with `retryDedicatedTenant`.",
    )


@strawberry.enum(description="A Dedicated tenant's weekly 4-hour maintenance window (UTC).")
class MaintenanceWindow(Enum):
    APAC = strawberry.enum_value("APAC", description="Wednesday 13:00-17:00.")
    EMEA = strawberry.enum_value("EMEA", description="Tuesday 01:00-05:00.")
    AMERICAS_1 = strawberry.enum_value("AMERICAS_1", description="Tuesday 07:00-11:00.")
    AMERICAS_2 = strawberry.enum_value("AMERICAS_2", description="Sunday-Monday 21:00-01:00.")


@strawberry.enum(description="Who is calling: the kind of principal a token stands for.")
class PrincipalKind(Enum):
    ANONYMOUS = strawberry.enum_value("ANONYMOUS", description="No token, or none that is valid.")
    PORTAL_USER = strawberry.enum_value(
        "PORTAL_USER", description="A person signed in to the customer portal."
    )
    INSTANCE = strawberry.enum_value(
        "INSTANCE", description="A GitLab Self-Managed or Dedicated instance (its license)."
    )
    GITLAB_COM = strawberry.enum_value("GITLAB_COM", description="GitLab.com itself.")
    PARTNER = strawberry.enum_value("PARTNER", description="A reseller's or distributor's system.")
    STAFF = strawberry.enum_value("STAFF", description="GitLab staff tooling.")


@strawberry.enum(description="Who made an audited change: a principal's kind, or the system.")
class ActorKind(Enum):
    ANONYMOUS = strawberry.enum_value("ANONYMOUS", description="No token (never audited today).")
    PORTAL_USER = strawberry.enum_value("PORTAL_USER", description="A portal user.")
    INSTANCE = strawberry.enum_value("INSTANCE", description="A GitLab instance.")
    GITLAB_COM = strawberry.enum_value("GITLAB_COM", description="GitLab.com.")
    PARTNER = strawberry.enum_value("PARTNER", description="A partner's system.")
    STAFF = strawberry.enum_value("STAFF", description="Staff tooling.")
    SYSTEM = strawberry.enum_value(
        SYSTEM_ACTOR, description="A job of Provision's, on behalf of who asked for it."
    )


@strawberry.enum(description="What a provisioning ledger row does.")
class ProvisionEventKind(Enum):
    NAMESPACE_PROVISION = strawberry.enum_value(
        "NAMESPACE_PROVISION", description="Tell GitLab.com a group's plan, seats and add-ons."
    )
    EMAIL = strawberry.enum_value("EMAIL", description="Send an email.")
    WEBHOOK_DELIVERY = strawberry.enum_value(
        "WEBHOOK_DELIVERY", description="Deliver one webhook event to one endpoint."
    )
    MARKETPLACE_EVENT = strawberry.enum_value(
        "MARKETPLACE_EVENT", description="Apply an event a marketplace sent."
    )
    DEDICATED_TENANT = strawberry.enum_value(
        "DEDICATED_TENANT", description="One step of a GitLab Dedicated tenant's life."
    )
    ALERT = strawberry.enum_value("ALERT", description="Tell people a row went DEAD.")
    HTTP_PING = strawberry.enum_value("HTTP_PING", description="Check an outbound HTTP peer.")
    OTHER = strawberry.enum_value(
        "OTHER",
        description="A kind a worker plugin records (`PROVISION_WORKER_PLUGINS`); as a filter,"
        " every row of such a kind.",
    )


def provision_event_kind(kind: str) -> ProvisionEventKind:
    """A ledger row's kind as the API shows it: a plugin's own kinds are OTHER."""
    if kind in ProvisionKind.__members__:
        return ProvisionEventKind[kind]
    return ProvisionEventKind.OTHER


def actor_kind(kind: str) -> ActorKind:
    return ActorKind[kind]


MIRRORS: tuple[tuple[type[Enum], type[Enum]], ...] = (
    (usage.UsageSource, UsageSource),
    (model.Plan, Plan),
    (model.NamespacePlan, NamespacePlan),
    (model.Deployment, Deployment),
    (model.Channel, Channel),
    (model.LicensingMode, LicensingMode),
    (model.SubscriptionStatus, SubscriptionStatus),
    (model.TrialType, TrialType),
    (model.TrialStatus, TrialStatus),
    (model.AddOnKind, AddOnKind),
    (ProvisionStatus, ProvisionEventStatus),
    (webhook.WebhookEventType, WebhookEventType),
    (marketplace.Marketplace, Marketplace),
    (marketplace.InboxState, MarketplaceInboxState),
    (partner.PartnerKind, PartnerKind),
    (channel_policy.SubscriptionAction, SubscriptionAction),
    (channel_transfer.TransferStatus, ChannelTransferStatus),
    (fleet.InstanceRole, InstanceRole),
    (fleet.ContributionReason, InstanceContributionReason),
    (dedicated.TenantState, DedicatedTenantState),
    (dedicated.MaintenanceWindow, MaintenanceWindow),
    (DomainPrincipalKind, PrincipalKind),
)
"""Each domain vocabulary and the GraphQL enum that shows it: converted by name both ways."""


def domain_error_types() -> Iterator[type[DomainError]]:
    """``DomainError`` and every subclass loaded so far (the API defines a few of its own)."""
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        error_type = pending.pop()
        yield error_type
        pending.extend(error_type.__subclasses__())


def vocabulary_gaps(error_types: Iterable[type[DomainError]]) -> list[str]:
    """What the domain can say that the API cannot: an error code without an ``ErrorCode``, a
    member of a mirrored vocabulary without its twin (either way)."""
    gaps = [
        f"{e.__module__}.{e.__qualname__}: no ErrorCode {e.code}"
        for e in error_types
        if e.code not in ErrorCode.__members__
    ]
    for domain_enum, api in MIRRORS:
        gaps += [
            f"{domain_enum.__name__}.{name}: no twin in {api.__name__}"
            for name in sorted(domain_enum.__members__.keys() ^ api.__members__.keys())
        ]
    extended = (
        (ProvisionKind, ProvisionEventKind, {"OTHER"}),
        (DomainPrincipalKind, ActorKind, {SYSTEM_ACTOR}),
    )
    for domain_enum, api, extra in extended:
        gaps += [
            f"{domain_enum.__name__}.{name}: no twin in {api.__name__}"
            for name in sorted((domain_enum.__members__.keys() | extra) ^ api.__members__.keys())
        ]
    return gaps
