"""Partners and channel transfers: the repositories the use cases write through, and the
partner list a principal sees (its reach as SQL: staff all, a partner its own row)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from domain.model.channel_transfer import ChannelTransfer, TransferStatus
from domain.model.enums import Channel
from domain.model.partner import Partner, PartnerKind
from domain.policy import Reach, Resource, reach
from domain.principal import Principal
from persistence.database import Database

PARTNER_COLUMNS = "p.id, p.name, p.kind, p.created_at"
TRANSFER_COLUMNS = (
    "id, subscription, from_channel, from_partner_id, to_channel, to_partner_id, effective_at,"
    " reason, requested_at, requested_by, status, applied_at"
)


def partner_from_row(row: asyncpg.Record) -> Partner:
    return Partner(row["id"], row["name"], PartnerKind(row["kind"]), row["created_at"])


def transfer_from_row(row: asyncpg.Record) -> ChannelTransfer:
    return ChannelTransfer(
        id=row["id"],
        subscription_id=row["subscription"],
        from_channel=Channel(row["from_channel"]),
        from_partner_id=row["from_partner_id"],
        to_channel=Channel(row["to_channel"]),
        to_partner_id=row["to_partner_id"],
        effective_at=row["effective_at"],
        reason=row["reason"],
        requested_at=row["requested_at"],
        requested_by=row["requested_by"],
        status=TransferStatus(row["status"]),
        applied_at=row["applied_at"],
    )


async def ensure_partner(db: Database, partner_id: str, channel: Channel, at: datetime) -> None:
    """The partner row for an id met on a subscription, made (named after its id) if missing:
    every partner id a subscription carries has its row."""
    first = Partner.first_met(partner_id, channel, at)
    await db.fetch(
        "INSERT INTO partner (id, name, kind, created_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO NOTHING",
        first.id,
        first.name,
        first.kind.value,
        first.created_at,
    )


class PostgresPartners:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, partner_id: str) -> Partner | None:
        row = await self._db.fetchrow(
            f"SELECT {PARTNER_COLUMNS} FROM partner p WHERE p.id = $1", partner_id
        )
        return partner_from_row(row) if row else None

    async def add(self, partner: Partner) -> bool:
        added = await self._db.fetchval(
            "INSERT INTO partner (id, name, kind, created_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (id) DO NOTHING RETURNING id",
            partner.id,
            partner.name,
            partner.kind.value,
            partner.created_at,
        )
        return added is not None

    async def save(self, partner: Partner) -> None:
        await self._db.fetch(
            "UPDATE partner SET name = $2, kind = $3 WHERE id = $1",
            partner.id,
            partner.name,
            partner.kind.value,
        )

    # --- reads -------------------------------------------------------------------------------

    @staticmethod
    def _reach(principal: Principal, arg: int) -> tuple[str, list[object]] | None:
        level = reach(principal, Resource.PARTNERS)
        if level is Reach.EVERYTHING:
            return "TRUE", []
        if level is Reach.OWN_CHANNEL:
            return f"p.id = ${arg}", [principal.partner_id]
        return None

    async def visible_to(
        self, principal: Principal, first: int, after: str | None
    ) -> tuple[list[Partner], bool]:
        """The partners ``principal`` sees, by id, a keyset page (and whether more follow)."""
        where = self._reach(principal, 3)
        if where is None:
            return [], False
        condition, args = where
        rows = await self._db.fetch(
            f"SELECT {PARTNER_COLUMNS} FROM partner p"
            f" WHERE {condition} AND ($1::text IS NULL OR p.id > $1) ORDER BY p.id LIMIT $2",
            after,
            first + 1,
            *args,
        )
        return [partner_from_row(row) for row in rows[:first]], len(rows) > first

    async def count_visible(self, principal: Principal) -> int:
        where = self._reach(principal, 1)
        if where is None:
            return 0
        condition, args = where
        count: int = await self._db.fetchval(
            f"SELECT count(*) FROM partner p WHERE {condition}", *args
        )
        return count

    async def by_ids(self, partner_ids: Sequence[str]) -> dict[str, Partner]:
        """Partners by id, unfiltered: for the partner of a subscription the caller sees."""
        rows = await self._db.fetch(
            f"SELECT {PARTNER_COLUMNS} FROM partner p WHERE p.id = ANY($1::text[])",
            list(partner_ids),
        )
        return {row["id"]: partner_from_row(row) for row in rows}


class PostgresChannelTransfers:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, transfer: ChannelTransfer) -> None:
        await self._db.fetch(
            f"INSERT INTO channel_transfer ({TRANSFER_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            transfer.id,
            transfer.subscription_id,
            transfer.from_channel.value,
            transfer.from_partner_id,
            transfer.to_channel.value,
            transfer.to_partner_id,
            transfer.effective_at,
            transfer.reason,
            transfer.requested_at,
            transfer.requested_by,
            transfer.status.value,
            transfer.applied_at,
        )

    async def get(self, transfer_id: uuid.UUID) -> ChannelTransfer | None:
        row = await self._db.fetchrow(
            f"SELECT {TRANSFER_COLUMNS} FROM channel_transfer WHERE id = $1", transfer_id
        )
        return transfer_from_row(row) if row else None

    async def save(self, transfer: ChannelTransfer) -> None:
        await self._db.fetch(
            "UPDATE channel_transfer SET status = $2, applied_at = $3 WHERE id = $1",
            transfer.id,
            transfer.status.value,
            transfer.applied_at,
        )

    async def pending_for(self, subscription_id: uuid.UUID) -> list[ChannelTransfer]:
        rows = await self._db.fetch(
            f"SELECT {TRANSFER_COLUMNS} FROM channel_transfer"
            " WHERE subscription = $1 AND status = 'PENDING' ORDER BY effective_at, id"
            " FOR UPDATE",
            subscription_id,
        )
        return [transfer_from_row(row) for row in rows]

    async def claim_due(self, now: datetime, limit: int) -> list[ChannelTransfer]:
        # Served by channel_transfer_due (effective_at WHERE status = 'PENDING').
        rows = await self._db.fetch(
            f"SELECT {TRANSFER_COLUMNS} FROM channel_transfer"
            " WHERE status = 'PENDING' AND effective_at <= $1 ORDER BY effective_at, id"
            " LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [transfer_from_row(row) for row in rows]
