"""Provision events: creation rules, the idempotency key, status transitions, backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import (
    ProvisionEventNotResolvable,
    ProvisionEventNotRetryable,
    ValidationFailed,
)
from domain.model.provision_event import (
    ALERT_KIND,
    IllegalTransition,
    ProvisionEvent,
    ProvisionStatus,
    backoff_delay,
)

from fakes import FixedClock

LEASE = timedelta(seconds=30)


def event(
    clock: FixedClock, max_attempts: int = 3, kind: str = "NAMESPACE_PROVISION"
) -> ProvisionEvent:
    return ProvisionEvent.new(
        kind, {"plan": "ULTIMATE"}, now=clock.now(), max_attempts=max_attempts
    )


def test_a_new_event_is_pending_due_now_and_starts_its_own_correlation(clock: FixedClock) -> None:
    created = event(clock)
    assert created.status is ProvisionStatus.PENDING
    assert created.attempts == 0
    assert created.next_attempt_at == clock.now()
    assert created.correlation_id == str(created.id)
    assert created.is_due(clock.now())


def test_the_idempotency_key_is_the_same_for_every_attempt(clock: FixedClock) -> None:
    created = event(clock)
    key = created.idempotency_key
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.fail("w1", "boom", now=clock.now(), delay=timedelta(0))
    created.claim("w2", now=clock.now(), lease=LEASE)
    assert created.idempotency_key == key
    assert str(created.id) in key
    assert event(clock).idempotency_key != key


@pytest.mark.parametrize("kind", ["", "lower_case", "WITH SPACE", "X" * 61, "DASH-ED"])
def test_a_kind_is_upper_snake_case(clock: FixedClock, kind: str) -> None:
    with pytest.raises(ValidationFailed):
        event(clock, kind=kind)


def test_at_least_one_attempt(clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed):
        event(clock, max_attempts=0)


def test_claim_counts_an_attempt_and_leases_the_row(clock: FixedClock) -> None:
    created = event(clock)
    created.claim("w1", now=clock.now(), lease=LEASE)
    assert created.status is ProvisionStatus.RUNNING
    assert (created.attempts, created.lease_owner) == (1, "w1")
    assert created.lease_until == clock.now() + LEASE
    with pytest.raises(IllegalTransition):
        created.claim("w2", now=clock.now(), lease=LEASE)  # the lease holds


def test_an_expired_lease_can_be_reclaimed(clock: FixedClock) -> None:
    created = event(clock)
    created.claim("w1", now=clock.now(), lease=LEASE)
    clock.advance(LEASE + timedelta(seconds=1))
    created.claim("w2", now=clock.now(), lease=LEASE)
    assert (created.attempts, created.lease_owner) == (2, "w2")
    with pytest.raises(IllegalTransition, match="another worker"):
        created.succeed("w1", now=clock.now())


def test_success_ends_the_lease(clock: FixedClock) -> None:
    created = event(clock)
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.succeed("w1", now=clock.now())
    assert created.status is ProvisionStatus.SUCCEEDED
    assert created.lease_owner is None
    assert created.lease_until is None
    for illegal in (
        lambda: created.succeed("w1", now=clock.now()),
        lambda: created.retry(now=clock.now()),
        lambda: created.claim("w1", now=clock.now(), lease=LEASE),
    ):
        with pytest.raises(IllegalTransition):
            illegal()


def test_failure_waits_the_backoff_then_dies_after_the_last_attempt(clock: FixedClock) -> None:
    created = event(clock, max_attempts=2)
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.fail("w1", "503 from GitLab.com", now=clock.now(), delay=timedelta(seconds=8))
    assert created.status is ProvisionStatus.FAILED
    assert created.next_attempt_at == clock.now() + timedelta(seconds=8)
    assert not created.is_due(clock.now())
    clock.advance(timedelta(seconds=8))
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.fail("w1", "x" * 5000, now=clock.now(), delay=timedelta(seconds=8))
    assert created.status is ProvisionStatus.DEAD
    assert created.last_error is not None
    assert len(created.last_error) == 2000
    assert not created.is_due(clock.now() + timedelta(days=1))


def test_release_gives_the_attempt_back(clock: FixedClock) -> None:
    created = event(clock)
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.release("w1", now=clock.now())
    assert (created.status, created.attempts, created.lease_owner) == (
        ProvisionStatus.PENDING,
        0,
        None,
    )
    with pytest.raises(IllegalTransition):
        created.release("w1", now=clock.now())


def test_a_dead_row_raises_one_alert_with_its_correlation(clock: FixedClock) -> None:
    created = event(clock, max_attempts=1)
    with pytest.raises(IllegalTransition):
        created.alert(now=clock.now(), max_attempts=5)
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.fail("w1", "boom", now=clock.now(), delay=timedelta(0))
    alert = created.alert(now=clock.now(), max_attempts=5)
    assert alert is not None
    assert alert.kind == ALERT_KIND
    assert alert.correlation_id == created.correlation_id
    assert alert.payload["event_id"] == str(created.id)
    assert alert.payload["last_error"] == "boom"
    assert alert.max_attempts == 5


def test_a_dead_alert_raises_no_alert(clock: FixedClock) -> None:
    alert = event(clock, max_attempts=1, kind=ALERT_KIND)
    alert.claim("w1", now=clock.now(), lease=LEASE)
    alert.fail("w1", "webhook down", now=clock.now(), delay=timedelta(0))
    assert alert.alert(now=clock.now(), max_attempts=5) is None


def test_a_row_lost_on_its_last_attempt_is_given_up(clock: FixedClock) -> None:
    created = event(clock, max_attempts=1)
    created.claim("w1", now=clock.now(), lease=LEASE)
    with pytest.raises(IllegalTransition):
        created.give_up("lost", now=clock.now())  # the lease still holds
    clock.advance(LEASE * 2)
    created.give_up("lease expired", now=clock.now())
    assert created.status is ProvisionStatus.DEAD


def test_staff_retry_starts_over(clock: FixedClock) -> None:
    created = event(clock, max_attempts=1)
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.fail("w1", "boom", now=clock.now(), delay=timedelta(0))
    created.retry(now=clock.now())
    assert (created.status, created.attempts) == (ProvisionStatus.PENDING, 0)


def dead(clock: FixedClock) -> ProvisionEvent:
    created = event(clock, max_attempts=1)
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.fail("w1", "boom", now=clock.now(), delay=timedelta(0))
    assert created.status is ProvisionStatus.DEAD
    return created


def test_staff_resolve_closes_a_dead_row_for_good(clock: FixedClock) -> None:
    created = dead(clock)
    clock.advance(timedelta(minutes=5))
    created.resolve("  provisioned by hand  ", now=clock.now())
    assert created.status is ProvisionStatus.RESOLVED
    assert (created.resolved_reason, created.resolved_at) == ("provisioned by hand", clock.now())
    assert created.last_error == "boom"  # kept as history
    assert not created.is_due(clock.now() + timedelta(days=1))
    with pytest.raises(ProvisionEventNotRetryable):
        created.retry(now=clock.now())
    with pytest.raises(ProvisionEventNotResolvable):
        created.resolve("again", now=clock.now())


def test_only_failed_or_dead_rows_are_retried_or_resolved(clock: FixedClock) -> None:
    pending = event(clock)
    with pytest.raises(ProvisionEventNotRetryable, match="a PENDING event cannot be retried"):
        pending.retry(now=clock.now())
    pending.claim("w1", now=clock.now(), lease=LEASE)
    with pytest.raises(ProvisionEventNotResolvable) as refused:
        pending.resolve("no", now=clock.now())
    assert refused.value.code == "PROVISION_EVENT_NOT_RESOLVABLE"
    assert isinstance(refused.value, IllegalTransition)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001])
def test_a_resolution_needs_a_reason(clock: FixedClock, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        dead(clock).resolve(reason, now=clock.now())
    assert refused.value.path == ("reason",)


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    base, cap = timedelta(seconds=1), timedelta(seconds=60)
    top = [backoff_delay(n, base=base, cap=cap, random=lambda: 0.999999) for n in range(1, 9)]
    assert [round(d.total_seconds()) for d in top] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(3, base=base, cap=cap, random=lambda: 0.0) == timedelta(0)
    assert backoff_delay(3, base=base, cap=cap, random=lambda: 0.5) == timedelta(seconds=2)
    assert backoff_delay(10_000, base=base, cap=cap, random=lambda: 0.5) == timedelta(seconds=30)


def test_backoff_refuses_nonsense() -> None:
    base, cap = timedelta(seconds=1), timedelta(seconds=60)
    with pytest.raises(ValueError):
        backoff_delay(0, base=base, cap=cap, random=lambda: 0.5)
    with pytest.raises(ValueError):
        backoff_delay(1, base=base, cap=cap, random=lambda: 1.0)


def test_a_final_failure_is_dead_at_once_and_staff_may_retry_it(clock: FixedClock) -> None:
    created = event(clock)
    assert created.max_attempts > 1
    created.claim("w1", now=clock.now(), lease=LEASE)
    created.fail("w1", "unknown offer", now=clock.now(), delay=LEASE, final=True)
    assert (created.status, created.attempts) == (ProvisionStatus.DEAD, 1)
    assert created.alert(now=clock.now(), max_attempts=3) is not None
    created.retry(now=clock.now())
    assert created.status is ProvisionStatus.PENDING
