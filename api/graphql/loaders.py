"""Per-request loaders: one query per batch of keys, built fresh for every request.

A loader answers synchronously when it already holds the value (a list resolver prefetched
it, or an earlier batch loaded it) and returns an awaitable only for a miss, which a
strawberry DataLoader batches with the other misses of the same tick.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from strawberry.dataloader import DataLoader

from domain.model.audit import AuditEntry
from domain.model.customer import Customer
from domain.model.dedicated import DedicatedTenant
from domain.model.enums import Role
from domain.model.instance import Instance
from domain.model.namespace import Namespace
from domain.model.partner import Partner
from domain.model.provision_event import ProvisionEvent
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.model.usage import UsageReport
from domain.principal import Principal
from persistence.read_models import Page, PageRequest, ReadModels
from persistence.views import LicenseView, ProvisioningStepView

Fleet = tuple[list[Instance], dict[uuid.UUID, UsageReport]]
"""A subscription's instances (oldest first) and each one's newest usage report, by instance."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A child page is asked for with the parent id and the connection arguments.
PageKey = tuple[uuid.UUID, PageRequest]


class Loader(Generic[K, V]):
    """Values by key for one request; ``batch`` fetches many keys in one statement."""

    def __init__(self, batch: Callable[[list[K]], Awaitable[list[V]]]) -> None:
        values: dict[K, V] = {}

        # A closure over the dict, not a bound method: a reference cycle through the
        # loader would keep every entity of the request alive until a cyclic collection.
        async def load_misses(keys: list[K]) -> list[V]:
            loaded = await batch(keys)
            values.update(zip(keys, loaded, strict=True))
            return loaded

        self._values = values
        self._load_misses = load_misses
        self._misses: DataLoader[K, V] | None = None  # made on the first miss only

    def get(self, key: K) -> V | asyncio.Future[V]:
        """The value, without a coroutine when it is known; else the batched load's future."""
        try:
            return self._values[key]
        except KeyError:
            if self._misses is None:
                self._misses = DataLoader(load_fn=self._load_misses)
            return self._misses.load(key)  # type: ignore[return-value]  # a Future

    async def load(self, key: K) -> V:
        value = self.get(key)
        if isinstance(value, asyncio.Future):
            loaded: V = await value
            return loaded
        return value

    def release(self) -> None:
        """Drop what was loaded (the request is over)."""
        self._values.clear()
        self._misses = None

    async def prefetch(self, keys: Iterable[K]) -> None:
        """Load the keys not yet known, in one batch, straight into the cache."""
        missing = list(dict.fromkeys(key for key in keys if key not in self._values))
        if missing:
            await self._load_misses(missing)


def _by_id(
    fetch: Callable[[Principal, Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, V]]],
    principal: Principal,
    default: Callable[[], V | None] = lambda: None,
) -> Loader[uuid.UUID, V | None]:
    async def batch(keys: list[uuid.UUID]) -> list[V | None]:
        found = await fetch(principal, keys)
        return [found.get(key, default()) for key in keys]

    return Loader(batch)


def _pages(
    fetch: Callable[..., Awaitable[dict[uuid.UUID, Page[Any]]]],
    principal: Principal,
) -> Loader[PageKey, Page[Any]]:
    async def batch(keys: list[PageKey]) -> list[Page[Any]]:
        # Keys of one field share their arguments; group in case aliases differ.
        groups: dict[PageRequest, list[uuid.UUID]] = {}
        for parent_id, request in keys:
            groups.setdefault(request, []).append(parent_id)
        results: dict[PageKey, Page[Any]] = {}
        for request, parent_ids in groups.items():
            pages = await fetch(principal, parent_ids, request)
            for parent_id, page in pages.items():
                results[(parent_id, request)] = page
        return [results[key] for key in keys]

    return Loader(batch)


def _partners(read: ReadModels) -> Loader[str, Partner | None]:
    async def batch(keys: list[str]) -> list[Partner | None]:
        found = await read.partners_of_subscriptions(keys)
        return [found.get(key) for key in keys]

    return Loader(batch)


@dataclass
class Loaders:
    customers: Loader[uuid.UUID, Customer | None]
    subscriptions: Loader[uuid.UUID, Subscription | None]
    namespaces: Loader[uuid.UUID, Namespace | None]
    licenses: Loader[uuid.UUID, LicenseView | None]
    instances: Loader[uuid.UUID, Instance | None]
    trials: Loader[uuid.UUID, Trial | None]
    usage_reports: Loader[uuid.UUID, UsageReport | None]
    licenses_by_subscription: Loader[PageKey, Page[LicenseView]]
    instances_by_subscription: Loader[PageKey, Page[Instance]]
    subscriptions_by_customer: Loader[PageKey, Page[Subscription]]
    subscription_by_namespace: Loader[uuid.UUID, Subscription | None]
    trials_by_namespace: Loader[uuid.UUID, list[Trial] | None]
    provisioning_steps: Loader[uuid.UUID, list[ProvisioningStepView] | None]
    latest_usage: Loader[uuid.UUID, UsageReport | None]
    subscription_counts_by_customer: Loader[uuid.UUID, int | None]
    license_counts: Loader[uuid.UUID, int | None]
    instance_counts: Loader[uuid.UUID, int | None]
    license_keys: Loader[uuid.UUID, str | None]
    provision_events: Loader[uuid.UUID, ProvisionEvent | None]
    audit_entries: Loader[uuid.UUID, AuditEntry | None]
    partners: Loader[str, Partner | None]
    """The partner of a subscription the caller sees."""
    viewer_roles: Loader[uuid.UUID, Role | None]
    """The caller's role in a customer (portal users; None for everyone else)."""
    dedicated_tenants: Loader[uuid.UUID, DedicatedTenant | None]
    dedicated_tenant_by_subscription: Loader[uuid.UUID, DedicatedTenant | None]
    fleets: Loader[uuid.UUID, Fleet | None]
    """A self-managed subscription's instances and each one's newest usage report."""

    def release(self) -> None:
        """Drop every loaded entity at the end of the request.

        graphql-core's execution context is a reference cycle that holds the request
        context; without this the whole request's data would wait for the cyclic collector.
        """
        for loader in vars(self).values():
            loader.release()

    @classmethod
    def build(cls, read: ReadModels, principal: Principal) -> Loaders:
        return cls(
            customers=_by_id(read.customers_by_ids, principal),
            subscriptions=_by_id(read.subscriptions_by_ids, principal),
            namespaces=_by_id(read.namespaces_by_ids, principal),
            licenses=_by_id(read.licenses_by_ids, principal),
            instances=_by_id(read.instances_by_ids, principal),
            trials=_by_id(read.trials_by_ids, principal),
            usage_reports=_by_id(read.usage_reports_by_ids, principal),
            licenses_by_subscription=_pages(read.licenses_by_subscription, principal),
            instances_by_subscription=_pages(read.instances_by_subscription, principal),
            subscriptions_by_customer=_pages(read.subscriptions_by_customer, principal),
            subscription_by_namespace=_by_id(read.subscriptions_by_namespace, principal),
            trials_by_namespace=_by_id(read.trials_by_namespace, principal, list),
            provisioning_steps=_by_id(read.provisioning_steps_by_namespace, principal, list),
            latest_usage=_by_id(read.latest_usage_by_subscription, principal),
            subscription_counts_by_customer=_by_id(read.count_subscriptions_by_customer, principal),
            license_counts=_by_id(read.count_licenses_by_subscription, principal),
            instance_counts=_by_id(read.count_instances_by_subscription, principal),
            license_keys=_by_id(read.license_keys_by_ids, principal),
            provision_events=_by_id(read.provision_events_by_ids, principal),
            audit_entries=_by_id(read.audit_entries_by_ids, principal),
            partners=_partners(read),
            viewer_roles=_by_id(read.roles_in, principal),
            dedicated_tenants=_by_id(read.dedicated_tenants_by_ids, principal),
            dedicated_tenant_by_subscription=_by_id(
                read.dedicated_tenants_by_subscription, principal
            ),
            fleets=_by_id(read.fleets_by_subscription, principal),
        )
