"""Piccolo tables: the relational shape of the domain. Nothing outside persistence sees them."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Interval,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table


class Customer(Table, tablename="customer"):
    id = UUID(primary_key=True)
    company = Varchar(length=200)
    contact_name = Varchar(length=200)
    contact_email = Varchar(length=254)
    created_at = Timestamptz()
    # A sandbox tenant (docs/test-clock.md) runs on its own clock: the system's plus
    # clock_offset, which only advanceTestClock moves (forwards).
    sandbox = Boolean(default=False)
    clock_offset = Interval()


class Membership(Table, tablename="membership"):
    id = UUID(primary_key=True)
    # Indexed by unique_member (customer, user_subject).
    customer = ForeignKey(Customer, on_delete=OnDelete.cascade)
    user_subject = Varchar(length=200, index=True)
    role = Varchar(length=10)
    unique_member = Unique(["customer", "user_subject"])


class Namespace(Table, tablename="namespace"):
    id = UUID(primary_key=True)
    gitlab_id = BigInt(unique=True)
    path = Varchar(length=255)
    name = Varchar(length=255)
    kind = Varchar(length=10)
    parent_gitlab_id = BigInt(null=True, default=None)
    owner_user_ids = Array(BigInt())
    owner_emails = Array(Varchar(length=254))
    base_plan = Varchar(length=40)
    billable_members = Integer(null=True, default=None)
    max_seats_used = Integer(null=True, default=None)
    compute_minutes_used = Integer(null=True, default=None)
    storage_used_bytes = BigInt(null=True, default=None)
    usage_reported_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class Subscription(Table, tablename="subscription"):
    id = UUID(primary_key=True)
    name = Varchar(length=11, unique=True)
    customer = ForeignKey(Customer, on_delete=OnDelete.restrict, index=True)
    deployment = Varchar(length=20)
    plan = Varchar(length=20)
    channel = Varchar(length=20)
    partner_id = Varchar(length=100, null=True, default=None, index=True)
    auto_renew = Boolean(default=True)
    licensing_mode = Varchar(length=20, null=True, default=None)
    max_instances = Integer(default=1)
    reconciliation_enabled = Boolean(default=False)
    cancel_at_period_end = Boolean(default=False)
    cancelled_at = Timestamptz(null=True, default=None)
    namespace = ForeignKey(Namespace, null=True, on_delete=OnDelete.set_null, index=True)
    # Denormalised from the segments so that lists can filter by status with an index.
    start_date = Date()
    end_date = Date()
    created_at = Timestamptz()
    max_instances_positive = Check("max_instances >= 1")
    dates_ordered = Check("start_date < end_date")


class Segment(Table, tablename="subscription_segment"):
    id = UUID(primary_key=True)
    # Indexed by unique_segment_start (subscription, start_date).
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade)
    term_index = Integer()
    start_date = Date()
    end_date = Date()
    seats = Integer()
    seats_positive = Check("seats >= 1")
    segment_dates_ordered = Check("start_date < end_date")
    unique_segment_start = Unique(["subscription", "start_date"])


class AddOn(Table, tablename="subscription_add_on"):
    id = UUID(primary_key=True)
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40)
    quantity = Integer()
    start_date = Date()
    end_date = Date()
    quantity_positive = Check("quantity >= 1")


class Trial(Table, tablename="trial"):
    id = UUID(primary_key=True)
    type = Varchar(length=40)
    # Indexed by trial_namespace_keyset (namespace, id).
    namespace = ForeignKey(Namespace, null=True, on_delete=OnDelete.cascade)
    subscription = ForeignKey(Subscription, null=True, on_delete=OnDelete.cascade, index=True)
    email = Varchar(length=254, null=True, default=None)
    starts_on = Date()
    ends_on = Date()
    reverts_to = Varchar(length=40, null=True, default=None)
    extended = Boolean(default=False)
    reactivated = Boolean(default=False)
    created_at = Timestamptz()
    # Set by the expiry job when it claims an ended trial; cleared when a trial runs again.
    reverted_on = Date(null=True, default=None)
    trial_dates_ordered = Check("starts_on < ends_on")


class Instance(Table, tablename="instance"):
    id = UUID(primary_key=True)
    instance_identifier = Varchar(length=36)
    # Indexed by instance_subscription_keyset (subscription, id).
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade)
    hostname = Varchar(length=255, null=True, default=None)
    gitlab_version = Varchar(length=50, null=True, default=None)
    activated_at = Timestamptz()
    last_synced_at = Timestamptz(null=True, default=None)
    # Fleet (docs/instances.md): what the instance is for, and its retirement or replacement.
    role = Varchar(length=20, default="PRODUCTION")
    retired_at = Timestamptz(null=True, default=None)
    access_ends_on = Date(null=True, default=None)
    replaced_by = UUID(null=True, default=None)
    unique_instance = Unique(["subscription", "instance_identifier"])
    instance_role_known = Check(
        "role IN ('PRODUCTION', 'STAGING', 'DISASTER_RECOVERY', 'GEO_SECONDARY', 'TEST')"
    )
    instance_retired_with_end = Check("(retired_at IS NULL) = (access_ends_on IS NULL)")


class License(Table, tablename="license"):
    id = UUID(primary_key=True)
    # Indexed by license_subscription_keyset (subscription, id): a second index on the
    # column alone made the planner sort each child page.
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade)
    instance = ForeignKey(Instance, null=True, on_delete=OnDelete.set_null)
    mode = Varchar(length=20)
    plan = Varchar(length=20)
    seats = Integer()
    starts_at = Date()
    expires_at = Date()
    trial = Boolean(default=False)
    cancelled = Boolean(default=False)
    auto_renew = Boolean(default=False)
    reconciliation_enabled = Boolean(default=False)
    add_ons = JSONB(default=[])
    licensee_name = Varchar(length=200)
    licensee_email = Varchar(length=254)
    licensee_company = Varchar(length=200)
    notify_admins_at = Date(null=True, default=None)
    notify_users_at = Date(null=True, default=None)
    block_changes_at = Date(null=True, default=None)
    license_key = Text()
    # license_key_digest(license_key): how a seat link finds the key it was sent (a b-tree
    # cannot index the key text itself, which can pass its 2.7 KB row limit). Indexed by
    # license_key_digest.
    key_digest = Varchar(length=64, default="")
    created_at = Timestamptz()
    # The end key of a retired instance (docs/instances.md): not the subscription's license.
    retires_instance = UUID(null=True, default=None)
    license_seats_positive = Check("seats >= 1")


class UsageReport(Table, tablename="usage_report"):
    id = UUID(primary_key=True)
    # Indexed by usage_report_latest (subscription, reported_at, id).
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade)
    instance = ForeignKey(Instance, null=True, on_delete=OnDelete.set_null)
    billable_users = Integer()
    max_historical_users = Integer()
    add_on_seats = JSONB(default={})
    gitlab_version = Varchar(length=50, null=True, default=None)
    hostname = Varchar(length=255, null=True, default=None)
    reported_at = Timestamptz()
    instance_identifier = Varchar(length=36, null=True, default=None)
    # The report's identity (domain.model.usage.report_identity) for seat-link reports: the
    # same report arriving twice is stored once. NULL for reports made before seat link.
    report_key = Varchar(length=80, null=True, default=None)
    unique_report = Unique(["subscription", "report_key"])
    # Where the figures came from: NULL for seat link, USAGE_FILE for a row of an uploaded
    # license usage file (docs/usage-file.md), which names the license its key matched.
    source = Varchar(length=20, null=True, default=None)
    license = ForeignKey(License, null=True, on_delete=OnDelete.set_null)
    usage_report_source_known = Check("source IS NULL OR source IN ('USAGE_FILE')")


class ActivationCode(Table, tablename="activation_code"):
    """A self-managed subscription's activation code, as a hash (the code is a credential)."""

    id = UUID(primary_key=True)
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade, unique=True)
    code_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()


class AuditEntry(Table, tablename="audit_entry"):
    """Who did what to which object, and what changed; written with the change."""

    id = UUID(primary_key=True)
    actor_kind = Varchar(length=20)
    actor_subject = Varchar(length=200, null=True, default=None)
    action = Varchar(length=60)
    object_type = Varchar(length=40)
    # Indexed by audit_entry_object_keyset (object_id, id), with actor and action ones, in
    # the raw SQL migration of the staff operations.
    object_id = UUID(null=True, default=None)
    idempotency_key = Varchar(length=200, null=True, default=None)
    before = JSONB(default={})
    after = JSONB(default={})
    at = Timestamptz()
    reason = Text(null=True, default=None)
    # The audit chain (docs/audit.md): NULL only on a row written around the chain.
    chain = Varchar(length=20, null=True, default=None)
    sequence = BigInt(null=True, default=None)
    previous_hash = Varchar(length=64, null=True, default=None)
    hash = Varchar(length=64, null=True, default=None)
    audit_entry_chain_sequence = Unique(["chain", "sequence"])


class AuditChainHead(Table, tablename="audit_chain_head"):
    """Each audit chain's last link, locked by the append to it (docs/audit.md)."""

    chain = Varchar(length=20, primary_key=True)
    sequence = BigInt()
    hash = Varchar(length=64)


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first result of a keyed mutation, per caller and operation."""

    id = UUID(primary_key=True)
    scope = Varchar(length=250)
    operation = Varchar(length=60)
    key = Varchar(length=200)
    fingerprint = Varchar(length=64)
    result = JSONB(default={})
    created_at = Timestamptz()
    unique_key = Unique(["scope", "operation", "key"])


class ProvisionEvent(Table, tablename="provision_event"):
    id = UUID(primary_key=True)
    kind = Varchar(length=60)
    correlation_id = Varchar(length=100)
    # No foreign keys: the ledger is history and outlives what it names. Indexed (with id) by
    # the staff filters in the raw SQL migration.
    subscription_id = UUID(null=True, default=None)
    namespace_id = UUID(null=True, default=None)
    instance_id = UUID(null=True, default=None)
    payload = JSONB(default={})
    status = Varchar(length=10)
    attempts = Integer(default=0)
    max_attempts = Integer()
    next_attempt_at = Timestamptz()
    last_error = Text(null=True, default=None)
    lease_owner = Varchar(length=200, null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    # Set when a person closes a FAILED or DEAD row (status RESOLVED).
    resolved_reason = Text(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    # Altered (RESOLVED added) by a raw migration: piccolo's auto migrations do not see a
    # CHECK's condition change.
    provision_event_status = Check(
        "status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEAD', 'RESOLVED')"
    )
    provision_event_attempts = Check("attempts >= 0 AND max_attempts >= 1")
    provision_event_lease = Check("(status = 'RUNNING') = (lease_owner IS NOT NULL)")


class ScheduledJobRun(Table, tablename="scheduled_job_run"):
    id = UUID(primary_key=True)
    job_name = Varchar(length=100)
    due_at = Timestamptz()
    owner = Varchar(length=200)
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    error = Text(null=True, default=None)
    # The claim: one row per job and due time, whoever inserts it first runs the job.
    scheduled_job_run_once = Unique(["job_name", "due_at"])


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    """Where webhook events go (docs/webhooks.md). Owned by a customer, a partner, or neither
    (staff's global endpoint). The secret signs deliveries, so it is kept as given (a hash
    could not sign); it is shown to its owner once and never read back through the API."""

    id = UUID(primary_key=True)
    customer = ForeignKey(Customer, on_delete=OnDelete.cascade, null=True, default=None)
    partner_id = Varchar(length=100, null=True, default=None)
    url = Text()
    event_types = Array(Varchar(length=60))
    description = Text(default="")
    enabled = Boolean(default=True)
    secret = Varchar(length=100)
    previous_secret = Varchar(length=100, null=True, default=None)
    previous_secret_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    webhook_endpoint_one_owner = Check("customer IS NULL OR partner_id IS NULL")


class Partner(Table, tablename="partner"):
    """A partner organisation (docs/partners.md). ``id`` is the string subscriptions, webhook
    endpoints and partner tokens carry (no foreign keys point here: a partner id first seen on
    a new subscription gets its row in the same transaction, named after its id)."""

    id = Varchar(length=100, primary_key=True)
    name = Varchar(length=200)
    kind = Varchar(length=20)
    created_at = Timestamptz()
    partner_kind_known = Check("kind IN ('RESELLER', 'DISTRIBUTOR', 'MARKETPLACE')")


class ChannelTransfer(Table, tablename="channel_transfer"):
    """A subscription's move between channels: applied at once, or PENDING until the Clock
    reaches ``effective_at`` (the ``transfers.apply_due`` job)."""

    id = UUID(primary_key=True)
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade, index=True)
    from_channel = Varchar(length=20)
    from_partner_id = Varchar(length=100, null=True, default=None)
    to_channel = Varchar(length=20)
    to_partner_id = Varchar(length=100, null=True, default=None)
    effective_at = Timestamptz()
    reason = Text()
    requested_at = Timestamptz()
    requested_by = Varchar(length=200, null=True, default=None)
    status = Varchar(length=12)
    applied_at = Timestamptz(null=True, default=None)
    channel_transfer_status_known = Check("status IN ('PENDING', 'APPLIED', 'SUPERSEDED')")
    channel_transfer_applied_when_applied = Check("(status = 'APPLIED') = (applied_at IS NOT NULL)")


class WebhookDeliveryResult(Table, tablename="webhook_delivery_result"):
    """The last attempt of a webhook delivery (its WEBHOOK_DELIVERY ledger row has the same
    id): what the receiver answered and how long it took. The row's status, attempts and next
    attempt are the ledger's."""

    id = UUID(primary_key=True)
    endpoint_id = UUID()
    status_code = Integer(null=True, default=None)
    """None when no answer came (timeout, network error, refused address)."""
    latency_ms = Integer(null=True, default=None)
    attempted_at = Timestamptz()


class DedicatedTenant(Table, tablename="dedicated_tenant"):
    """A DEDICATED subscription's tenant (docs/dedicated.md): its facts, state and history
    (JSONB lists of moves, oldest first)."""

    id = UUID(primary_key=True)
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade, unique=True)
    facts = JSONB()
    state = Varchar(length=20)
    history = JSONB(default=[])
    last_error = Text(null=True, default=None)
    failed_from = Varchar(length=20, null=True, default=None)
    license_id = UUID(null=True, default=None)
    tenant_url = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    dedicated_tenant_state_known = Check(
        "state IN ('ORDERED', 'ONBOARDING_INVITED', 'PROVISIONING', 'ACTIVE', 'CHANGING',"
        " 'DEPROVISIONING', 'GONE', 'FAILED')"
    )


class DedicatedCallback(Table, tablename="dedicated_callback"):
    """The provisioner's callbacks already applied, by their id (each is applied once)."""

    id = Varchar(length=200, primary_key=True)
    received_at = Timestamptz()


TABLES: list[type[Table]] = [
    Customer,
    Membership,
    Namespace,
    Subscription,
    Segment,
    AddOn,
    Trial,
    Instance,
    License,
    UsageReport,
    ActivationCode,
    AuditEntry,
    AuditChainHead,
    IdempotencyRecord,
    ProvisionEvent,
    ScheduledJobRun,
    WebhookEndpoint,
    Partner,
    ChannelTransfer,
    WebhookDeliveryResult,
    DedicatedTenant,
    DedicatedCallback,
]
