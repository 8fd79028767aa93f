"""The audit chain (docs/audit.md): every entry carries the SHA-256 of its canonical form, which
includes the previous entry's hash, so changing, removing or inserting an entry breaks the
chain from that entry on.

The log is ``LANES`` chains (``lane-00`` … ``lane-15``), each ordered by ``sequence`` (1, 2, 3,
…; the first entry's previous hash is ``GENESIS``): an append takes the first lane no other
transaction holds, so concurrent mutations do not queue behind one lock held through COMMIT.
The canonical form is compact JSON with sorted keys (UTF-8, ``FORMAT`` in it) of every field
of the entry and its place in its chain.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.model.audit import AuditEntry

FORMAT = "provision.audit.v1"
LANES = 16
CHAINS = tuple(f"lane-{n:02d}" for n in range(LANES))
GENESIS = "0" * 64


def _json_value(value: Any) -> Any:
    """``value`` as it reads back from a JSONB column: what the hash covers.

    Integral floats become ints (PostgreSQL prints ``1e20`` as ``100000000000000000000``);
    anything JSON cannot hold is its ``str`` (as the audit log stores it).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def stored_json(value: Mapping[str, Any]) -> Any:
    """A before/after mapping as the audit table stores it (and the hash covers)."""
    return _json_value(json.loads(json.dumps(dict(value), default=str)))


def timestamp(at: datetime) -> str:
    """The canonical instant: UTC, microseconds (what ``timestamptz`` keeps)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(entry: AuditEntry, sequence: int, previous_hash: str) -> bytes:
    """The bytes hashed for ``entry`` at ``sequence`` of ``entry.chain`` after
    ``previous_hash``."""
    document = {
        "format": FORMAT,
        "chain": entry.chain,
        "sequence": sequence,
        "previousHash": previous_hash,
        "id": str(entry.id),
        "actorKind": entry.actor_kind,
        "actorId": entry.actor_subject,
        "action": entry.action,
        "objectType": entry.object_type,
        "objectId": None if entry.object_id is None else str(entry.object_id),
        "reason": entry.reason,
        "idempotencyKey": entry.idempotency_key,
        "before": stored_json(entry.before),
        "after": stored_json(entry.after),
        "at": timestamp(entry.at),
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def link_hash(entry: AuditEntry, sequence: int, previous_hash: str) -> str:
    """The hex SHA-256 of ``entry``'s canonical form at that place in the chain."""
    return hashlib.sha256(canonical(entry, sequence, previous_hash)).hexdigest()


@dataclass(frozen=True)
class ChainHead:
    """A chain's last link: its sequence (0 for an empty chain) and hash."""

    sequence: int
    hash: str


@dataclass(frozen=True)
class ChainProblem:
    """What broke the chain, at which entry: ``kind`` is changed, removed or inserted."""

    kind: str
    message: str
    sequence: int | None = None
    entry_id: uuid.UUID | None = None


@dataclass
class ChainVerifier:
    """Checks one chain's entries fed in ``sequence`` order, against its stored head and,
    optionally, a signed anchor (a head exported earlier). ``feed_unchained`` reports rows
    that belong to no chain.

    It reports the first problem in chain order and keeps up to ``limit`` more.
    """

    chain: str = CHAINS[0]
    head: ChainHead | None = None
    anchor: ChainHead | None = None
    limit: int = 20
    problems: list[ChainProblem] = field(default_factory=list)
    entries: int = 0
    _expected: int = 1
    _previous_hash: str = GENESIS
    _previous_id: uuid.UUID | None = None
    _anchor_seen: bool = False
    _past_head_reported: bool = False

    def _at(self, sequence: int) -> str:
        return f"{self.chain} #{sequence}"

    def feed_unchained(self, entry: AuditEntry) -> None:
        self.entries += 1
        self._problem(
            ChainProblem(
                "inserted",
                f"entry {entry.id} ({entry.action} at {timestamp(entry.at)}) was inserted:"
                " it has no place in any chain (no chain, sequence or hash)",
                None,
                entry.id,
            )
        )

    def _problem(self, problem: ChainProblem) -> None:
        if len(self.problems) < self.limit:
            self.problems.append(problem)

    def feed(self, entry: AuditEntry) -> None:
        self.entries += 1
        seq, previous, stored = entry.sequence, entry.previous_hash, entry.hash
        if seq is None or previous is None or stored is None:
            self.entries -= 1
            self.feed_unchained(entry)
            return
        if seq < self._expected:
            self._problem(
                ChainProblem(
                    "inserted",
                    f"entry {entry.id} was inserted: {self._at(seq)} is already taken",
                    seq,
                    entry.id,
                )
            )
            return
        gap = seq > self._expected
        if gap:
            missing = (
                self._at(self._expected)
                if seq == self._expected + 1
                else f"{self._at(self._expected)} to #{seq - 1}"
            )
            self._problem(
                ChainProblem(
                    "removed",
                    f"the entry at {missing} was removed (the chain jumps from"
                    f" #{self._expected - 1} to #{seq}, before entry {entry.id})",
                    self._expected,
                    entry.id,
                )
            )
        if self.head is not None and seq > self.head.sequence and not self._past_head_reported:
            self._past_head_reported = True
            self._problem(
                ChainProblem(
                    "inserted",
                    f"entry {entry.id} ({self._at(seq)}) was inserted: it is past the chain"
                    f" head (#{self.head.sequence})",
                    seq,
                    entry.id,
                )
            )
        if link_hash(entry, seq, previous) != stored:
            self._problem(
                ChainProblem(
                    "changed",
                    f"entry {entry.id} ({self._at(seq)}) was changed: its content no longer"
                    " matches its hash",
                    seq,
                    entry.id,
                )
            )
        elif not gap and previous != self._previous_hash:
            self._problem(
                ChainProblem(
                    "changed",
                    f"entry {self._previous_id} ({self._at(seq - 1)}) was changed or replaced:"
                    f" its hash is not the previous hash entry {entry.id} ({self._at(seq)})"
                    " was chained to",
                    seq - 1,
                    self._previous_id,
                )
            )
        if self.anchor is not None and seq == self.anchor.sequence:
            self._anchor_seen = True
            if stored != self.anchor.hash:
                self._problem(
                    ChainProblem(
                        "changed",
                        f"the chain up to entry {entry.id} ({self._at(seq)}) was rewritten: its"
                        " hash is not the one the anchor signed",
                        seq,
                        entry.id,
                    )
                )
        self._expected, self._previous_hash, self._previous_id = seq + 1, stored, entry.id

    def finish(self) -> list[ChainProblem]:
        """Every problem found, the first one first (in chain order)."""
        last = self._expected - 1
        if self.head is not None:
            if last < self.head.sequence:
                self._problem(
                    ChainProblem(
                        "removed",
                        f"the entries after {self._at(last)} were removed: the chain head"
                        f" records #{self.head.sequence}",
                        last + 1,
                    )
                )
            elif last == self.head.sequence and self._previous_hash != self.head.hash:
                self._problem(
                    ChainProblem(
                        "changed",
                        f"entry {self._previous_id} ({self._at(last)}) was changed: its hash is"
                        " not the one the chain head records",
                        last,
                        self._previous_id,
                    )
                )
        if self.anchor is not None and not self._anchor_seen and self.anchor.sequence > 0:
            self._problem(
                ChainProblem(
                    "removed",
                    f"the entry at {self._at(self.anchor.sequence)}, which the anchor signed,"
                    " is missing",
                    self.anchor.sequence,
                )
            )
        order = {p: i for i, p in enumerate(self.problems)}
        return sorted(
            self.problems,
            key=lambda p: (p.sequence is None, p.sequence or 0, order[p]),
        )
