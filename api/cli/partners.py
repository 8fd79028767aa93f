"""``provision partner create`` and ``partner list``: partner organisations, by an operator
(who acts as staff, as the other operator commands do)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from api.cli.support import with_connection
from api.settings import Settings

if TYPE_CHECKING:
    import asyncpg

MAX_LISTED = 1000


def create_partner(settings: Settings, args: argparse.Namespace) -> int:

    from domain.errors import DomainError
    from domain.model.partner import PartnerKind
    from domain.policy import ALL_SCOPES
    from domain.principal import Principal, PrincipalKind
    from domain.use_cases.partners import CreatePartner, Partners
    from integrations.clock import SystemClock
    from persistence.database import Database
    from persistence.unit_of_work import PostgresUnitOfWork

    operator = Principal(PrincipalKind.STAFF, "cli", ALL_SCOPES)

    async def create(connection: asyncpg.Connection, dsn: str) -> dict[str, str]:
        db = Database(dsn, pool_min=1, pool_max=1)
        await db.start()
        try:
            partners = Partners(lambda: PostgresUnitOfWork(db), SystemClock())
            partner = await partners.create(
                operator, CreatePartner(args.id, args.name, PartnerKind(args.kind))
            )
        finally:
            await db.stop()
        return {"id": partner.id, "name": partner.name, "kind": partner.kind.value}

    try:
        created = with_connection(settings, create)
    except DomainError as refused:
        print(f"partner not created: {refused.message}", file=sys.stderr)
        return 2
    print(json.dumps(created))
    return 0


def list_partners(settings: Settings, args: argparse.Namespace) -> int:
    """The partners by id, with how many OAuth clients act for each (revoked ones aside)."""

    if not 1 <= args.limit <= MAX_LISTED:
        print(f"--limit is 1 to {MAX_LISTED}", file=sys.stderr)
        return 2

    async def run(connection: asyncpg.Connection, dsn: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await connection.fetch(
            "SELECT p.id, p.name, p.kind, p.created_at,"
            "       (SELECT count(*) FROM auth_client c"
            "         WHERE c.partner_id = p.id AND c.revoked_at IS NULL) AS clients"
            "  FROM partner p WHERE ($1::text IS NULL OR p.id > $1) ORDER BY p.id LIMIT $2",
            args.after,
            args.limit + 1,
        )
        return rows

    rows = with_connection(settings, run)
    more, rows = len(rows) > args.limit, rows[: args.limit]
    listed = [
        {
            "id": r["id"],
            "name": r["name"],
            "kind": r["kind"],
            "clients": r["clients"],
            "created_at": r["created_at"].isoformat(),
        }
        for r in rows
    ]
    if args.json:
        print(json.dumps(listed))
    else:
        table = [("ID", "NAME", "KIND", "CLIENTS", "CREATED")] + [
            (p["id"], p["name"], p["kind"], str(p["clients"]), p["created_at"][:19] + "Z")
            for p in listed
        ]
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        for row in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if more:
        print(f"more partners: --after {listed[-1]['id']} shows the next page", file=sys.stderr)
    return 0


async def partner_exists(connection: asyncpg.Connection, partner_id: str) -> bool:
    """Whether a partner row exists: a partner client acts for a registered partner."""
    found = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM partner WHERE id = $1)", partner_id
    )
    return bool(found)
