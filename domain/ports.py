"""Ports: what the domain needs from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from domain.model.audit import AuditEntry
from domain.model.channel_transfer import ChannelTransfer
from domain.model.customer import Customer, Membership
from domain.model.dedicated import DedicatedTenant, TenantFacts
from domain.model.enums import Role, TrialType
from domain.model.idempotency import IdempotencyRecord
from domain.model.instance import Instance
from domain.model.license import License
from domain.model.namespace import Namespace
from domain.model.partner import Partner
from domain.model.provision_event import ProvisionEvent
from domain.model.reports import (
    AdoptionRow,
    FailureRow,
    OpenStepRow,
    OrderToAccessRow,
    Period,
    SeatOverageRow,
    StoppedSyncingRow,
    TrialRow,
)
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.model.usage import UsageReport
from domain.model.webhook import WebhookEndpoint, WebhookEventType


class Clock(Protocol):
    """The only source of time in the domain; tests pass a fixed clock."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def today(self) -> date:
        """The current date in UTC."""
        ...


class CustomerRepository(Protocol):
    """Customers and their memberships."""

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        """The customer, or None."""
        ...

    async def add(self, customer: Customer) -> None:
        """Store a new customer."""
        ...

    async def role_of(self, customer_id: uuid.UUID, user_subject: str) -> Role | None:
        """The portal user's role in the customer, if a member."""
        ...

    async def bought_from(self, customer_id: uuid.UUID, partner_id: str) -> bool:
        """Whether the partner sold this customer anything (its view of customers)."""
        ...

    async def add_membership(self, membership: Membership) -> None:
        """Make a portal user a member of a customer (replacing an earlier role)."""
        ...


class SubscriptionRepository(Protocol):
    """Subscriptions, whole with their terms, segments and add-ons."""

    async def get(self, subscription_id: uuid.UUID) -> Subscription | None:
        """The subscription, or None."""
        ...

    async def linked_to(self, namespace_id: uuid.UUID) -> Subscription | None:
        """The subscription linked to the namespace, if any (at most one, by constraint)."""
        ...

    async def lock(self, subscription_id: uuid.UUID) -> Subscription | None:
        """The subscription, row-locked until the transaction ends (concurrent changes wait)."""
        ...

    async def get_by_name(self, name: str) -> Subscription | None:
        """The subscription called ``name`` (like A-S00012345), or None."""
        ...

    async def next_name(self) -> str:
        """A new subscription name, never handed out before."""
        ...

    async def add(self, subscription: Subscription) -> None:
        """Store a new subscription."""
        ...

    async def save(self, subscription: Subscription) -> None:
        """Store the changed subscription (its terms and add-ons replace the old ones)."""
        ...

    async def ending_without_renewal(self, first: date, last: date) -> Sequence[Subscription]:
        """Subscriptions not cancelled now whose last term ends in ``[first, last]`` and that
        will not renew (``auto_renew`` off or cancelled at period end)."""
        ...


class NamespaceRepository(Protocol):
    """Provision's copy of GitLab.com namespaces."""

    async def get(self, namespace_id: uuid.UUID) -> Namespace | None:
        """The namespace, or None."""
        ...

    async def lock(self, namespace_id: uuid.UUID) -> Namespace | None:
        """The namespace, row-locked until the transaction ends (trials on it queue)."""
        ...

    async def get_by_gitlab_id(self, gitlab_id: int) -> Namespace | None:
        """The namespace GitLab knows by ``gitlab_id``, or None."""
        ...

    async def add(self, namespace: Namespace) -> None:
        """Store a new namespace."""
        ...

    async def save(self, namespace: Namespace) -> None:
        """Store the changed namespace."""
        ...


class TrialRepository(Protocol):
    """Trials on namespaces and self-managed trial subscriptions."""

    async def add(self, trial: Trial) -> None:
        """Store a new trial."""
        ...

    async def get(self, trial_id: uuid.UUID) -> Trial | None:
        """The trial, row-locked until the transaction ends."""
        ...

    async def save(self, trial: Trial) -> None:
        """Store changed dates and flags; a trial that runs again will be reverted again."""
        ...

    async def claim_ended(self, today: date, limit: int) -> Sequence[Trial]:
        """Namespace trials that ended by ``today`` and were not reverted yet, marked reverted
        in the same statement: whoever claims a trial reverts it, exactly once."""
        ...

    async def for_subscription(self, subscription_id: uuid.UUID) -> Sequence[Trial]:
        """The trial a self-managed trial subscription was made for (none for a sale)."""
        ...

    async def email_used(self, email: str, trial_type: TrialType) -> bool:
        """Whether this email had a self-managed trial of this type before."""
        ...

    async def for_namespace(self, namespace_id: uuid.UUID) -> Sequence[Trial]:
        """Every trial the namespace ever had, oldest first."""
        ...

    async def ending_between(self, first: date, last: date) -> Sequence[Trial]:
        """Namespace trials not reverted yet whose ``ends_on`` is in ``[first, last]``."""
        ...


class InstanceRepository(Protocol):
    """Activated self-managed instances."""

    async def add(self, instance: Instance) -> None:
        """Store a newly activated instance."""
        ...

    async def for_subscription(self, subscription_id: uuid.UUID) -> Sequence[Instance]:
        """The instances activated on the subscription."""
        ...

    async def get(self, instance_id: uuid.UUID) -> Instance | None:
        """The instance, row-locked until the transaction ends, or None."""
        ...

    async def find(self, subscription_id: uuid.UUID, instance_identifier: str) -> Instance | None:
        """The subscription's instance with this identifier, or None."""
        ...

    async def save(self, instance: Instance) -> None:
        """Store a changed role, retirement or replacement."""
        ...

    async def stale(self, before: datetime, limit: int) -> Sequence[Instance]:
        """Instances in service whose last seat link (or, never synced, activation) is at or
        before ``before``, oldest id first."""
        ...

    async def record_sync(
        self,
        subscription_id: uuid.UUID,
        instance_identifier: str,
        at: datetime,
        hostname: str | None,
        gitlab_version: str | None,
    ) -> uuid.UUID | None:
        """Note a seat-link sync on the subscription's instance with this identifier (its
        ``last_synced_at``, and the hostname and version it reported when given); its id, or
        None when no such instance activated the subscription."""
        ...


class LicenseRepository(Protocol):
    """Issued licenses."""

    async def add(self, license_: License) -> None:
        """Store a newly issued license."""
        ...

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> License | None:
        """The newest license of the subscription (end keys of retired instances aside), or
        None."""
        ...

    async def end_key_of(self, instance_id: uuid.UUID) -> License | None:
        """The end key issued to a retired instance, or None."""
        ...

    async def get(self, license_id: uuid.UUID) -> License | None:
        """The license, or None."""
        ...

    async def find_by_key(self, license_key: str) -> License | None:
        """The license issued with this key text, compared as ``license_key_digest`` does
        (boundary lines and whitespace aside), or None."""
        ...


class UsageReportRepository(Protocol):
    """Seat-link reports from instances."""

    async def add(self, report: UsageReport) -> None:
        """Store a report."""
        ...

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> UsageReport | None:
        """The newest report for the subscription, or None."""
        ...

    async def latest_by_instance(self, subscription_id: uuid.UUID) -> dict[uuid.UUID, UsageReport]:
        """The newest report of each of the subscription's instances, by instance id."""
        ...

    async def add_once(self, report: UsageReport) -> bool:
        """Store a report unless one with its ``report_identity`` is stored (also when both
        arrive at once); True when this call stored it."""
        ...

    async def add_many_once(self, reports: Sequence[UsageReport]) -> int:
        """``add_once`` for each report (usage-file rows), in one go; how many were stored
        (the others were known, or repeated within ``reports``: the first one is kept)."""
        ...


class ActivationCodeRepository(Protocol):
    """The hashed activation code of each self-managed subscription (one each)."""

    async def set(self, subscription_id: uuid.UUID, code_hash: str, at: datetime) -> None:
        """Give the subscription this code, replacing any earlier one (rotation)."""
        ...

    async def subscription_for(self, code_hash: str) -> uuid.UUID | None:
        """The subscription a code belongs to, if any."""
        ...


class AuditLog(Protocol):
    """Where mutations record who did what (written in the mutation's transaction)."""

    async def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        ...


class IdempotencyStore(Protocol):
    """First results of keyed mutations, per principal and operation."""

    async def find(self, scope: str, operation: str, key: str) -> IdempotencyRecord | None:
        """The record kept for this key, if the key was used before."""
        ...

    async def save(self, record: IdempotencyRecord) -> None:
        """Keep a first result. A concurrent first use of the same key makes this fail with
        ``IdempotencyKeyInFlight`` (the transaction then rolls back; retrying replays)."""
        ...


class Outbox(Protocol):
    """Provision events recorded in the unit of work's transaction (the transactional outbox).

    An event recorded here commits with the change that caused it, or not at all: a worker
    never runs a step for a change that was rolled back, and no committed change loses its
    step when the process dies right after the commit.
    """

    async def record(self, event: ProvisionEvent) -> None:
        """Add ``event`` (PENDING, due at its ``next_attempt_at``) to the ledger.

        Raises ``RuntimeError`` outside a transaction: an outbox row alone is no outbox.
        """
        ...

    async def record_once(self, event: ProvisionEvent) -> bool:
        """Like ``record``, unless a row with the same ``payload["once"]`` exists (also one
        committed concurrently): False then, and nothing is added."""
        ...


class WebhookEndpointRepository(Protocol):
    """Webhook endpoints. Reads for a principal are cut to its reach by the caller's
    policy check (``domain.policy.sees_webhook_endpoint``) or, for lists, in SQL."""

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Insert a new endpoint."""
        ...

    async def get(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        """The endpoint, whoever owns it."""
        ...

    async def save(self, endpoint: WebhookEndpoint) -> None:
        """Write an endpoint's changed fields."""
        ...

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        """Remove it (its delivery rows stay in the ledger, which outlives what it names)."""
        ...

    async def hearing(
        self, event_type: WebhookEventType, customer_id: uuid.UUID | None, partner_id: str | None
    ) -> Sequence[WebhookEndpoint]:
        """Enabled endpoints that asked for ``event_type`` and own the subscription's
        customer, its partner, or are global."""
        ...

    async def recent_outcomes(
        self, endpoint_id: uuid.UUID, limit: int, excluding: uuid.UUID | None = None
    ) -> Sequence[str]:
        """The ledger statuses of the endpoint's ``limit`` newest finished deliveries
        (SUCCEEDED, DEAD or RESOLVED), newest first, leaving out the row ``excluding``."""
        ...


class ProvisionEventRepository(Protocol):
    """Ledger rows as staff change them (retry, resolve), inside a unit of work."""

    async def lock(self, event_id: uuid.UUID) -> ProvisionEvent | None:
        """The event, row-locked until the transaction ends (a worker's claim skips it; a
        claim in progress is waited for), or None."""
        ...

    async def save(self, event: ProvisionEvent) -> None:
        """Store the event's status, attempts, due time, error, lease and resolution."""
        ...


class Ledger(Protocol):
    """The provision events as workers see them: claim the due ones under a lease, then
    store each attempt's outcome. Safe to use from any number of processes at once.

    "Now" is the workers' ``Clock``'s, which an implementation is built with (never a
    database's own clock): due times, leases and expiry are all read on it."""

    async def claim_due(
        self, owner: str, limit: int, lease: timedelta, kinds: Collection[str] | None = None
    ) -> Sequence[ProvisionEvent]:
        """Up to ``limit`` due events of the given ``kinds``, now RUNNING under ``owner``'s
        lease with one more attempt counted; oldest due first. A worker names the kinds it
        has handlers for, so a row no worker can run waits as it is (None: any kind).

        Due means ``ProvisionEvent.is_claimable(now)``: PENDING or FAILED with
        ``next_attempt_at`` reached, or RUNNING on a lease that expired with attempts left
        (its worker died). Two callers never get the same event while its lease holds.
        """
        ...

    async def claim_one(
        self, owner: str, event_id: uuid.UUID, lease: timedelta
    ) -> ProvisionEvent | None:
        """The event ``event_id``, now RUNNING under ``owner``'s lease with one more attempt
        counted, if ``ProvisionEvent.is_claimable_at_once(now)``: waiting (due or not: the
        caller runs it at once), or RUNNING on an expired lease with attempts left. None when
        another holds its lease, it is done, DEAD, or unknown. Never returns an event another
        claim holds."""
        ...

    async def extend_leases(
        self, owner: str, event_ids: Sequence[uuid.UUID], lease: timedelta
    ) -> set[uuid.UUID]:
        """Push the leases ``owner`` still holds on ``event_ids`` to ``lease`` from now;
        returns the ids whose lease it still held."""
        ...

    async def finish(
        self, event: ProvisionEvent, owner: str, follow_ups: Sequence[ProvisionEvent] = ()
    ) -> bool:
        """Store ``event``'s outcome (SUCCEEDED, FAILED, DEAD, or released to PENDING) and
        record ``follow_ups`` (such as its ALERT) in one transaction, but only while ``owner``
        still holds the lease it claimed with.

        Returns False, and changes nothing, when the lease was lost (expired and reclaimed
        by another worker): the old owner never overwrites the new one's work.
        """
        ...

    async def expired_without_attempts(self, limit: int) -> Sequence[ProvisionEvent]:
        """RUNNING events whose lease expired on their last attempt
        (``ProvisionEvent.is_lost(now)``): nobody will reclaim them; the caller gives them up
        (DEAD) with ``give_up``."""
        ...

    async def give_up(
        self, event: ProvisionEvent, follow_ups: Sequence[ProvisionEvent] = ()
    ) -> bool:
        """Store a given-up (DEAD) event and its follow-ups in one transaction, unless the row
        is no longer RUNNING on an expired lease after its last attempt (returns False then:
        another caller got there first)."""
        ...

    async def get(self, event_id: uuid.UUID) -> ProvisionEvent | None:
        """The event, or None."""
        ...


class ScheduledJobRuns(Protocol):
    """Which scheduled job ran for which due time, shared by every worker process."""

    async def claim(self, job_name: str, due_at: datetime, owner: str) -> bool:
        """Take the run of ``job_name`` for ``due_at``; True for exactly one caller ever, so a
        job runs at most once per due time however many workers ask."""
        ...

    async def finish(self, job_name: str, due_at: datetime, error: str | None) -> None:
        """Record that the claimed run ended, with its error text when it failed."""
        ...


class PartnerRepository(Protocol):
    """Partner organisations, by the id their subscriptions and tokens carry."""

    async def get(self, partner_id: str) -> Partner | None:
        """The partner, or None."""
        ...

    async def add(self, partner: Partner) -> bool:
        """Store a new partner; False (nothing written) when its id is taken."""
        ...

    async def save(self, partner: Partner) -> None:
        """Write back a changed partner."""
        ...


class ChannelTransferRepository(Protocol):
    """Transfers of subscriptions between channels, pending and done."""

    async def add(self, transfer: ChannelTransfer) -> None:
        """Store a new transfer."""
        ...

    async def get(self, transfer_id: uuid.UUID) -> ChannelTransfer | None:
        """The transfer, or None."""
        ...

    async def save(self, transfer: ChannelTransfer) -> None:
        """Write back its status."""
        ...

    async def pending_for(self, subscription_id: uuid.UUID) -> Sequence[ChannelTransfer]:
        """The subscription's transfers still waiting for their moment, locked."""
        ...

    async def claim_due(self, now: datetime, limit: int) -> Sequence[ChannelTransfer]:
        """Up to ``limit`` PENDING transfers effective at or before ``now``, oldest moment
        first, locked (rows another transaction holds are skipped)."""
        ...


class DedicatedTenantRepository(Protocol):
    """Dedicated tenants (one per DEDICATED subscription) and the provisioner's callbacks
    already applied."""

    async def add(self, tenant: DedicatedTenant) -> None:
        """Store a new tenant."""
        ...

    async def get(self, tenant_id: uuid.UUID) -> DedicatedTenant | None:
        """The tenant, locked for update, or None."""
        ...

    async def for_subscription(self, subscription_id: uuid.UUID) -> DedicatedTenant | None:
        """The subscription's tenant, locked for update, or None."""
        ...

    async def save(self, tenant: DedicatedTenant) -> None:
        """Write back its state, facts, history and last error."""
        ...

    async def first_callback(self, callback_id: str, at: datetime) -> bool:
        """Remember a callback id; False when it was applied before (nothing written)."""
        ...

    async def active(self) -> Sequence[DedicatedTenant]:
        """The ACTIVE tenants, locked (rows another transaction holds are skipped)."""
        ...


class UnitOfWork(Protocol):
    """One transaction: every repository inside it sees and writes the same state.

    Leaving the ``async with`` block without ``commit()`` rolls back. The repositories are
    read-only properties, so that adapters may give their own concrete types.
    """

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def namespaces(self) -> NamespaceRepository: ...

    @property
    def trials(self) -> TrialRepository: ...

    @property
    def instances(self) -> InstanceRepository: ...

    @property
    def licenses(self) -> LicenseRepository: ...

    @property
    def usage_reports(self) -> UsageReportRepository: ...

    @property
    def activation_codes(self) -> ActivationCodeRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def provision_events(self) -> ProvisionEventRepository: ...

    @property
    def webhook_endpoints(self) -> WebhookEndpointRepository: ...

    @property
    def partners(self) -> PartnerRepository: ...

    @property
    def channel_transfers(self) -> ChannelTransferRepository: ...

    @property
    def dedicated_tenants(self) -> DedicatedTenantRepository: ...

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, and release the connection."""
        ...

    async def commit(self) -> None:
        """Make the work durable."""
        ...


class LicenseSigner(Protocol):
    """Turns license attributes into the key a GitLab instance loads (protocol §3.1).

    The adapter holds the private key; the domain sees attributes in and a key out. Signing is
    CPU work (an RSA private operation), so adapters run it off the event loop's thread.
    """

    async def sign(self, attributes: Mapping[str, object]) -> str:
        """The license key for ``attributes`` (as made by ``license_attributes``).

        Every call makes a new envelope (fresh AES key and IV), so two calls never return the
        same text: callers store the key and reuse it while the license is unchanged.
        """
        ...


class ReceiptSigner(Protocol):
    """Signs documents Provision hands out as proof (usage-file receipts) with the license
    signing key, so that anyone holding its public key (``provision license public-key``)
    can check them with ``openssl dgst -sha256 -verify``."""

    async def sign_document(self, document: bytes) -> bytes:
        """An RSA PKCS #1 v1.5 signature over SHA-256 of ``document``."""
        ...


class ServiceTokenSigner(Protocol):
    """Signs Cloud Connector service tokens (protocols-next §2.5) with the key published at our
    JWKS, so that the AI gateway can verify them. The adapter adds ``iss``; signing is CPU
    work, run off the event loop's thread."""

    async def sign(self, claims: Mapping[str, object]) -> str:
        """A signed JWT (RS256, with ``kid``) carrying ``claims``."""
        ...


class TenantProvisioner(Protocol):
    """The Dedicated tenant provisioner (a Switchboard-like HTTP API, docs/dedicated.md).
    Every call carries an idempotency key: the same key sent twice is one request. The work
    is asynchronous: the provisioner answers at once and calls back when a state is reached
    or failed. A refusal or an outage raises (the ledger step retries)."""

    async def provision(
        self, tenant_id: uuid.UUID, subscription: str, facts: TenantFacts, key: str
    ) -> None:
        """Ask for a new tenant with these facts."""
        ...

    async def change(self, tenant_id: uuid.UUID, facts: TenantFacts, key: str) -> None:
        """Ask for the tenant to be changed to these facts (more users, more storage)."""
        ...

    async def deliver_license(
        self, tenant_id: uuid.UUID, license_key: str, expires_on: date, key: str
    ) -> None:
        """Install this license key on the tenant."""
        ...

    async def deprovision(self, tenant_id: uuid.UUID, key: str) -> None:
        """Ask for the tenant to be removed."""
        ...


EventHandler = Callable[[ProvisionEvent], Awaitable[None]]
"""Runs one attempt of a provision event (the worker drives it, an adapter implements it):
returning means success, raising means failure (retried). Handlers must be idempotent: an
attempt may run again after a crash or a lost lease."""


class StaffReports(Protocol):
    """The staff reports (``domain.model.reports``), one SQL query each. Callers go through
    ``domain.use_cases.reports``, which lets only staff in."""

    async def report_order_to_access(self, period: Period) -> Sequence[OrderToAccessRow]: ...

    async def report_provisioning_failures(self, period: Period) -> Sequence[FailureRow]: ...

    async def report_open_steps(self, now: datetime) -> Sequence[OpenStepRow]: ...

    async def report_licensing_adoption(self, today: date) -> Sequence[AdoptionRow]: ...

    async def report_stopped_syncing(
        self, now: datetime, days: int, limit: int
    ) -> Sequence[StoppedSyncingRow]: ...

    async def report_seat_overage(
        self, period: Period, today: date, limit: int
    ) -> Sequence[SeatOverageRow]: ...

    async def report_trials(self, period: Period) -> Sequence[TrialRow]: ...
