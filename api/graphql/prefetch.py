"""Look-ahead loading: a list resolver loads the children its selection asks for, one
statement per child field, before the children resolve. The children then find their data
in the loaders' caches and resolve synchronously (no coroutine per item)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from strawberry.types.nodes import SelectedField

from api.graphql.context import Info
from api.graphql.resolve import selected
from api.graphql.sorting import INSTANCES, LICENSES, SUBSCRIPTIONS, Sorts, paging_of
from domain.model.customer import Customer
from domain.model.enums import Deployment
from domain.model.namespace import Namespace
from domain.model.subscription import Subscription


async def _run_all(work: list[Awaitable[Any]]) -> None:
    """Await the loads; concurrently when there are several (each takes its own connection)."""
    if len(work) == 1:
        await work[0]
    elif work:
        await asyncio.gather(*work)


def node_fields(info: Info) -> list[SelectedField]:
    """The selections under ``edges { node { … } }`` of the field being resolved."""
    return selected(info.selected_fields, "edges", "node")


def _page_keys(field: SelectedField, sorts: Sorts, parent_ids: Sequence[Any]) -> list[Any] | None:
    pages = paging_of(sorts, field.arguments)
    if pages is None:
        return None  # the child resolver reports the bad argument itself
    return [(parent_id, pages.request) for parent_id in parent_ids]


async def prefetch_subscriptions(
    info: Info, fields: list[SelectedField], subscriptions: Sequence[Subscription]
) -> None:
    if not subscriptions or not fields:
        return
    loaders = info.context.loaders
    ids = [s.id for s in subscriptions]
    work: list[Awaitable[Any]] = []
    for name, sorts, loader in (
        ("licenses", LICENSES, loaders.licenses_by_subscription),
        ("instances", INSTANCES, loaders.instances_by_subscription),
    ):
        for field in selected(fields, name):
            keys = _page_keys(field, sorts, ids)
            if keys:
                work.append(loader.prefetch(keys))
    if selected(fields, "customer"):
        work.append(loaders.customers.prefetch({s.customer_id for s in subscriptions}))
    wants_usage = bool(selected(fields, "usage"))
    if selected(fields, "namespace") or wants_usage:
        namespace_ids = {s.namespace_id for s in subscriptions if s.namespace_id is not None}
        if namespace_ids:
            work.append(loaders.namespaces.prefetch(namespace_ids))
    if wants_usage:
        self_managed = [s.id for s in subscriptions if s.deployment is not Deployment.GITLAB_COM]
        if self_managed:
            work.append(loaders.latest_usage.prefetch(self_managed))
    await _run_all(work)


async def prefetch_customers(
    info: Info, fields: list[SelectedField], customers: Sequence[Customer]
) -> None:
    if not customers:
        return
    loader = info.context.loaders.subscriptions_by_customer
    work: list[Awaitable[Any]] = []
    for field in selected(fields, "subscriptions"):
        keys = _page_keys(field, SUBSCRIPTIONS, [c.id for c in customers])
        if keys:
            work.append(loader.prefetch(keys))
    await _run_all(work)


async def prefetch_namespaces(
    info: Info, fields: list[SelectedField], namespaces: Sequence[Namespace]
) -> None:
    if not namespaces:
        return
    loaders = info.context.loaders
    ids = [n.id for n in namespaces]
    work: list[Awaitable[Any]] = []
    if selected(fields, "plan") or selected(fields, "trials"):
        work.append(loaders.trials_by_namespace.prefetch(ids))
    if selected(fields, "subscription"):
        work.append(loaders.subscription_by_namespace.prefetch(ids))
    await _run_all(work)
