"""Repositories: the domain's storage ports on PostgreSQL. They return and take domain entities."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import asyncpg

from domain.errors import IdempotencyKeyInFlight, NamespaceAlreadyLinked, TrialAlreadyUsed
from domain.model.audit import AuditEntry
from domain.model.customer import Customer, Membership
from domain.model.enums import Role, TrialType
from domain.model.idempotency import IdempotencyRecord
from domain.model.ids import new_id
from domain.model.instance import Instance
from domain.model.license import License, license_key_digest
from domain.model.namespace import Namespace
from domain.model.subscription import Subscription, subscription_name
from domain.model.trial import Trial
from domain.model.usage import UsageReport, report_identity
from persistence.database import Database
from persistence.mappers import (
    CUSTOMER_COLUMNS,
    INSTANCE_COLUMNS,
    LICENSE_COLUMNS,
    NAMESPACE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    TRIAL_COLUMNS,
    USAGE_REPORT_COLUMNS,
    add_ons_to_json,
    customer_from_row,
    instance_from_row,
    license_from_row,
    namespace_from_row,
    subscription_from_row,
    trial_from_row,
    usage_report_from_row,
)


class PostgresCustomers:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        row = await self._db.fetchrow(
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.id = $1", customer_id
        )
        return customer_from_row(row) if row else None

    async def add(self, customer: Customer) -> None:
        await self._db.fetch(
            "INSERT INTO customer (id, company, contact_name, contact_email, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            customer.id,
            customer.company,
            customer.contact_name,
            customer.contact_email,
            customer.created_at,
        )

    async def role_of(self, customer_id: uuid.UUID, user_subject: str) -> Role | None:
        role = await self._db.fetchval(
            "SELECT role FROM membership WHERE customer = $1 AND user_subject = $2",
            customer_id,
            user_subject,
        )
        return Role(role) if role else None

    async def bought_from(self, customer_id: uuid.UUID, partner_id: str) -> bool:
        found = await self._db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM subscription WHERE customer = $1 AND partner_id = $2)",
            customer_id,
            partner_id,
        )
        return bool(found)

    async def add_membership(self, membership: Membership) -> None:
        await self._db.fetch(
            "INSERT INTO membership (id, customer, user_subject, role) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (customer, user_subject) DO UPDATE SET role = EXCLUDED.role",
            uuid.uuid4(),
            membership.customer_id,
            membership.user_subject,
            membership.role.value,
        )


class PostgresSubscriptions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, subscription_id: uuid.UUID) -> Subscription | None:
        row = await self._db.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.id = $1", subscription_id
        )
        return subscription_from_row(row) if row else None

    async def ending_without_renewal(self, first: date, last: date) -> Sequence[Subscription]:
        # Served by subscription_ending_without_renewal (end_date, same condition).
        rows = await self._db.fetch(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.cancelled_at IS NULL"
            " AND (NOT s.auto_renew OR s.cancel_at_period_end)"
            " AND s.end_date BETWEEN $1 AND $2 ORDER BY s.end_date, s.id",
            first,
            last,
        )
        return [subscription_from_row(row) for row in rows]

    async def linked_to(self, namespace_id: uuid.UUID) -> Subscription | None:
        row = await self._db.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.namespace = $1",
            namespace_id,
        )
        return subscription_from_row(row) if row else None

    async def lock(self, subscription_id: uuid.UUID) -> Subscription | None:
        # Lock the bare row first (the column list aggregates children, which FOR UPDATE
        # cannot lock), then read it whole.
        locked = await self._db.fetchval(
            "SELECT id FROM subscription WHERE id = $1 FOR UPDATE", subscription_id
        )
        return await self.get(subscription_id) if locked else None

    async def get_by_name(self, name: str) -> Subscription | None:
        row = await self._db.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.name = $1", name
        )
        return subscription_from_row(row) if row else None

    async def next_name(self) -> str:
        number = await self._db.fetchval("SELECT nextval('subscription_number_seq')")
        return subscription_name(int(number))

    async def add(self, subscription: Subscription) -> None:
        await self._db.fetch(
            "INSERT INTO subscription (id, name, customer, deployment, plan, channel, partner_id,"
            " auto_renew, licensing_mode, max_instances, reconciliation_enabled,"
            " cancel_at_period_end, cancelled_at, namespace, start_date, end_date, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            subscription.id,
            subscription.name,
            subscription.customer_id,
            subscription.deployment.value,
            subscription.plan.value,
            subscription.channel.value,
            subscription.partner_id,
            subscription.auto_renew,
            subscription.licensing_mode.value if subscription.licensing_mode else None,
            subscription.max_instances,
            subscription.reconciliation_enabled,
            subscription.cancel_at_period_end,
            subscription.cancelled_at,
            subscription.namespace_id,
            subscription.start_date,
            subscription.end_date,
            subscription.created_at,
        )
        await self._write_children(subscription)

    async def save(self, subscription: Subscription) -> None:
        try:
            await self._update(subscription)
        except asyncpg.UniqueViolationError:
            # subscription_one_per_namespace: another subscription took the group first.
            raise NamespaceAlreadyLinked(
                "the group is linked to another subscription", path=("namespaceId",)
            ) from None

    async def _update(self, subscription: Subscription) -> None:
        await self._db.fetch(
            "UPDATE subscription SET plan = $2, auto_renew = $3, licensing_mode = $4,"
            " max_instances = $5, reconciliation_enabled = $6, cancel_at_period_end = $7,"
            " cancelled_at = $8, namespace = $9, start_date = $10, end_date = $11 WHERE id = $1",
            subscription.id,
            subscription.plan.value,
            subscription.auto_renew,
            subscription.licensing_mode.value if subscription.licensing_mode else None,
            subscription.max_instances,
            subscription.reconciliation_enabled,
            subscription.cancel_at_period_end,
            subscription.cancelled_at,
            subscription.namespace_id,
            subscription.start_date,
            subscription.end_date,
        )
        await self._db.fetch(
            "DELETE FROM subscription_segment WHERE subscription = $1", subscription.id
        )
        await self._db.fetch(
            "DELETE FROM subscription_add_on WHERE subscription = $1", subscription.id
        )
        await self._write_children(subscription)

    async def _write_children(self, subscription: Subscription) -> None:
        await self._db.execute_many(
            "INSERT INTO subscription_segment (id, subscription, term_index, start_date, end_date,"
            " seats) VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (uuid.uuid4(), subscription.id, index, s.start_date, s.end_date, s.seats)
                for index, term in enumerate(subscription.terms)
                for s in term.segments
            ],
        )
        if subscription.add_ons:
            await self._db.execute_many(
                "INSERT INTO subscription_add_on (id, subscription, kind, quantity, start_date,"
                " end_date) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    (
                        uuid.uuid4(),
                        subscription.id,
                        a.kind.value,
                        a.quantity,
                        a.start_date,
                        a.end_date,
                    )
                    for a in subscription.add_ons
                ],
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
        rows = await self._db.fetch(
            f"UPDATE trial t SET reverted_on = $1 WHERE t.id IN (SELECT id FROM trial"
            " WHERE namespace IS NOT NULL AND reverted_on IS NULL AND ends_on <= $1"
            f" ORDER BY ends_on LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)"
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


class PostgresInstances:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, instance: Instance) -> None:
        await self._db.fetch(
            "INSERT INTO instance (id, instance_identifier, subscription, hostname,"
            " gitlab_version, activated_at, last_synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            instance.id,
            instance.instance_identifier,
            instance.subscription_id,
            instance.hostname,
            instance.gitlab_version,
            instance.activated_at,
            instance.last_synced_at,
        )

    async def for_subscription(self, subscription_id: uuid.UUID) -> Sequence[Instance]:
        rows = await self._db.fetch(
            f"SELECT {INSTANCE_COLUMNS} FROM instance i WHERE i.subscription = $1 ORDER BY i.id",
            subscription_id,
        )
        return [instance_from_row(row) for row in rows]

    async def record_sync(
        self,
        subscription_id: uuid.UUID,
        instance_identifier: str,
        at: datetime,
        hostname: str | None,
        gitlab_version: str | None,
    ) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._db.fetchval(
            "UPDATE instance SET last_synced_at = $3, hostname = coalesce($4, hostname),"
            " gitlab_version = coalesce($5, gitlab_version)"
            " WHERE subscription = $1 AND instance_identifier = $2 RETURNING id",
            subscription_id,
            instance_identifier,
            at,
            hostname,
            gitlab_version,
        )
        return found


class PostgresLicenses:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, license_: License) -> None:
        await self._db.fetch(
            "INSERT INTO license (id, subscription, instance, mode, plan, seats, starts_at,"
            " expires_at, trial, cancelled, auto_renew, reconciliation_enabled, add_ons,"
            " licensee_name, licensee_email, licensee_company, notify_admins_at, notify_users_at,"
            " block_changes_at, license_key, created_at, key_digest) VALUES ($1, $2, $3, $4, $5,"
            " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
            license_.id,
            license_.subscription_id,
            license_.instance_id,
            license_.mode.value,
            license_.plan.value,
            license_.seats,
            license_.starts_at,
            license_.expires_at,
            license_.trial,
            license_.cancelled,
            license_.auto_renew,
            license_.reconciliation_enabled,
            add_ons_to_json(license_.add_ons),
            license_.licensee.name,
            license_.licensee.email,
            license_.licensee.company,
            license_.notify_admins_at,
            license_.notify_users_at,
            license_.block_changes_at,
            license_.license_key,
            license_.created_at,
            license_key_digest(license_.license_key),
        )

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> License | None:
        row = await self._db.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.subscription = $1"
            " ORDER BY l.id DESC LIMIT 1",
            subscription_id,
        )
        return license_from_row(row) if row else None

    async def get(self, license_id: uuid.UUID) -> License | None:
        row = await self._db.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.id = $1", license_id
        )
        return license_from_row(row) if row else None

    async def find_by_key(self, license_key: str) -> License | None:
        row = await self._db.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.key_digest = $1"
            " ORDER BY l.id LIMIT 1",
            license_key_digest(license_key),
        )
        return license_from_row(row) if row else None


class PostgresUsageReports:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, report: UsageReport) -> None:
        await self._db.fetch(
            "INSERT INTO usage_report (id, subscription, instance, billable_users,"
            " max_historical_users, add_on_seats, gitlab_version, hostname, reported_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            report.id,
            report.subscription_id,
            report.instance_id,
            report.billable_users,
            report.max_historical_users,
            json.dumps(report.add_on_seats),
            report.gitlab_version,
            report.hostname,
            report.reported_at,
        )

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> UsageReport | None:
        row = await self._db.fetchrow(
            f"SELECT {USAGE_REPORT_COLUMNS} FROM usage_report u WHERE u.subscription = $1"
            " ORDER BY u.reported_at DESC, u.id DESC LIMIT 1",
            subscription_id,
        )
        return usage_report_from_row(row) if row else None

    async def add_once(self, report: UsageReport) -> bool:
        rows = await self._db.fetch(
            "INSERT INTO usage_report (id, subscription, instance, billable_users,"
            " max_historical_users, add_on_seats, gitlab_version, hostname, reported_at,"
            " instance_identifier, report_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
            " $11) ON CONFLICT (subscription, report_key) DO NOTHING RETURNING id",
            report.id,
            report.subscription_id,
            report.instance_id,
            report.billable_users,
            report.max_historical_users,
            json.dumps(report.add_on_seats),
            report.gitlab_version,
            report.hostname,
            report.reported_at,
            report.instance_identifier,
            report_key(report),
        )
        return bool(rows)


def report_key(report: UsageReport) -> str:
    """``report_identity`` but the subscription (its own column), as the unique index keeps it."""
    _, instance, at = report_identity(report)
    return f"{instance}|{at.astimezone(UTC).isoformat()}"


class PostgresActivationCodes:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, subscription_id: uuid.UUID, code_hash: str, at: datetime) -> None:
        await self._db.fetch(
            "INSERT INTO activation_code (id, subscription, code_hash, created_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (subscription)"
            " DO UPDATE SET code_hash = EXCLUDED.code_hash, created_at = EXCLUDED.created_at",
            new_id(),
            subscription_id,
            code_hash,
            at,
        )

    async def subscription_for(self, code_hash: str) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._db.fetchval(
            "SELECT subscription FROM activation_code WHERE code_hash = $1", code_hash
        )
        return found


class PostgresAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, entry: AuditEntry) -> None:
        await self._db.fetch(
            "INSERT INTO audit_entry (id, actor_kind, actor_subject, action, object_type,"
            " object_id, idempotency_key, before, after, at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            entry.id,
            entry.actor_kind,
            entry.actor_subject,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.idempotency_key,
            json.dumps(dict(entry.before), default=str),
            json.dumps(dict(entry.after), default=str),
            entry.at,
        )


class PostgresIdempotency:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, scope: str, operation: str, key: str) -> IdempotencyRecord | None:
        row = await self._db.fetchrow(
            "SELECT fingerprint, result FROM idempotency_record"
            " WHERE scope = $1 AND operation = $2 AND key = $3",
            scope,
            operation,
            key,
        )
        if row is None:
            return None
        return IdempotencyRecord(
            scope, operation, key, row["fingerprint"], json.loads(row["result"])
        )

    async def save(self, record: IdempotencyRecord) -> None:
        try:
            await self._db.fetch(
                "INSERT INTO idempotency_record (id, scope, operation, key, fingerprint, result,"
                " created_at) VALUES ($1, $2, $3, $4, $5, $6, now())",
                new_id(),
                record.scope,
                record.operation,
                record.key,
                record.fingerprint,
                json.dumps(record.result),
            )
        except asyncpg.UniqueViolationError:
            raise IdempotencyKeyInFlight(
                "a request with this idempotency key is in progress; retry shortly",
                path=("idempotencyKey",),
            ) from None
