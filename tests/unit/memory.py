"""In-memory fakes of the storage ports: a unit of work that keeps what was committed only."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from domain.errors import IdempotencyKeyInFlight
from domain.model.audit import AuditEntry
from domain.model.channel_transfer import ChannelTransfer, TransferStatus
from domain.model.customer import Customer, Membership
from domain.model.dedicated import DedicatedTenant, TenantState
from domain.model.enums import Role, TrialType
from domain.model.idempotency import IdempotencyRecord
from domain.model.instance import Instance
from domain.model.license import License, license_key_digest
from domain.model.namespace import Namespace
from domain.model.partner import Partner
from domain.model.provision_event import ProvisionEvent
from domain.model.subscription import Subscription, subscription_name
from domain.model.trial import Trial
from domain.model.usage import UsageReport, report_identity
from domain.model.webhook import WebhookEndpoint, WebhookEventType


@dataclass
class Store:
    """What the fake database holds."""

    customers: dict[uuid.UUID, Customer] = field(default_factory=dict)
    memberships: list[Membership] = field(default_factory=list)
    subscriptions: dict[uuid.UUID, Subscription] = field(default_factory=dict)
    activation_codes: dict[uuid.UUID, str] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    idempotency: dict[tuple[str, str, str], IdempotencyRecord] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)
    events: list[ProvisionEvent] = field(default_factory=list)
    sequence: int = 0
    instances: list[Instance] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)
    """Oldest first (ids are time-ordered, as the database orders them)."""
    usage_reports: list[UsageReport] = field(default_factory=list)
    namespaces: dict[uuid.UUID, Namespace] = field(default_factory=dict)
    reverted_trials: set[uuid.UUID] = field(default_factory=set)
    """Trials the expiry job reverted (the trial table's ``reverted_on``)."""
    webhook_endpoints: dict[uuid.UUID, WebhookEndpoint] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    transfers: dict[uuid.UUID, ChannelTransfer] = field(default_factory=dict)
    tenants: dict[uuid.UUID, DedicatedTenant] = field(default_factory=dict)
    callbacks: set[str] = field(default_factory=set)


class _Partners:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def get(self, partner_id: str) -> Partner | None:
        return self.s.partners.get(partner_id)

    async def add(self, partner: Partner) -> bool:
        if partner.id in self.s.partners:
            return False
        self.s.partners[partner.id] = partner
        return True

    async def save(self, partner: Partner) -> None:
        self.s.partners[partner.id] = partner


class _Tenants:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def add(self, tenant: DedicatedTenant) -> None:
        self.s.tenants[tenant.id] = copy.deepcopy(tenant)

    async def get(self, tenant_id: uuid.UUID) -> DedicatedTenant | None:
        found = self.s.tenants.get(tenant_id)
        return copy.deepcopy(found) if found else None

    async def for_subscription(self, subscription_id: uuid.UUID) -> DedicatedTenant | None:
        for tenant in self.s.tenants.values():
            if tenant.subscription_id == subscription_id:
                return copy.deepcopy(tenant)
        return None

    async def save(self, tenant: DedicatedTenant) -> None:
        self.s.tenants[tenant.id] = copy.deepcopy(tenant)

    async def first_callback(self, callback_id: str, at: datetime) -> bool:
        if callback_id in self.s.callbacks:
            return False
        self.s.callbacks.add(callback_id)
        return True

    async def active(self) -> list[DedicatedTenant]:
        return [copy.deepcopy(t) for t in self.s.tenants.values() if t.state is TenantState.ACTIVE]


class _Transfers:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def add(self, transfer: ChannelTransfer) -> None:
        self.s.transfers[transfer.id] = transfer

    async def get(self, transfer_id: uuid.UUID) -> ChannelTransfer | None:
        return self.s.transfers.get(transfer_id)

    async def save(self, transfer: ChannelTransfer) -> None:
        self.s.transfers[transfer.id] = transfer

    async def pending_for(self, subscription_id: uuid.UUID) -> list[ChannelTransfer]:
        return [
            t
            for t in self.s.transfers.values()
            if t.subscription_id == subscription_id and t.status is TransferStatus.PENDING
        ]

    async def claim_due(self, now: datetime, limit: int) -> list[ChannelTransfer]:
        due = sorted(
            (t for t in self.s.transfers.values() if t.is_due(now)),
            key=lambda t: (t.effective_at, t.id),
        )
        return due[:limit]


class _Customers:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        return self.s.customers.get(customer_id)

    async def add(self, customer: Customer) -> None:
        self.s.customers[customer.id] = customer

    async def role_of(self, customer_id: uuid.UUID, user_subject: str) -> Role | None:
        return next(
            (
                m.role
                for m in self.s.memberships
                if m.customer_id == customer_id and m.user_subject == user_subject
            ),
            None,
        )

    async def bought_from(self, customer_id: uuid.UUID, partner_id: str) -> bool:
        return any(
            s.customer_id == customer_id and s.partner_id == partner_id
            for s in self.s.subscriptions.values()
        )

    async def add_membership(self, membership: Membership) -> None:
        self.s.memberships.append(membership)


class _Subscriptions:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def get(self, subscription_id: uuid.UUID) -> Subscription | None:
        return self.s.subscriptions.get(subscription_id)

    async def lock(self, subscription_id: uuid.UUID) -> Subscription | None:
        return self.s.subscriptions.get(subscription_id)

    async def get_by_name(self, name: str) -> Subscription | None:
        return next((s for s in self.s.subscriptions.values() if s.name == name), None)

    async def next_name(self) -> str:
        self.s.sequence += 1
        return subscription_name(self.s.sequence)

    async def add(self, subscription: Subscription) -> None:
        self.s.subscriptions[subscription.id] = subscription

    async def save(self, subscription: Subscription) -> None:
        self.s.subscriptions[subscription.id] = subscription

    async def linked_to(self, namespace_id: uuid.UUID) -> Subscription | None:
        return next(
            (s for s in self.s.subscriptions.values() if s.namespace_id == namespace_id), None
        )

    async def ending_without_renewal(self, first: date, last: date) -> list[Subscription]:
        found = [s for s in self.s.subscriptions.values() if s.ends_without_renewal(first, last)]
        return sorted(found, key=lambda s: (s.end_date, s.id))


class _Namespaces:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def get(self, namespace_id: uuid.UUID) -> Namespace | None:
        return self.s.namespaces.get(namespace_id)

    async def lock(self, namespace_id: uuid.UUID) -> Namespace | None:
        return self.s.namespaces.get(namespace_id)

    async def get_by_gitlab_id(self, gitlab_id: int) -> Namespace | None:
        return next((n for n in self.s.namespaces.values() if n.gitlab_id == gitlab_id), None)

    async def add(self, namespace: Namespace) -> None:
        self.s.namespaces[namespace.id] = namespace

    async def save(self, namespace: Namespace) -> None:
        self.s.namespaces[namespace.id] = namespace


class _ActivationCodes:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def set(self, subscription_id: uuid.UUID, code_hash: str, at: datetime) -> None:
        self.s.activation_codes[subscription_id] = code_hash

    async def subscription_for(self, code_hash: str) -> uuid.UUID | None:
        return next((k for k, v in self.s.activation_codes.items() if v == code_hash), None)


class _Audit:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def record(self, entry: AuditEntry) -> None:
        self.s.audit.append(entry)


class _Outbox:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def record(self, event: ProvisionEvent) -> None:
        self.s.events.append(event)

    async def record_once(self, event: ProvisionEvent) -> bool:
        once = event.payload.get("once")
        if once is not None and any(e.payload.get("once") == once for e in self.s.events):
            return False
        self.s.events.append(event)
        return True


class _WebhookEndpoints:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def add(self, endpoint: WebhookEndpoint) -> None:
        self.s.webhook_endpoints[endpoint.id] = endpoint

    async def get(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        return self.s.webhook_endpoints.get(endpoint_id)

    async def save(self, endpoint: WebhookEndpoint) -> None:
        self.s.webhook_endpoints[endpoint.id] = endpoint

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        self.s.webhook_endpoints.pop(endpoint_id, None)

    async def recent_outcomes(
        self, endpoint_id: uuid.UUID, limit: int, excluding: uuid.UUID | None = None
    ) -> list[str]:
        finished = sorted(
            (
                e
                for e in self.s.events
                if e.kind == "WEBHOOK_DELIVERY"
                and e.payload.get("endpoint_id") == str(endpoint_id)
                and e.status.value in ("SUCCEEDED", "DEAD", "RESOLVED")
                and e.id != excluding
            ),
            key=lambda e: e.id,
            reverse=True,
        )
        return [e.status.value for e in finished[:limit]]

    async def hearing(
        self, event_type: WebhookEventType, customer_id: uuid.UUID | None, partner_id: str | None
    ) -> list[WebhookEndpoint]:
        return [
            e
            for e in sorted(self.s.webhook_endpoints.values(), key=lambda e: e.id)
            if e.hears(event_type, customer_id, partner_id)
        ]


class _Idempotency:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def find(self, scope: str, operation: str, key: str) -> IdempotencyRecord | None:
        return self.s.idempotency.get((scope, operation, key))

    async def save(self, record: IdempotencyRecord) -> None:
        where = (record.scope, record.operation, record.key)
        if where in self.s.idempotency:
            raise IdempotencyKeyInFlight("in flight")
        self.s.idempotency[where] = record


class _Instances:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def add(self, instance: Instance) -> None:
        self.s.instances.append(instance)

    async def for_subscription(self, subscription_id: uuid.UUID) -> list[Instance]:
        return [i for i in self.s.instances if i.subscription_id == subscription_id]

    async def get(self, instance_id: uuid.UUID) -> Instance | None:
        return next((i for i in self.s.instances if i.id == instance_id), None)

    async def find(self, subscription_id: uuid.UUID, instance_identifier: str) -> Instance | None:
        return next(
            (
                i
                for i in self.s.instances
                if i.subscription_id == subscription_id
                and i.instance_identifier == instance_identifier
            ),
            None,
        )

    async def save(self, instance: Instance) -> None:
        pass  # the stored object is the one changed

    async def stale(self, before: datetime, limit: int) -> list[Instance]:
        found = [
            i
            for i in self.s.instances
            if i.retired_at is None and (i.last_synced_at or i.activated_at) <= before
        ]
        return sorted(found, key=lambda i: i.id)[:limit]

    async def record_sync(
        self,
        subscription_id: uuid.UUID,
        instance_identifier: str,
        at: datetime,
        hostname: str | None,
        gitlab_version: str | None,
    ) -> uuid.UUID | None:
        for instance in await self.for_subscription(subscription_id):
            if instance.instance_identifier == instance_identifier:
                instance.last_synced_at = at
                instance.hostname = hostname or instance.hostname
                instance.gitlab_version = gitlab_version or instance.gitlab_version
                return instance.id
        return None


class _Licenses:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def add(self, license_: License) -> None:
        self.s.licenses.append(license_)

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> License | None:
        return next(
            (
                lic
                for lic in reversed(self.s.licenses)
                if lic.subscription_id == subscription_id and lic.retires_instance is None
            ),
            None,
        )

    async def end_key_of(self, instance_id: uuid.UUID) -> License | None:
        return next(
            (lic for lic in reversed(self.s.licenses) if lic.retires_instance == instance_id),
            None,
        )

    async def get(self, license_id: uuid.UUID) -> License | None:
        return next((lic for lic in self.s.licenses if lic.id == license_id), None)

    async def find_by_key(self, license_key: str) -> License | None:
        digest = license_key_digest(license_key)
        return next(
            (lic for lic in self.s.licenses if license_key_digest(lic.license_key) == digest),
            None,
        )


class _Trials:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def add(self, trial: Trial) -> None:
        self.s.trials.append(trial)

    async def for_subscription(self, subscription_id: uuid.UUID) -> list[Trial]:
        return [t for t in self.s.trials if t.subscription_id == subscription_id]

    async def email_used(self, email: str, trial_type: TrialType) -> bool:
        return any(
            t.subscription_id and (t.email or "").lower() == email.lower() and t.type is trial_type
            for t in self.s.trials
        )

    async def get(self, trial_id: uuid.UUID) -> Trial | None:
        return next((t for t in self.s.trials if t.id == trial_id), None)

    async def save(self, trial: Trial) -> None:
        self.s.trials = [trial if t.id == trial.id else t for t in self.s.trials]
        self.s.reverted_trials.discard(trial.id)  # a trial that runs again is reverted again

    async def claim_ended(self, today: date, limit: int) -> list[Trial]:
        ended = sorted(
            (
                t
                for t in self.s.trials
                if t.namespace_id is not None
                and t.id not in self.s.reverted_trials
                and t.has_ended(today)
            ),
            key=lambda t: t.ends_on,
        )[:limit]
        self.s.reverted_trials.update(t.id for t in ended)
        return ended

    async def for_namespace(self, namespace_id: uuid.UUID) -> list[Trial]:
        return [t for t in self.s.trials if t.namespace_id == namespace_id]

    async def ending_between(self, first: date, last: date) -> list[Trial]:
        found = [
            t
            for t in self.s.trials
            if t.namespace_id is not None
            and t.id not in self.s.reverted_trials
            and first <= t.ends_on <= last
        ]
        return sorted(found, key=lambda t: (t.ends_on, t.id))


class FakeSigner:
    """Signs by numbering: each call a new key, as the real envelope's fresh AES key makes."""

    def __init__(self) -> None:
        self.signed: list[Mapping[str, object]] = []

    async def sign(self, attributes: Mapping[str, object]) -> str:
        self.signed.append(attributes)
        return f"key-{len(self.signed)}"


class _UsageReports:
    def __init__(self, store: Store) -> None:
        self.s = store

    async def add(self, report: UsageReport) -> None:
        self.s.usage_reports.append(report)

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> UsageReport | None:
        mine = [r for r in self.s.usage_reports if r.subscription_id == subscription_id]
        return max(mine, key=lambda r: r.reported_at, default=None)

    async def latest_by_instance(self, subscription_id: uuid.UUID) -> dict[uuid.UUID, UsageReport]:
        latest: dict[uuid.UUID, UsageReport] = {}
        for r in self.s.usage_reports:
            if r.subscription_id != subscription_id or r.instance_id is None:
                continue
            if r.instance_id not in latest or r.reported_at >= latest[r.instance_id].reported_at:
                latest[r.instance_id] = r
        return latest

    async def add_once(self, report: UsageReport) -> bool:
        identity = report_identity(report)
        if any(report_identity(r) == identity for r in self.s.usage_reports):
            return False
        self.s.usage_reports.append(report)
        return True

    async def add_many_once(self, reports: Sequence[UsageReport]) -> int:
        return sum([await self.add_once(report) for report in reports])


class MemoryUnitOfWork:
    """Works on a copy of the store; ``commit()`` makes the copy the store."""

    def __init__(self, committed: Store) -> None:
        self.committed = committed
        self._work: Store | None = None

    def _bind(self, store: Store) -> None:
        self.customers: Any = _Customers(store)
        self.subscriptions: Any = _Subscriptions(store)
        self.activation_codes: Any = _ActivationCodes(store)
        self.audit: Any = _Audit(store)
        self.idempotency: Any = _Idempotency(store)
        self.instances: Any = _Instances(store)
        self.licenses: Any = _Licenses(store)
        self.trials: Any = _Trials(store)
        self.namespaces: Any = _Namespaces(store)
        self.usage_reports: Any = _UsageReports(store)
        self.outbox: Any = _Outbox(store)
        self.webhook_endpoints: Any = _WebhookEndpoints(store)
        self.partners: Any = _Partners(store)
        self.channel_transfers: Any = _Transfers(store)
        self.dedicated_tenants: Any = _Tenants(store)

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self.committed)
        self._bind(self._work)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._work = None

    async def commit(self) -> None:
        assert self._work is not None
        self.committed.__dict__.update(copy.deepcopy(self._work).__dict__)
