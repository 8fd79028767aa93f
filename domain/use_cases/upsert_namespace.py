"""upsertNamespace and reportNamespaceUsage: GitLab.com keeps our copy of its namespaces
current (staff may too). A rename keeps the namespace's links: it is known by its GitLab id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import Forbidden, NotFound
from domain.model.audit import AuditEntry
from domain.model.customer import validate_email
from domain.model.enums import NamespaceKind, NamespacePlan
from domain.model.namespace import Namespace, NamespaceUsage
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.emails import seat_overage

KEEPERS = (PrincipalKind.GITLAB_COM, PrincipalKind.STAFF)


@dataclass(frozen=True)
class UpsertNamespace:
    gitlab_id: int
    path: str
    name: str
    kind: NamespaceKind
    parent_gitlab_id: int | None = None
    owner_emails: tuple[str, ...] | None = None
    owner_gitlab_user_ids: tuple[int, ...] | None = None
    gitlab_plan: NamespacePlan | None = None
    """The base plan GitLab.com shows on the group: recorded unless a subscription here is
    linked to it (then the plan is ours to give, and GitLab.com's view may lag behind)."""


@dataclass(frozen=True)
class ReportNamespaceUsage:
    gitlab_id: int
    billable_members: int
    max_seats_used: int
    compute_minutes_used: int
    storage_used_bytes: int


def _summary(namespace: Namespace) -> dict[str, Any]:
    return {
        "path": namespace.path,
        "name": namespace.name,
        "kind": namespace.kind.value,
        "parentGitlabId": namespace.parent_gitlab_id,
        "ownerEmails": list(namespace.owner_emails),
        "ownerGitlabUserIds": list(namespace.owner_user_ids),
        "basePlan": namespace.base_plan.value,
    }


def _keeper(principal: Principal) -> None:
    require_scope(principal, Resource.NAMESPACES, Access.WRITE)
    if principal.kind not in KEEPERS:
        raise Forbidden("GitLab.com (or staff) keeps the namespaces current")


class NamespaceKeeping:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    async def find(self, gitlab_id: int) -> Namespace | None:
        async with self._unit_of_work() as uow:
            return await uow.namespaces.get_by_gitlab_id(gitlab_id)

    async def upsert(self, principal: Principal, command: UpsertNamespace) -> Namespace:
        _keeper(principal)
        emails = (
            tuple(validate_email(e, path=("ownerEmails",)) for e in command.owner_emails)
            if command.owner_emails is not None
            else None
        )
        async with self._unit_of_work() as uow:
            now = self._clock.now()
            namespace = await uow.namespaces.get_by_gitlab_id(command.gitlab_id)
            before = _summary(namespace) if namespace else {}
            if namespace is None:
                namespace = Namespace(
                    gitlab_id=command.gitlab_id,
                    path=command.path,
                    name=command.name,
                    kind=command.kind,
                    created_at=now,
                    parent_gitlab_id=command.parent_gitlab_id,
                    owner_emails=emails or (),
                    owner_user_ids=command.owner_gitlab_user_ids or (),
                    base_plan=command.gitlab_plan or NamespacePlan.FREE,
                )
                await uow.namespaces.add(namespace)
            else:
                changed = Namespace(
                    **{
                        **namespace.__dict__,
                        "path": command.path,
                        "name": command.name,
                        "kind": command.kind,
                        "parent_gitlab_id": command.parent_gitlab_id,
                        "owner_emails": namespace.owner_emails if emails is None else emails,
                        "owner_user_ids": namespace.owner_user_ids
                        if command.owner_gitlab_user_ids is None
                        else command.owner_gitlab_user_ids,
                    }
                )
                namespace = changed
                if (
                    command.gitlab_plan is not None
                    and await uow.subscriptions.linked_to(namespace.id) is None
                ):
                    namespace.base_plan = command.gitlab_plan
                await uow.namespaces.save(namespace)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "upsertNamespace",
                    "Namespace",
                    namespace.id,
                    now,
                    before=before,
                    after=_summary(namespace),
                )
            )
            await uow.commit()
        return namespace

    async def report_usage(self, principal: Principal, command: ReportNamespaceUsage) -> Namespace:
        _keeper(principal)
        async with self._unit_of_work() as uow:
            now = self._clock.now()
            namespace = await uow.namespaces.get_by_gitlab_id(command.gitlab_id)
            if namespace is None:
                raise NotFound("no namespace with that GitLab id", path=("gitlabId",))
            namespace.usage = NamespaceUsage(
                billable_members=command.billable_members,
                max_seats_used=command.max_seats_used,
                compute_minutes_used=command.compute_minutes_used,
                storage_used_bytes=command.storage_used_bytes,
                reported_at=now,
            )
            await uow.namespaces.save(namespace)
            linked = await uow.subscriptions.linked_to(namespace.id)
            if linked is not None:
                await seat_overage(uow, linked, command.max_seats_used, now)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "reportNamespaceUsage",
                    "Namespace",
                    namespace.id,
                    now,
                    after={
                        "billableMembers": command.billable_members,
                        "maxSeatsUsed": command.max_seats_used,
                        "computeMinutesUsed": command.compute_minutes_used,
                        "storageUsedBytes": command.storage_used_bytes,
                    },
                )
            )
            await uow.commit()
        return namespace


@dataclass(frozen=True)
class RenameNamespace:
    """GitLab.com's ``orderNamespaceNameUpdate`` (protocol §2.2 C11): a linked group renamed."""

    gitlab_id: int
    name: str


async def rename_namespace(
    keeping: NamespaceKeeping, principal: Principal, command: RenameNamespace
) -> Namespace:
    """The namespace with its new name; its links stay (it is known by its GitLab id). Who may
    rename is checked first: a caller who may not learns nothing of which ids exist."""
    _keeper(principal)
    current = await keeping.find(command.gitlab_id)
    if current is None:
        raise NotFound("no namespace with that GitLab id", path=("namespaceId",))
    return await keeping.upsert(
        principal,
        UpsertNamespace(
            gitlab_id=current.gitlab_id,
            path=current.path,
            name=command.name,
            kind=current.kind,
            parent_gitlab_id=current.parent_gitlab_id,
        ),
    )
