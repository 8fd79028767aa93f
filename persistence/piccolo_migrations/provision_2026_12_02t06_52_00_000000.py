"""The audit chain (docs/audit.md): ``audit_entry`` gains ``reason`` and its place in a chain
(``chain``, ``sequence``, ``previous_hash``, ``hash``), ``audit_chain_head`` holds each chain's
last link, and the rows already there are chained into the first lane in (at, id) order.

The hash is the one ``domain.model.audit_chain`` computes (its ``FORMAT`` names the version):
a later format is a later migration, so importing it here stays true to what this one wrote.
"""

import json

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Varchar
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-02T06:52:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: the audit chain"

BATCH = 1000


class AuditEntry(Table, tablename="audit_entry", schema=None):
    """The columns this migration adds, frozen."""

    reason = Text(null=True, default=None)
    chain = Varchar(length=20, null=True, default=None)
    sequence = BigInt(null=True, default=None)
    previous_hash = Varchar(length=64, null=True, default=None)
    hash = Varchar(length=64, null=True, default=None)


class AuditChainHead(Table, tablename="audit_chain_head", schema=None):
    chain = Varchar(length=20, primary_key=True)
    sequence = BigInt()
    hash = Varchar(length=64)


async def _backfill() -> None:
    from domain.model.audit import AuditEntry as Entry
    from domain.model.audit_chain import CHAINS, GENESIS, link_hash

    # The migration's own transaction: the backfill commits with the columns, or not at all.
    connection = engine_finder().current_transaction.get().connection
    sequence, previous = 0, GENESIS
    while True:
        rows = await connection.fetch(
            "SELECT id, actor_kind, actor_subject, action, object_type, object_id,"
            " idempotency_key, before::text AS before, after::text AS after, at, reason"
            " FROM audit_entry WHERE sequence IS NULL ORDER BY at, id LIMIT $1",
            BATCH,
        )
        if not rows:
            break
        links = []
        for row in rows:
            entry = Entry(
                id=row["id"],
                actor_kind=row["actor_kind"],
                actor_subject=row["actor_subject"],
                action=row["action"],
                object_type=row["object_type"],
                object_id=row["object_id"],
                idempotency_key=row["idempotency_key"],
                before=json.loads(row["before"]),
                after=json.loads(row["after"]),
                at=row["at"],
                reason=row["reason"],
                chain=CHAINS[0],
            )
            sequence += 1
            digest = link_hash(entry, sequence, previous)
            links.append((CHAINS[0], sequence, previous, digest, entry.id))
            previous = digest
        await connection.executemany(
            "UPDATE audit_entry SET chain = $1, sequence = $2, previous_hash = $3, hash = $4"
            " WHERE id = $5",
            links,
        )
    await connection.executemany(
        "INSERT INTO audit_chain_head (chain, sequence, hash) VALUES ($1, $2, $3)",
        [(CHAINS[0], sequence, previous), *((chain, 0, GENESIS) for chain in CHAINS[1:])],
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for name in ("reason", "chain", "sequence", "previous_hash", "hash"):
            column = AuditEntry._meta.get_column_by_name(name)
            await engine.run_ddl(f"ALTER TABLE audit_entry ADD COLUMN {column.ddl}")
        await engine.run_ddl(
            "ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_chain_sequence"
            ' UNIQUE ("chain", "sequence")'
        )
        for statement in AuditChainHead.create_table().ddl:
            await engine.run_ddl(statement)
        await _backfill()

    async def drop() -> None:
        engine = engine_finder()
        await engine.run_ddl("DROP TABLE IF EXISTS audit_chain_head")
        for name in ("hash", "previous_hash", "sequence", "chain", "reason"):
            await engine.run_ddl(f"ALTER TABLE audit_entry DROP COLUMN IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
