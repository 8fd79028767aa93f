"""Provision event: one ledger row for an action that must reach the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.errors import (
    IllegalTransition,
    ProvisionEventNotResolvable,
    ProvisionEventNotRetryable,
    ValidationFailed,
)
from domain.model.ids import new_id


class ProvisionKind(StrEnum):
    """The kinds of ledger row Provision itself records. Worker plugins may record others
    (``PROVISION_WORKER_PLUGINS``); the API shows those as ``OTHER``."""

    NAMESPACE_PROVISION = "NAMESPACE_PROVISION"
    EMAIL = "EMAIL"
    WEBHOOK_DELIVERY = "WEBHOOK_DELIVERY"
    MARKETPLACE_EVENT = "MARKETPLACE_EVENT"
    DEDICATED_TENANT = "DEDICATED_TENANT"
    ALERT = "ALERT"
    HTTP_PING = "HTTP_PING"


ALERT_KIND = "ALERT"
"""The kind of the event that tells people a row went DEAD (an ALERT that dies alerts nobody)."""

MAX_ERROR_LENGTH = 2000
"""Stored error text is cut to this many characters."""

MAX_REASON_LENGTH = 1000
"""A resolution's reason is at most this many characters."""

__all__ = [
    "IllegalTransition",
    "ProvisionEvent",
    "ProvisionKind",
    "ProvisionStatus",
    "backoff_delay",
]


class ProvisionStatus(StrEnum):
    """Where a ledger row is in its life."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    DEAD = "DEAD"
    RESOLVED = "RESOLVED"
    """Closed by a person (with a reason) after it FAILED or went DEAD; never claimed again."""


CLAIMABLE = frozenset({ProvisionStatus.PENDING, ProvisionStatus.FAILED})
FINAL = frozenset({ProvisionStatus.SUCCEEDED, ProvisionStatus.DEAD, ProvisionStatus.RESOLVED})
STAFF_ACTIONABLE = frozenset({ProvisionStatus.FAILED, ProvisionStatus.DEAD})
"""What staff may retry or resolve."""


def backoff_delay(
    attempt: int, *, base: timedelta, cap: timedelta, random: Callable[[], float]
) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (1 for the first).

    Exponential with full jitter (a uniform draw between zero and ``base * 2**(attempt-1)``,
    capped at ``cap``), so that rows that failed together do not come back together.
    ``random`` returns a float in [0, 1); tests pass a fixed one.
    """
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2 ** min(attempt - 1, 62))
    draw = random()
    if not 0.0 <= draw < 1.0:
        raise ValueError("random() must return a float in [0, 1)")
    return timedelta(seconds=ceiling * draw)


@dataclass
class ProvisionEvent:
    """A step to run at least once: what (``kind`` and ``payload``), for which objects, and how
    far it got. Status changes only through the methods below, which refuse illegal moves."""

    kind: str
    payload: dict[str, Any]
    correlation_id: str
    max_attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    subscription_id: uuid.UUID | None = None
    namespace_id: uuid.UUID | None = None
    instance_id: uuid.UUID | None = None
    status: ProvisionStatus = ProvisionStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    resolved_reason: str | None = None
    resolved_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not self.kind or len(self.kind) > 60 or not self.kind.replace("_", "").isalnum():
            raise ValidationFailed("an event kind is 1-60 letters, digits or _", path=("kind",))
        if not self.kind.isupper():
            raise ValidationFailed("an event kind is UPPER_SNAKE_CASE", path=("kind",))
        if self.max_attempts < 1:
            raise ValidationFailed("an event needs at least one attempt", path=("maxAttempts",))
        if not self.correlation_id or len(self.correlation_id) > 100:
            raise ValidationFailed("a correlation id is 1-100 characters", path=("correlationId",))

    @classmethod
    def new(
        cls,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: datetime,
        correlation_id: str | None = None,
        max_attempts: int,
        subscription_id: uuid.UUID | None = None,
        namespace_id: uuid.UUID | None = None,
        instance_id: uuid.UUID | None = None,
    ) -> ProvisionEvent:
        """A PENDING event due now. Without a correlation id the event starts its own chain."""
        event_id = new_id()
        return cls(
            id=event_id,
            kind=kind,
            payload=dict(payload),
            correlation_id=correlation_id or str(event_id),
            max_attempts=max_attempts,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
            subscription_id=subscription_id,
            namespace_id=namespace_id,
            instance_id=instance_id,
        )

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this event: peers that see it twice know it is a
        re-send and must not act twice."""
        return f"provision-event:{self.id}"

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_attempts - self.attempts)

    # The predicates below are the ledger's rules; persistence/ledger.py states them again in
    # SQL, and tests/integration/test_rule_contract.py holds the two to the same cases.
    # Times are half-open: a row is due from ``next_attempt_at`` on; a lease holds up to and
    # including ``lease_until``.

    def is_waiting(self, now: datetime) -> bool:
        """PENDING or FAILED and due: waiting for a worker (the dashboard's lag measures these)."""
        return self.status in CLAIMABLE and self.next_attempt_at <= now

    def lease_expired(self, now: datetime) -> bool:
        """RUNNING on a lease that ran out (its worker died or stopped renewing)."""
        return (
            self.status is ProvisionStatus.RUNNING
            and self.lease_until is not None
            and self.lease_until < now
        )

    def is_due(self, now: datetime) -> bool:
        """Waiting and due, or running on an expired lease."""
        return self.is_waiting(now) or self.lease_expired(now)

    def is_claimable(self, now: datetime) -> bool:
        """Whether a worker's claim takes it: waiting and due, or running on an expired lease
        with an attempt left (another run of a lost last attempt would exceed the limit)."""
        return self.is_waiting(now) or (self.lease_expired(now) and self.attempts_left > 0)

    def is_claimable_at_once(self, now: datetime) -> bool:
        """Whether one named row may be taken for an attempt now, ahead of its due time (a
        request that needs the step done runs it at once, ignoring the backoff): waiting, due
        or not, or running on an expired lease with an attempt left."""
        return self.status in CLAIMABLE or self.is_claimable(now)

    def is_lost(self, now: datetime) -> bool:
        """Running on an expired lease after its last attempt: nobody reclaims it, it is
        given up (DEAD)."""
        return self.lease_expired(now) and self.attempts_left == 0

    def claim(self, owner: str, *, now: datetime, lease: timedelta, at_once: bool = False) -> None:
        """A worker takes the row for one attempt, until ``now + lease`` unless renewed
        (``at_once``: ahead of its due time, ``is_claimable_at_once``)."""
        if not (self.is_claimable_at_once(now) if at_once else self.is_claimable(now)):
            raise IllegalTransition(f"a {self.status} event that is not due cannot be claimed")
        self.status = ProvisionStatus.RUNNING
        self.attempts += 1
        self.lease_owner = owner
        self.lease_until = now + lease
        self.updated_at = now

    def succeed(self, owner: str, *, now: datetime) -> None:
        """The attempt worked: the row is done."""
        self._require_lease(owner)
        self.status = ProvisionStatus.SUCCEEDED
        self._end_lease(now)

    def fail(
        self, owner: str, error: str, *, now: datetime, delay: timedelta, final: bool = False
    ) -> None:
        """The attempt failed: FAILED and due again after ``delay``, or DEAD after the last
        (or at once when ``final``: another attempt cannot succeed, such as an event for an
        offer nobody mapped; staff fix the cause and retry the row)."""
        self._require_lease(owner)
        self.last_error = error[:MAX_ERROR_LENGTH]
        if final or self.attempts >= self.max_attempts:
            self.status = ProvisionStatus.DEAD
        else:
            self.status = ProvisionStatus.FAILED
            self.next_attempt_at = now + delay
        self._end_lease(now)

    def release(self, owner: str, *, now: datetime) -> None:
        """The worker gives the row back unrun (it is shutting down): PENDING, due now, and
        the attempt it took is not counted."""
        self._require_lease(owner)
        self.status = ProvisionStatus.PENDING
        self.attempts = max(0, self.attempts - 1)
        self.next_attempt_at = now
        self._end_lease(now)

    def give_up(self, error: str, *, now: datetime) -> None:
        """A row whose lease expired after its last attempt (its worker died on it) is DEAD:
        running it again would exceed its attempts."""
        if not self.lease_expired(now):
            raise IllegalTransition("only a running event with an expired lease is given up")
        if not self.is_lost(now):
            raise IllegalTransition("an event with attempts left is reclaimed, not given up")
        self.status = ProvisionStatus.DEAD
        self.last_error = error[:MAX_ERROR_LENGTH]
        self._end_lease(now)

    def retry(self, *, now: datetime) -> None:
        """Staff send a FAILED or DEAD row again now, with a fresh set of attempts (the
        attempt counter starts over; ``max_attempts`` stays what the row was recorded with)."""
        if self.status not in STAFF_ACTIONABLE:
            raise ProvisionEventNotRetryable(
                f"a {self.status} event cannot be retried (only FAILED or DEAD ones)",
                path=("eventId",),
            )
        self.status = ProvisionStatus.PENDING
        self.attempts = 0
        self.next_attempt_at = now
        self.updated_at = now

    def resolve(self, reason: str, *, now: datetime) -> None:
        """A person closes a FAILED or DEAD row, saying why (done by hand, no longer needed):
        RESOLVED, which no worker claims. ``last_error`` is kept as history."""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON_LENGTH:
            raise ValidationFailed(
                f"a resolution needs a reason of 1-{MAX_REASON_LENGTH} characters",
                path=("reason",),
            )
        if self.status not in STAFF_ACTIONABLE:
            raise ProvisionEventNotResolvable(
                f"a {self.status} event cannot be resolved (only FAILED or DEAD ones)",
                path=("eventId",),
            )
        self.status = ProvisionStatus.RESOLVED
        self.resolved_reason = reason
        self.resolved_at = now
        self.updated_at = now

    def alert(self, *, now: datetime, max_attempts: int) -> ProvisionEvent | None:
        """The ALERT event announcing that this row is DEAD (None for an ALERT itself)."""
        if self.status is not ProvisionStatus.DEAD:
            raise IllegalTransition("only a DEAD event raises an alert")
        if self.kind == ALERT_KIND:
            return None
        return ProvisionEvent.new(
            ALERT_KIND,
            {
                "event_id": str(self.id),
                "kind": self.kind,
                "attempts": self.attempts,
                "last_error": self.last_error,
                "subscription_id": _text(self.subscription_id),
                "namespace_id": _text(self.namespace_id),
                "instance_id": _text(self.instance_id),
            },
            now=now,
            correlation_id=self.correlation_id,
            max_attempts=max_attempts,
            subscription_id=self.subscription_id,
            namespace_id=self.namespace_id,
            instance_id=self.instance_id,
        )

    def _require_lease(self, owner: str) -> None:
        if self.status is not ProvisionStatus.RUNNING:
            raise IllegalTransition(f"a {self.status} event is not running")
        if self.lease_owner != owner:
            raise IllegalTransition("the lease on this event belongs to another worker")

    def _end_lease(self, now: datetime) -> None:
        self.lease_owner = None
        self.lease_until = None
        self.updated_at = now


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
