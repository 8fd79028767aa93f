"""In-memory stand-ins for the domain's ports, for unit tests (fakes, not mocks)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from domain.model.provision_event import ProvisionEvent, ProvisionStatus


class FixedClock:
    """A ``domain.ports.Clock`` that reads one instant until the test moves it."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._instant = instant.astimezone(UTC)

    @classmethod
    def on(cls, day: date, at: time = time(12, 0)) -> FixedClock:
        """A clock reading ``at`` (UTC) on ``day``: "on this day, at noon"."""
        return cls(datetime.combine(day, at, tzinfo=UTC))

    def now(self) -> datetime:
        return self._instant

    def today(self) -> date:
        return self._instant.date()

    def advance(self, delta: timedelta) -> None:
        self._instant += delta

    def set(self, day: date, at: time = time(12, 0)) -> None:
        self._instant = datetime.combine(day, at, tzinfo=UTC)


class InMemoryLedger:
    """A ``domain.ports.Ledger`` (and, through ``outbox``, an ``Outbox``) over a dict; time
    comes from the clock it shares with the test. Rows are copied in and out, as a database
    would."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.rows: dict[uuid.UUID, ProvisionEvent] = {}
        self.outbox = InMemoryOutbox(self)

    def add(self, event: ProvisionEvent) -> None:
        self.rows[event.id] = copy.deepcopy(event)

    async def claim_due(
        self, owner: str, limit: int, lease: timedelta, kinds: Collection[str] | None = None
    ) -> list[ProvisionEvent]:
        now = self.clock.now()
        due = sorted(
            (
                e
                for e in self.rows.values()
                if e.is_claimable(now) and (kinds is None or e.kind in kinds)
            ),
            key=lambda e: e.next_attempt_at,
        )[:limit]
        for event in due:
            event.claim(owner, now=now, lease=lease)
        return [copy.deepcopy(e) for e in due]

    async def claim_one(
        self, owner: str, event_id: uuid.UUID, lease: timedelta
    ) -> ProvisionEvent | None:
        row = self.rows.get(event_id)
        if row is None or not row.is_claimable_at_once(self.clock.now()):
            return None
        row.claim(owner, now=self.clock.now(), lease=lease, at_once=True)
        return copy.deepcopy(row)

    async def extend_leases(
        self, owner: str, event_ids: Sequence[uuid.UUID], lease: timedelta
    ) -> set[uuid.UUID]:
        held = set()
        for event_id in event_ids:
            row = self.rows.get(event_id)
            if row and row.status is ProvisionStatus.RUNNING and row.lease_owner == owner:
                row.lease_until = self.clock.now() + lease
                held.add(event_id)
        return held

    async def finish(
        self, event: ProvisionEvent, owner: str, follow_ups: Sequence[ProvisionEvent] = ()
    ) -> bool:
        row = self.rows.get(event.id)
        if row is None or row.status is not ProvisionStatus.RUNNING or row.lease_owner != owner:
            return False
        self.add(event)
        for follow_up in follow_ups:
            self.add(follow_up)
        return True

    async def expired_without_attempts(self, limit: int) -> list[ProvisionEvent]:
        now = self.clock.now()
        lost = sorted(
            (e for e in self.rows.values() if e.is_lost(now)),
            key=lambda e: e.lease_until or now,
        )
        return [copy.deepcopy(e) for e in lost[:limit]]

    async def give_up(
        self, event: ProvisionEvent, follow_ups: Sequence[ProvisionEvent] = ()
    ) -> bool:
        row = self.rows.get(event.id)
        now = self.clock.now()
        if row is None or not row.is_lost(now):
            return False
        self.add(event)
        for follow_up in follow_ups:
            self.add(follow_up)
        return True

    async def get(self, event_id: uuid.UUID) -> ProvisionEvent | None:
        row = self.rows.get(event_id)
        return copy.deepcopy(row) if row else None

    def by_status(self, status: ProvisionStatus) -> list[ProvisionEvent]:
        return [e for e in self.rows.values() if e.status is status]


class InMemoryOutbox:
    """A ``domain.ports.Outbox`` writing into an ``InMemoryLedger``."""

    def __init__(self, ledger: InMemoryLedger) -> None:
        self._ledger = ledger

    async def record(self, event: ProvisionEvent) -> None:
        self._ledger.add(event)


class InMemoryScheduledJobRuns:
    """A ``domain.ports.ScheduledJobRuns`` over a dict."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, datetime], tuple[str, str | None, bool]] = {}

    async def claim(self, job_name: str, due_at: datetime, owner: str) -> bool:
        if (job_name, due_at) in self.runs:
            return False
        self.runs[(job_name, due_at)] = (owner, None, False)
        return True

    async def finish(self, job_name: str, due_at: datetime, error: str | None) -> None:
        owner, _, _ = self.runs[(job_name, due_at)]
        self.runs[(job_name, due_at)] = (owner, error, True)


class CountingSigner:
    """A ``domain.ports.LicenseSigner`` whose keys are readable JSON with a serial number, so
    two signings never give the same text (as the real envelope's fresh AES key and IV)."""

    def __init__(self) -> None:
        self.signed: list[dict[str, object]] = []

    async def sign(self, attributes: Mapping[str, object]) -> str:
        self.signed.append(dict(attributes))
        return json.dumps({"serial": len(self.signed), **attributes}, default=str) + "\n"
