"""Per-request DataLoaders: one query per batch of keys, built fresh for every request."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from domain.model.customer import Customer
from domain.model.instance import Instance
from domain.model.license import License
from domain.model.namespace import Namespace
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.model.usage import UsageReport
from domain.principal import Principal
from persistence.read_models import Page, ReadModels

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A child page is asked for with the parent id and the connection arguments.
PageKey = tuple[uuid.UUID, int, uuid.UUID | None]


def cached(loader: DataLoader[K, V], key: K) -> V | Awaitable[V]:
    """The value if a batch already loaded it (sync, no coroutine), else the pending load."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and future.exception() is None:
        result: V = future.result()
        return result
    return loader.load(key)


def _by_id_loader(
    fetch: Callable[[Principal, Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, V]]],
    principal: Principal,
) -> DataLoader[uuid.UUID, V | None]:
    async def load(keys: list[uuid.UUID]) -> list[V | None]:
        found = await fetch(principal, keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _page_loader(
    fetch: Callable[..., Awaitable[dict[uuid.UUID, Page[Any]]]],
    principal: Principal,
) -> DataLoader[PageKey, Page[Any]]:
    async def load(keys: list[PageKey]) -> list[Page[Any]]:
        # Keys of one field share their arguments; group in case aliases differ.
        groups: dict[tuple[int, uuid.UUID | None], list[uuid.UUID]] = {}
        for parent_id, first, after in keys:
            groups.setdefault((first, after), []).append(parent_id)
        results: dict[PageKey, Page[Any]] = {}
        for (first, after), parent_ids in groups.items():
            pages = await fetch(principal, parent_ids, first, after)
            for parent_id, page in pages.items():
                results[(parent_id, first, after)] = page
        return [results[key] for key in keys]

    return DataLoader(load_fn=load)


def _dict_loader(
    fetch: Callable[[Principal, Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, V]]],
    principal: Principal,
    default: Callable[[], V | None],
) -> DataLoader[uuid.UUID, V | None]:
    async def load(keys: list[uuid.UUID]) -> list[V | None]:
        found = await fetch(principal, keys)
        return [found.get(key, default()) for key in keys]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    customers: DataLoader[uuid.UUID, Customer | None]
    subscriptions: DataLoader[uuid.UUID, Subscription | None]
    namespaces: DataLoader[uuid.UUID, Namespace | None]
    licenses: DataLoader[uuid.UUID, License | None]
    instances: DataLoader[uuid.UUID, Instance | None]
    trials: DataLoader[uuid.UUID, Trial | None]
    usage_reports: DataLoader[uuid.UUID, UsageReport | None]
    licenses_by_subscription: DataLoader[PageKey, Page[License]]
    instances_by_subscription: DataLoader[PageKey, Page[Instance]]
    subscriptions_by_customer: DataLoader[PageKey, Page[Subscription]]
    subscription_by_namespace: DataLoader[uuid.UUID, Subscription | None]
    trials_by_namespace: DataLoader[uuid.UUID, list[Trial] | None]
    latest_usage: DataLoader[uuid.UUID, UsageReport | None]

    @classmethod
    def build(cls, read: ReadModels, principal: Principal) -> Loaders:
        return cls(
            customers=_by_id_loader(read.customers_by_ids, principal),
            subscriptions=_by_id_loader(read.subscriptions_by_ids, principal),
            namespaces=_by_id_loader(read.namespaces_by_ids, principal),
            licenses=_by_id_loader(read.licenses_by_ids, principal),
            instances=_by_id_loader(read.instances_by_ids, principal),
            trials=_by_id_loader(read.trials_by_ids, principal),
            usage_reports=_by_id_loader(read.usage_reports_by_ids, principal),
            licenses_by_subscription=_page_loader(read.licenses_by_subscription, principal),
            instances_by_subscription=_page_loader(read.instances_by_subscription, principal),
            subscriptions_by_customer=_page_loader(read.subscriptions_by_customer, principal),
            subscription_by_namespace=_by_id_loader(read.subscriptions_by_namespace, principal),
            trials_by_namespace=_dict_loader(read.trials_by_namespace, principal, list),
            latest_usage=_by_id_loader(read.latest_usage_by_subscription, principal),
        )
