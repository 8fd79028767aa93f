"""Self-managed: instances, licenses and seat-link usage reports."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from domain.model.instance import Instance
from domain.model.license import License, license_key_digest
from domain.model.usage import UsageReport, UsageSource, report_identity
from persistence import seat_usage
from persistence.database import Database
from persistence.mappers import (
    INSTANCE_COLUMNS,
    LICENSE_COLUMNS,
    USAGE_REPORT_COLUMNS,
    add_ons_to_json,
    instance_from_row,
    license_from_row,
    usage_report_from_row,
)


class PostgresInstances:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, instance: Instance) -> None:
        await self._db.fetch(
            "INSERT INTO instance (id, instance_identifier, subscription, hostname,"
            " gitlab_version, activated_at, last_synced_at, role, retired_at, access_ends_on,"
            " replaced_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            instance.id,
            instance.instance_identifier,
            instance.subscription_id,
            instance.hostname,
            instance.gitlab_version,
            instance.activated_at,
            instance.last_synced_at,
            instance.role.value,
            instance.retired_at,
            instance.access_ends_on,
            instance.replaced_by,
        )

    async def get(self, instance_id: uuid.UUID) -> Instance | None:
        row = await self._db.fetchrow(
            f"SELECT {INSTANCE_COLUMNS} FROM instance i WHERE i.id = $1 FOR UPDATE", instance_id
        )
        return instance_from_row(row) if row else None

    async def find(self, subscription_id: uuid.UUID, instance_identifier: str) -> Instance | None:
        row = await self._db.fetchrow(
            f"SELECT {INSTANCE_COLUMNS} FROM instance i"
            " WHERE i.subscription = $1 AND i.instance_identifier = $2",
            subscription_id,
            instance_identifier,
        )
        return instance_from_row(row) if row else None

    async def save(self, instance: Instance) -> None:
        await self._db.fetch(
            "UPDATE instance SET role = $2, retired_at = $3, access_ends_on = $4,"
            " replaced_by = $5 WHERE id = $1",
            instance.id,
            instance.role.value,
            instance.retired_at,
            instance.access_ends_on,
            instance.replaced_by,
        )
        # A role or a retirement changes what counts towards the seats used.
        await seat_usage.refresh(self._db, instance.subscription_id)

    async def stale(self, before: datetime, limit: int) -> Sequence[Instance]:
        rows = await self._db.fetch(
            f"SELECT {INSTANCE_COLUMNS} FROM instance i WHERE i.retired_at IS NULL"
            " AND coalesce(i.last_synced_at, i.activated_at) <= $1 ORDER BY i.id LIMIT $2",
            before,
            limit,
        )
        return [instance_from_row(row) for row in rows]

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
            " block_changes_at, license_key, created_at, key_digest, retires_instance) VALUES ($1,"
            " $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,"
            " $20, $21, $22, $23)",
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
            license_.retires_instance,
        )

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> License | None:
        row = await self._db.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.subscription = $1"
            " AND l.retires_instance IS NULL ORDER BY l.id DESC LIMIT 1",
            subscription_id,
        )
        return license_from_row(row) if row else None

    async def end_key_of(self, instance_id: uuid.UUID) -> License | None:
        row = await self._db.fetchrow(
            f"SELECT {LICENSE_COLUMNS} FROM license l WHERE l.retires_instance = $1"
            " ORDER BY l.id DESC LIMIT 1",
            instance_id,
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
        await seat_usage.refresh(self._db, report.subscription_id, report.reported_at.date())

    async def latest_for_subscription(self, subscription_id: uuid.UUID) -> UsageReport | None:
        row = await self._db.fetchrow(
            f"SELECT {USAGE_REPORT_COLUMNS} FROM usage_report u WHERE u.subscription = $1"
            " ORDER BY u.reported_at DESC, u.id DESC LIMIT 1",
            subscription_id,
        )
        return usage_report_from_row(row) if row else None

    async def latest_by_instance(self, subscription_id: uuid.UUID) -> dict[uuid.UUID, UsageReport]:
        rows = await self._db.fetch(
            f"SELECT DISTINCT ON (u.instance) {USAGE_REPORT_COLUMNS} FROM usage_report u"
            " WHERE u.subscription = $1 AND u.instance IS NOT NULL"
            " ORDER BY u.instance, u.reported_at DESC, u.id DESC",
            subscription_id,
        )
        return {row["instance"]: usage_report_from_row(row) for row in rows}

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
        if rows:
            await seat_usage.refresh(self._db, report.subscription_id, report.reported_at.date())
        return bool(rows)

    async def add_many_once(self, reports: Sequence[UsageReport]) -> int:
        if not reports:
            return 0
        stored: int = await self._db.fetchval(
            "WITH added AS (INSERT INTO usage_report (id, subscription, billable_users,"
            " max_historical_users, reported_at, report_key, source, license)"
            " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[],"
            " $5::timestamptz[], $6::text[], $7::text[], $8::uuid[])"
            " ON CONFLICT (subscription, report_key) DO NOTHING RETURNING 1)"
            " SELECT count(*) FROM added",
            [r.id for r in reports],
            [r.subscription_id for r in reports],
            [r.billable_users for r in reports],
            [r.max_historical_users for r in reports],
            [r.reported_at for r in reports],
            [report_key(r) for r in reports],
            [_source(r) for r in reports],
            [r.license_id for r in reports],
        )
        if stored:
            for subscription_id in sorted({r.subscription_id for r in reports}):
                newest = max(r.reported_at for r in reports if r.subscription_id == subscription_id)
                await seat_usage.refresh(self._db, subscription_id, newest.date())
        return stored


def _source(report: UsageReport) -> str | None:
    """NULL for seat link (the column came later: older rows have NULL too)."""
    return None if report.source is UsageSource.SEAT_LINK else report.source.value


def report_key(report: UsageReport) -> str:
    """``report_identity`` but the subscription (its own column), as the unique index keeps it."""
    _, instance, at = report_identity(report)
    return f"{instance}|{at.astimezone(UTC).isoformat()}"
