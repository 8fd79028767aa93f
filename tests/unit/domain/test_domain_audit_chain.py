"""The audit chain's hash and its verifier, in memory (docs/audit.md)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from domain.model.audit import AuditEntry
from domain.model.audit_chain import (
    GENESIS,
    ChainHead,
    ChainVerifier,
    canonical,
    link_hash,
    stored_json,
)

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        actor_kind="STAFF",
        actor_subject="ops",
        action="cancelSubscription",
        object_type="Subscription",
        object_id=uuid.UUID(int=n),
        at=AT + timedelta(seconds=n),
        before={"status": "ACTIVE"},
        after={"status": "CANCELLED", "seats": n},
        idempotency_key=f"key-{n}",
        reason="customer asked",
        id=uuid.UUID(int=1000 + n),
        chain="lane-00",
    )


def _chain(count: int) -> list[AuditEntry]:
    chain, previous = [], GENESIS
    for n in range(1, count + 1):
        digest = link_hash(_entry(n), n, previous)
        chain.append(replace(_entry(n), sequence=n, previous_hash=previous, hash=digest))
        previous = digest
    return chain


def _check(chain: list[AuditEntry], anchor: ChainHead | None = None) -> list[str]:
    chained = [e for e in chain if e.sequence is not None]
    last = chained[-1] if chained else None
    head = ChainHead(last.sequence or 0, last.hash or "") if last else None
    verifier = ChainVerifier(head=head, anchor=anchor)
    for entry in chain:
        verifier.feed(entry)
    return [f"{p.kind} {p.sequence}" for p in verifier.finish()]


def test_the_hash_covers_every_field_and_the_previous_hash() -> None:
    entry = _entry(1)
    document = json.loads(canonical(entry, 1, GENESIS))
    assert document == {
        "format": "provision.audit.v1", "chain": "lane-00", "sequence": 1, "previousHash": GENESIS,
        "id": str(entry.id), "actorKind": "STAFF", "actorId": "ops",
        "action": "cancelSubscription", "objectType": "Subscription",
        "objectId": str(uuid.UUID(int=1)), "reason": "customer asked",
        "idempotencyKey": "key-1", "before": {"status": "ACTIVE"},
        "after": {"seats": 1, "status": "CANCELLED"}, "at": "2026-11-29T12:00:01.000000+00:00",
    }  # fmt: skip
    digest = link_hash(entry, 1, GENESIS)
    assert digest == hashlib.sha256(canonical(entry, 1, GENESIS)).hexdigest()
    for changed in (
        replace(entry, reason="none"),
        replace(entry, actor_subject="someone"),
        replace(entry, idempotency_key=None),
        replace(entry, chain="lane-01"),
        replace(entry, after={"status": "ACTIVE"}),
        replace(entry, at=entry.at + timedelta(microseconds=1)),
    ):
        assert link_hash(changed, 1, GENESIS) != digest
    assert link_hash(entry, 2, GENESIS) != digest
    assert link_hash(entry, 1, "1" * 64) != digest


def test_the_hash_is_the_same_for_what_the_database_reads_back() -> None:
    entry = replace(_entry(1), after={"n": 1e20, "d": datetime(2026, 1, 1, tzinfo=UTC)})
    stored = stored_json(entry.after)
    assert stored == {"n": 100000000000000000000, "d": "2026-01-01 00:00:00+00:00"}
    read_back = replace(entry, after=stored, at=entry.at.astimezone(timezone(timedelta(hours=2))))
    assert link_hash(read_back, 1, GENESIS) == link_hash(entry, 1, GENESIS)


def test_an_intact_chain_has_no_problem() -> None:
    assert _check(_chain(5)) == []
    assert _check([]) == []


def test_each_kind_of_tampering_is_named_at_its_entry() -> None:
    chain = _chain(5)
    edited = [*chain[:2], replace(chain[2], reason="forged"), *chain[3:]]
    assert _check(edited)[0] == "changed 3"
    rehashed_entry = replace(chain[2], reason="forged")
    rehashed = replace(rehashed_entry, hash=link_hash(rehashed_entry, 3, str(chain[1].hash)))
    assert _check([*chain[:2], rehashed, *chain[3:]]) == ["changed 3"]
    assert _check([*chain[:2], *chain[3:]]) == ["removed 3"]
    inserted = replace(_entry(9), id=uuid.uuid4(), chain=None)
    assert _check([*chain, inserted])[0] == "inserted None"
    head = ChainHead(5, str(chain[-1].hash))
    verifier = ChainVerifier(head=head)
    for entry in chain[:4]:
        verifier.feed(entry)
    assert [f"{p.kind} {p.sequence}" for p in verifier.finish()] == ["removed 5"]


def test_an_anchor_catches_a_chain_rewritten_from_its_first_entry() -> None:
    chain = _chain(4)
    anchor = ChainHead(3, str(chain[2].hash))
    assert _check(chain, anchor) == []
    previous, rewritten = GENESIS, []
    for entry in [replace(chain[0], reason="forged"), *chain[1:]]:
        assert entry.sequence is not None
        digest = link_hash(entry, entry.sequence, previous)
        rewritten.append(replace(entry, previous_hash=previous, hash=digest))
        previous = digest
    assert _check(rewritten) == []  # the chain alone cannot tell
    assert _check(rewritten, anchor) == ["changed 3"]
    assert _check(chain[:2], anchor)[-1] == "removed 3"
