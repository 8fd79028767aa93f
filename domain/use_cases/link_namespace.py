"""linkNamespace and unlinkNamespace (DESIGN §2 Linking): a GitLab.com subscription gives its
plan to one top-level group; relinking moves it (the old group reverts to its base plan);
unlinking (staff) reverts the group. Every change records the GitLab.com provisioning to do as
ledger rows, in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.errors import (
    Forbidden,
    NamespaceAlreadyLinked,
    NamespaceNotTopLevel,
    NotFound,
    NotNamespaceOwner,
    SubscriptionNotActive,
    SubscriptionNotSaas,
)
from domain.model.audit import AuditEntry
from domain.model.channel_policy import SubscriptionAction
from domain.model.enums import Deployment, NamespaceKind, NamespacePlan, SubscriptionStatus
from domain.model.namespace import Namespace
from domain.model.provision_event import ProvisionEvent
from domain.model.provisioning import namespace_provision, provision_body
from domain.model.subscription import Subscription
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.subscription_changes_shared import check_channel_policy


@dataclass(frozen=True)
class LinkNamespace:
    subscription_id: uuid.UUID
    namespace_id: uuid.UUID


@dataclass(frozen=True)
class UnlinkNamespace:
    subscription_id: uuid.UUID


@dataclass(frozen=True)
class Linked:
    subscription: Subscription
    namespace: Namespace | None
    events: tuple[ProvisionEvent, ...]


def owns(principal: Principal, namespace: Namespace) -> bool:
    email = (principal.email or "").lower()
    return bool(email) and email in {e.lower() for e in namespace.owner_emails}


async def may_see_namespace(uow: UnitOfWork, principal: Principal, namespace: Namespace) -> bool:
    """Whether the namespace is within the caller's reach. A portal user reaches the groups it
    owns and those linked to a subscription of one of its customers; outside its reach a group
    is answered as missing (``NotFound``), so an id tells nothing of another tenant."""
    if principal.kind is not PrincipalKind.PORTAL_USER:
        return True
    if owns(principal, namespace):
        return True
    linked = await uow.subscriptions.linked_to(namespace.id)
    if linked is None or not principal.subject:
        return False
    return await uow.customers.role_of(linked.customer_id, principal.subject) is not None


def provision_event(
    namespace: Namespace,
    subscription: Subscription | None,
    now: datetime,
    max_attempts: int,
    correlation_id: str | None = None,
) -> ProvisionEvent:
    return namespace_provision(
        namespace,
        provision_body(namespace, subscription, now.date()),
        now,
        max_attempts,
        subscription_id=subscription.id if subscription else None,
        correlation_id=correlation_id,
    )


class LinkNamespaceHandler:
    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], clock: Clock, max_attempts: int = 8
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._max_attempts = max_attempts

    async def link(self, principal: Principal, command: LinkNamespace) -> Linked:
        require_scope(principal, Resource.NAMESPACES, Access.WRITE)
        if principal.kind not in (PrincipalKind.STAFF, PrincipalKind.PORTAL_USER):
            raise Forbidden("groups are linked by their owners in the portal, or by staff")
        async with self._unit_of_work() as uow:
            now = self._clock.now()
            today = now.date()
            subscription = await uow.subscriptions.lock(command.subscription_id)
            if subscription is None:
                raise NotFound("no such subscription", path=("subscriptionId",))
            await check_channel_policy(
                uow, principal, subscription, (SubscriptionAction.LINK_NAMESPACE,)
            )
            namespace = await uow.namespaces.get(command.namespace_id)
            if namespace is None or not await may_see_namespace(uow, principal, namespace):
                raise NotFound("no such namespace", path=("namespaceId",))
            if subscription.deployment is not Deployment.GITLAB_COM:
                raise SubscriptionNotSaas(
                    "only GitLab.com subscriptions link to groups", path=("subscriptionId",)
                )
            if subscription.status(today) is not SubscriptionStatus.ACTIVE:
                raise SubscriptionNotActive(
                    "only an active subscription gives a group its plan", path=("subscriptionId",)
                )
            if namespace.kind is not NamespaceKind.GROUP or not namespace.top_level:
                raise NamespaceNotTopLevel(
                    "only top-level groups can be linked", path=("namespaceId",)
                )
            if principal.kind is PrincipalKind.PORTAL_USER and not owns(principal, namespace):
                raise NotNamespaceOwner("you do not own this group", path=("namespaceId",))
            current = await uow.subscriptions.linked_to(namespace.id)
            if current is not None and current.id != subscription.id:
                if current.status(today) is SubscriptionStatus.ACTIVE:
                    raise NamespaceAlreadyLinked(
                        f"the group is linked to {current.name} already", path=("namespaceId",)
                    )
                current.namespace_id = None  # an ended subscription lets go of the group
                await uow.subscriptions.save(current)
            events: list[ProvisionEvent] = []
            before = subscription.namespace_id
            if before is not None and before != namespace.id:
                old = await uow.namespaces.get(before)
                if old is not None:  # relinking: the old group goes back to the free plan
                    old.base_plan = NamespacePlan.FREE
                    await uow.namespaces.save(old)
                    events.append(provision_event(old, None, now, self._max_attempts))
            subscription.namespace_id = namespace.id
            await uow.subscriptions.save(subscription)  # the unique index settles races
            namespace.base_plan = NamespacePlan(subscription.plan.value)
            await uow.namespaces.save(namespace)
            correlation = str(events[0].correlation_id) if events else None
            events.append(
                provision_event(namespace, subscription, now, self._max_attempts, correlation)
            )
            for event in events:
                await uow.outbox.record(event)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "linkNamespace",
                    "Subscription",
                    subscription.id,
                    now,
                    before={"namespaceId": str(before) if before else None},
                    after={"namespaceId": str(namespace.id)},
                )
            )
            await uow.commit()
        return Linked(subscription, namespace, tuple(events))

    async def unlink(self, principal: Principal, command: UnlinkNamespace) -> Linked:
        require_scope(principal, Resource.NAMESPACES, Access.WRITE)
        if principal.kind is not PrincipalKind.STAFF:
            raise Forbidden("only staff unlink groups")
        async with self._unit_of_work() as uow:
            now = self._clock.now()
            subscription = await uow.subscriptions.lock(command.subscription_id)
            if subscription is None:
                raise NotFound("no such subscription", path=("subscriptionId",))
            if subscription.namespace_id is None:
                raise NotFound(
                    "the subscription is not linked to a group", path=("subscriptionId",)
                )
            namespace = await uow.namespaces.get(subscription.namespace_id)
            subscription.namespace_id = None
            await uow.subscriptions.save(subscription)
            if namespace is not None:
                namespace.base_plan = NamespacePlan.FREE
                await uow.namespaces.save(namespace)
            events = (
                (provision_event(namespace, None, now, self._max_attempts),) if namespace else ()
            )
            for event in events:
                await uow.outbox.record(event)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "unlinkNamespace",
                    "Subscription",
                    subscription.id,
                    now,
                    before={"namespaceId": str(namespace.id) if namespace else None},
                    after={"namespaceId": None},
                )
            )
            await uow.commit()
        return Linked(subscription, namespace, events)
