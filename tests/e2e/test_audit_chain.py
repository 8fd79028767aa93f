"""The audit chain on real PostgreSQL through the real app (docs/audit.md): 200 concurrent
mutations chain without a gap or a fork; `provision audit verify` names the entry someone
changed, removed or inserted straight in the table; a day's anchor is signed with our license
key (checked with the openssl CLI) and catches a chain rewritten after it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from auth.licenses.keys import load_public_key, public_pem
from domain.model.audit_chain import GENESIS, link_hash
from domain.principal import PrincipalKind
from persistence.audit_chain import entries, verify
from persistence.database import Database

import factories as f
from bearer import bearer, token_for

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

PROVISION = [sys.executable, "-m", "api.cli.main"]
UPSERT = """mutation($input: UpsertNamespaceInput!) { upsertNamespace(input: $input) {
  namespace { id } errors { code path } } }"""
AUDIT = """{ auditEntries(first: 5) { edges { node {
  action chain sequence previousHash hash } } } }"""
LANE = "lane-00"  # where mutations one after the other go


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url)
    return subprocess.run(
        [*PROVISION, *args], env=environment, capture_output=True, text=True, timeout=120
    )


async def _mutate(http: httpx.AsyncClient, gitlab_id: int) -> None:
    fields = {"gitlabId": gitlab_id, "path": f"g{gitlab_id}", "name": f"G {gitlab_id}",
              "kind": "group"}  # fmt: skip
    response = await http.post("/graphql", json={"query": UPSERT, "variables": {"input": fields}})
    body = response.json()
    assert body["data"]["upsertNamespace"]["errors"] == [], body


@pytest.fixture
async def gitlab(app: Starlette, anonymous: httpx.AsyncClient) -> httpx.AsyncClient:
    anonymous.headers.update(bearer(token_for(app, PrincipalKind.GITLAB_COM, subject="gitlab")))
    return anonymous


async def _rows(db: Database) -> list[Any]:
    return await db.fetch(
        "SELECT id, chain, sequence, previous_hash, hash FROM audit_entry ORDER BY chain, sequence"
    )


async def test_200_concurrent_mutations_give_an_unbroken_chain(
    gitlab: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
    await asyncio.gather(*(_mutate(gitlab, 1000 + n) for n in range(200)))
    rows = await _rows(clean_db)
    assert len(rows) == 200
    lanes: dict[str, list[Any]] = {}
    for row in rows:
        lanes.setdefault(row["chain"], []).append(row)
    assert len(lanes) > 1  # the callers did not queue on one chain
    for lane in lanes.values():  # each chain: 1, 2, 3, … each naming the one before
        assert [r["sequence"] for r in lane] == list(range(1, len(lane) + 1))
        assert [r["previous_hash"] for r in lane] == [GENESIS, *(r["hash"] for r in lane[:-1])]
    async with clean_db.pool.acquire() as connection:
        result = await verify(connection)
    assert (result.entries, result.problems) == (200, [])
    assert {c: h.sequence for c, h in result.heads.items() if h.sequence} == {
        c: len(lane) for c, lane in lanes.items()
    }
    checked = _cli(database_url, "audit", "verify")
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout.startswith(f"intact: 200 entries in {len(lanes)} chains")


async def test_staff_read_the_chain_fields(
    gitlab: httpx.AsyncClient, client: httpx.AsyncClient, clean_db: Database
) -> None:
    for n in range(2):
        await _mutate(gitlab, 10 + n)
    body = (await client.post("/graphql", json={"query": AUDIT})).json()
    nodes = [e["node"] for e in body["data"]["auditEntries"]["edges"]]  # newest first
    rows = await _rows(clean_db)
    assert nodes == [
        {"action": "upsertNamespace", "chain": LANE, "sequence": r["sequence"],
         "previousHash": r["previous_hash"], "hash": r["hash"]}
        for r in reversed(rows)
    ]  # fmt: skip
    assert nodes[1]["previousHash"] == GENESIS
    assert nodes[0]["previousHash"] == nodes[1]["hash"]


async def _forge_after_head(db: Database) -> uuid.UUID:
    """A well-formed entry chained after the head, without moving the head."""
    async with db.pool.acquire() as connection:
        chain = [entry async for entry in entries(connection)]
    last = chain[-1]
    forged = replace(last, id=uuid.uuid4(), action="grantEverything", sequence=None)
    digest = link_hash(forged, 6, str(last.hash))
    await db.fetch(
        "INSERT INTO audit_entry (id, actor_kind, actor_subject, action, object_type, object_id,"
        " before, after, at, chain, sequence, previous_hash, hash)"
        " SELECT $1, actor_kind, actor_subject, $2, object_type, object_id, before, after, at,"
        " chain, 6, hash, $3 FROM audit_entry WHERE sequence = 5",
        forged.id,
        forged.action,
        digest,
    )
    return forged.id


async def _rehash_from(db: Database, sequence: int) -> None:
    """Recompute every hash from ``sequence`` on and move the head: a whole-chain rewrite."""
    async with db.pool.acquire() as connection:
        chain = [entry async for entry in entries(connection)]
    previous = GENESIS
    for entry in chain:
        assert entry.sequence is not None
        if entry.sequence >= sequence:
            digest = link_hash(entry, entry.sequence, previous)
            await db.fetch(
                "UPDATE audit_entry SET previous_hash = $1, hash = $2 WHERE id = $3",
                previous,
                digest,
                entry.id,
            )
            previous = digest
        else:
            previous = str(entry.hash)
    await db.fetch("UPDATE audit_chain_head SET hash = $1 WHERE chain = $2", previous, LANE)


TAMPERING = {
    "edited": (
        'UPDATE audit_entry SET after = \'{"path": "elsewhere"}\' WHERE sequence = 3',
        3,
        f"({LANE} #3) was changed: its content no longer matches its hash",
    ),
    "edited and rehashed": (None, 3, f"({LANE} #3) was changed or replaced"),
    "deleted": (
        "DELETE FROM audit_entry WHERE sequence = 3",
        None,
        f"the entry at {LANE} #3 was removed",
    ),
    "last deleted": (
        "DELETE FROM audit_entry WHERE sequence = 5",
        None,
        f"the entries after {LANE} #4 were removed: the chain head records #5",
    ),
    "inserted": (
        "INSERT INTO audit_entry (id, actor_kind, action, object_type, at)"
        " VALUES ('0190aaaa-0000-7000-8000-000000000001', 'STAFF', 'grantEverything',"
        " 'Namespace', now())",
        None,
        "entry 0190aaaa-0000-7000-8000-000000000001 (grantEverything at",
    ),
    "inserted after the head": (None, None, f"({LANE} #6) was inserted: it is past the chain head"),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
async def test_verify_names_the_entry_changed_removed_or_inserted(
    tampering: str, gitlab: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
    for n in range(5):
        await _mutate(gitlab, 100 + n)
    intact = _cli(database_url, "audit", "verify")
    assert intact.returncode == 0
    assert intact.stdout.startswith("intact: 5 entries in 1 chains")
    ids = {r["sequence"]: r["id"] for r in await _rows(clean_db)}
    statement, named, message = TAMPERING[tampering]
    if tampering == "edited and rehashed":
        # The row's own hash recomputed as well: the next entry still names the old one.
        async with clean_db.pool.acquire() as connection:
            chain = {e.sequence: e async for e in entries(connection)}
        changed = replace(chain[3], after={"path": "elsewhere"})
        await clean_db.fetch(
            'UPDATE audit_entry SET after = \'{"path": "elsewhere"}\', hash = $1'
            " WHERE sequence = 3",
            link_hash(changed, 3, str(chain[3].previous_hash)),
        )
    elif tampering == "inserted after the head":
        named_id = await _forge_after_head(clean_db)
        message = f"entry {named_id} {message}"
    else:
        assert statement is not None
        await clean_db.fetch(statement)
    broken = _cli(database_url, "audit", "verify")
    assert broken.returncode == 1, broken.stdout
    first = broken.stderr.splitlines()[0]
    assert first.startswith("audit chain BROKEN: ")
    assert message in first
    if named is not None:
        assert f"entry {ids[named]} ({LANE} #{named})" in first


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_the_daily_anchor_is_signed_and_catches_a_rewritten_chain(
    gitlab: httpx.AsyncClient, clean_db: Database, database_url: str, tmp_path: Path
) -> None:
    for n in range(3):
        await _mutate(gitlab, 200 + n)
    anchor_file = tmp_path / "anchor.json"
    exported = _cli(
        database_url, "audit", "anchor", "--date", f.TODAY.isoformat(), "-o", str(anchor_file)
    )
    assert exported.returncode == 0, exported.stderr
    anchor = json.loads(anchor_file.read_text())
    rows = await _rows(clean_db)
    # The signature, checked by OpenSSL alone: RS256 over protected.payload.
    async with clean_db.pool.acquire() as connection:
        key = await load_public_key(connection)
    assert key is not None
    (tmp_path / "public.pem").write_text(public_pem(key))
    (tmp_path / "input").write_bytes(f"{anchor['protected']}.{anchor['payload']}".encode())
    (tmp_path / "signature").write_bytes(_b64(anchor["signature"]))
    openssl = [
        "dgst", "-sha256", "-verify", str(tmp_path / "public.pem"),
        "-signature", str(tmp_path / "signature"), str(tmp_path / "input"),
    ]  # fmt: skip
    checked = _openssl(*openssl)
    assert (checked.returncode, checked.stdout.strip()) == (0, "Verified OK")
    assert json.loads(_b64(anchor["protected"])) == {
        "alg": "RS256",
        "typ": "provision-audit-anchor+json",
    }
    payload = json.loads(_b64(anchor["payload"]))
    heads = {h["chain"]: h for h in payload["heads"]}
    assert payload["date"] == f.TODAY.isoformat()
    assert (heads[LANE]["sequence"], heads[LANE]["hash"]) == (3, rows[-1]["hash"])
    assert heads[LANE]["entryId"] == str(rows[-1]["id"])
    assert {h["sequence"] for c, h in heads.items() if c != LANE} == {0}
    assert payload["entriesThatDay"] == 3
    # A forged payload does not pass OpenSSL, nor our verify.
    fewer = json.dumps({**payload, "heads": payload["heads"][1:]}).encode()
    forged = {**anchor, "payload": base64.urlsafe_b64encode(fewer).decode().rstrip("=")}
    (tmp_path / "input").write_bytes(f"{forged['protected']}.{forged['payload']}".encode())
    refused = _openssl(*openssl)
    assert refused.returncode == 1
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    bad = _cli(database_url, "audit", "verify", "--anchor", str(tmp_path / "forged.json"))
    assert bad.returncode == 1
    assert "the anchor is refused: the signature does not verify" in bad.stderr
    # The chain grows after the anchor: still consistent with it.
    await _mutate(gitlab, 300)
    later = _cli(database_url, "audit", "verify", "--anchor", str(anchor_file))
    assert later.returncode == 0, later.stderr
    assert f"matches the anchor of {f.TODAY.isoformat()}" in later.stdout
    # Someone edits entry 2 and rewrites every hash after it, head included: the chain alone
    # looks intact, the anchor does not agree.
    await clean_db.fetch('UPDATE audit_entry SET after = \'{"path": "x"}\' WHERE sequence = 2')
    await _rehash_from(clean_db, 2)
    assert _cli(database_url, "audit", "verify").returncode == 0
    caught = _cli(database_url, "audit", "verify", "--anchor", str(anchor_file))
    assert caught.returncode == 1
    assert f"the chain up to entry {rows[2]['id']} ({LANE} #3) was rewritten" in caught.stderr
    # An anchor of a day before any entry is the empty chain's head.
    empty = _cli(
        database_url, "audit", "anchor", "--date", (f.TODAY - timedelta(days=9)).isoformat()
    )
    empty_heads = json.loads(_b64(json.loads(empty.stdout)["payload"]))["heads"]
    assert {h["sequence"] for h in empty_heads} == {0}
