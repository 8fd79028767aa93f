"""GitLab.com namespaces and their trials."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import asyncpg

from domain.errors import TrialAlreadyUsed
from domain.model.enums import TrialType
from domain.model.namespace import Namespace
from domain.model.trial import Trial
from persistence import seat_usage
from persistence.database import Database
from persistence.mappers import (
    NAMESPACE_COLUMNS,
    TRIAL_COLUMNS,
    namespace_from_row,
    trial_from_row,
)


class PostgresNamespaces:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, namespace_id: uuid.UUID) -> Namespace | None:
        row = await self._db.fetchrow(
            f"SELECT {NAMESPACE_COLUMNS} FROM namespace n WHERE n.id = $1", namespace_id
        )
        return namespace_from_row(row) if row else None

    async def lock(self, namespace_id: uuid.UUID) -> Namespace | None:
        locked = await self._db.fetchval(
            "SELECT id FROM namespace WHERE id = $1 FOR UPDATE", namespace_id
        )
        return await self.get(namespace_id) if locked else None

    async def get_by_gitlab_id(self, gitlab_id: int) -> Namespace | None:
        row = await self._db.fetchrow(
            f"SELECT {NAMESPACE_COLUMNS} FROM namespace n WHERE n.gitlab_id = $1", gitlab_id
        )
        return namespace_from_row(row) if row else None

    async def add(self, namespace: Namespace) -> None:
        await self._db.fetch(
            "INSERT INTO namespace (id, gitlab_id, path, name, kind, parent_gitlab_id,"
            " owner_user_ids, owner_emails, base_plan, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            namespace.id,
            namespace.gitlab_id,
            namespace.path,
            namespace.name,
            namespace.kind.value,
            namespace.parent_gitlab_id,
            list(namespace.owner_user_ids),
            list(namespace.owner_emails),
            namespace.base_plan.value,
            namespace.created_at,
        )
        await self.save(namespace)

    async def save(self, namespace: Namespace) -> None:
        usage = namespace.usage
        await self._db.fetch(
            "UPDATE namespace SET path = $2, name = $3, kind = $4, parent_gitlab_id = $5,"
            " owner_user_ids = $6, owner_emails = $7, base_plan = $8, billable_members = $9,"
            " max_seats_used = $10, compute_minutes_used = $11, storage_used_bytes = $12,"
            " usage_reported_at = $13 WHERE id = $1",
            namespace.id,
            namespace.path,
            namespace.name,
            namespace.kind.value,
            namespace.parent_gitlab_id,
            list(namespace.owner_user_ids),
            list(namespace.owner_emails),
            namespace.base_plan.value,
            usage.billable_members if usage else None,
            usage.max_seats_used if usage else None,
            usage.compute_minutes_used if usage else None,
            usage.storage_used_bytes if usage else None,
            usage.reported_at if usage else None,
        )
        if usage is not None:
            await seat_usage.refresh_for_namespace(self._db, namespace.id, usage.reported_at.date())


class PostgresTrials:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, trial: Trial) -> None:
        try:
            await self._insert(trial)
        except asyncpg.UniqueViolationError:
            # trial_one_per_email_and_type: two first trials raced; the loser is a repeat.
            raise TrialAlreadyUsed("only one trial per email and type", path=("email",)) from None

    async def _insert(self, trial: Trial) -> None:
        await self._db.fetch(
            "INSERT INTO trial (id, type, namespace, subscription, email, starts_on, ends_on,"
            " reverts_to, extended, reactivated, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            trial.id,
            trial.type.value,
            trial.namespace_id,
            trial.subscription_id,
            trial.email,
            trial.starts_on,
            trial.ends_on,
            trial.reverts_to.value if trial.reverts_to else None,
            trial.extended,
            trial.reactivated,
            trial.created_at,
        )

    async def get(self, trial_id: uuid.UUID) -> Trial | None:
        row = await self._db.fetchrow(
            f"SELECT {TRIAL_COLUMNS} FROM trial t WHERE t.id = $1 FOR UPDATE", trial_id
        )
        return trial_from_row(row) if row else None

    async def save(self, trial: Trial) -> None:
        await self._db.fetch(
            "UPDATE trial SET starts_on = $2, ends_on = $3, extended = $4, reactivated = $5,"
            " reverted_on = NULL WHERE id = $1",
            trial.id,
            trial.starts_on,
            trial.ends_on,
            trial.extended,
            trial.reactivated,
        )

    async def claim_ended(self, today: date, limit: int) -> Sequence[Trial]:
        # MATERIALIZED: the picked rows are the claimed ones, never more than the limit.
        rows = await self._db.fetch(
            "WITH ended AS MATERIALIZED (SELECT id FROM trial"
            " WHERE namespace IS NOT NULL AND reverted_on IS NULL AND ends_on <= $1"
            f" ORDER BY ends_on LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)"
            f" UPDATE trial t SET reverted_on = $1 FROM ended WHERE t.id = ended.id"
            f" RETURNING {TRIAL_COLUMNS}",
            today,
        )
        return [trial_from_row(row) for row in rows]

    async def for_subscription(self, subscription_id: uuid.UUID) -> Sequence[Trial]:
        rows = await self._db.fetch(
            f"SELECT {TRIAL_COLUMNS} FROM trial t WHERE t.subscription = $1 ORDER BY t.id",
            subscription_id,
        )
        return [trial_from_row(row) for row in rows]

    async def email_used(self, email: str, trial_type: TrialType) -> bool:
        found = await self._db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM trial WHERE subscription IS NOT NULL"
            " AND lower(email) = lower($1) AND type = $2)",
            email,
            trial_type.value,
        )
        return bool(found)

    async def for_namespace(self, namespace_id: uuid.UUID) -> Sequence[Trial]:
        rows = await self._db.fetch(
            f"SELECT {TRIAL_COLUMNS} FROM trial t WHERE t.namespace = $1 ORDER BY t.id",
            namespace_id,
        )
        return [trial_from_row(row) for row in rows]

    async def ending_between(self, first: date, last: date) -> Sequence[Trial]:
        # Served by trial_ended_unreverted (ends_on, same condition).
        rows = await self._db.fetch(
            f"SELECT {TRIAL_COLUMNS} FROM trial t WHERE t.namespace IS NOT NULL"
            " AND t.reverted_on IS NULL AND t.ends_on BETWEEN $1 AND $2 ORDER BY t.ends_on, t.id",
            first,
            last,
        )
        return [trial_from_row(row) for row in rows]
