"""Reading the audit chain back (docs/audit.md): every entry in chain order for
``provision audit verify``, the stored head, and a day's head for ``provision audit anchor``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from domain.model.audit import AuditEntry
from domain.model.audit_chain import CHAINS, GENESIS, ChainHead, ChainProblem, ChainVerifier

Connection = asyncpg.Connection | PoolConnectionProxy
BATCH = 2000
_COLUMNS = (
    "id, actor_kind, actor_subject, action, object_type, object_id, idempotency_key,"
    " before::text AS before, after::text AS after, at, reason, chain, sequence,"
    " previous_hash, hash"
)


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
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
        chain=row["chain"],
        sequence=row["sequence"],
        previous_hash=row["previous_hash"],
        hash=row["hash"],
    )


async def entries(connection: Connection) -> AsyncIterator[AuditEntry]:
    """Every chained entry by (chain, sequence) in keyset pages, then the rows of no chain."""
    last: tuple[str, int] = ("", 0)
    while True:
        rows = await connection.fetch(
            f"SELECT {_COLUMNS} FROM audit_entry WHERE chain IS NOT NULL AND sequence IS NOT NULL"
            " AND (chain, sequence) > ($1, $2) ORDER BY chain, sequence LIMIT $3",
            *last,
            BATCH,
        )
        for row in rows:
            yield _entry(row)
        if len(rows) < BATCH:
            break
        last = (rows[-1]["chain"], rows[-1]["sequence"])
    for row in await connection.fetch(
        f"SELECT {_COLUMNS} FROM audit_entry WHERE chain IS NULL OR sequence IS NULL"
        " ORDER BY at, id"
    ):
        yield _entry(row)


async def stored_heads(connection: Connection) -> dict[str, ChainHead]:
    rows = await connection.fetch("SELECT chain, sequence, hash FROM audit_chain_head")
    return {row["chain"]: ChainHead(int(row["sequence"]), row["hash"]) for row in rows}


@dataclass(frozen=True)
class Verification:
    entries: int
    heads: dict[str, ChainHead]
    problems: list[ChainProblem]


async def verify(
    connection: Connection, anchors: Mapping[str, ChainHead] | None = None
) -> Verification:
    """Every chain checked end to end, against its head row and the ``anchors`` if given."""
    heads = await stored_heads(connection)
    anchors = anchors or {}
    verifiers: dict[str, ChainVerifier] = {}
    unchained = ChainVerifier(chain="(none)")

    def verifier(chain: str) -> ChainVerifier:
        if chain not in verifiers:
            verifiers[chain] = ChainVerifier(
                chain=chain, head=heads.get(chain), anchor=anchors.get(chain)
            )
        return verifiers[chain]

    for chain in {*heads, *anchors}:
        verifier(chain)
    async for entry in entries(connection):
        if entry.chain is None or entry.sequence is None:
            unchained.feed_unchained(entry)
        else:
            verifier(entry.chain).feed(entry)
    problems: list[ChainProblem] = []
    for chain in sorted(verifiers):
        found = verifiers[chain].finish()
        if chain not in heads and verifiers[chain].entries:
            found.append(
                ChainProblem(
                    "removed", f"the head row of chain {chain} (audit_chain_head) was removed"
                )
            )
        if chain not in CHAINS:
            found.insert(0, ChainProblem("inserted", f"chain {chain} is none of ours: inserted"))
        problems += found
    problems += unchained.finish()
    total = unchained.entries + sum(v.entries for v in verifiers.values())
    return Verification(total, heads, problems)


@dataclass(frozen=True)
class DayHead:
    """A chain as it stood at the end of ``day`` (UTC): its last entry on or before it."""

    chain: str
    head: ChainHead
    entry_id: str | None


async def day_heads(connection: Connection, day: date) -> tuple[list[DayHead], int]:
    """Every chain's head at the end of ``day``, and how many entries were written that day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    rows = await connection.fetch(
        "SELECT DISTINCT ON (chain) chain, id, sequence, hash FROM audit_entry"
        " WHERE at < $1 AND chain IS NOT NULL AND sequence IS NOT NULL"
        " ORDER BY chain, sequence DESC",
        end,
    )
    count = await connection.fetchval(
        "SELECT count(*) FROM audit_entry WHERE at >= $1 AND at < $2", start, end
    )
    found = {row["chain"]: row for row in rows}
    heads = [
        DayHead(chain, ChainHead(int(row["sequence"]), row["hash"]), str(row["id"]))
        if (row := found.get(chain))
        else DayHead(chain, ChainHead(0, GENESIS), None)
        for chain in sorted({*CHAINS, *found})
    ]
    return heads, int(count)
