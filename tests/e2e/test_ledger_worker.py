"""`provision worker` processes against one database and real peers on sockets: retries with
backoff, DEAD rows alert once through the webhook, two workers drain 2,000 rows with each run
exactly once, and a row whose worker was SIGKILLed is reclaimed after its lease."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.model.provision_event import ALERT_KIND, ProvisionEvent, ProvisionStatus
from integrations.clock import SystemClock
from integrations.http_ping import HTTP_PING_KIND
from persistence.database import Database
from persistence.ledger import PostgresLedger
from persistence.unit_of_work import PostgresUnitOfWork

from ledger_peer import SHORT_LEASE, Peer, serving_peer, workers

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

WORKER_CLOCK = SystemClock()
"""The clock a ``provision worker`` process runs on: the rows it claims are stamped with it
(due times and leases are compared on the workers' clock, not the database's)."""


@pytest.fixture(scope="module")
def module_peer() -> Iterator[Peer]:
    with serving_peer() as peer:
        yield peer


@pytest.fixture
def peer(module_peer: Peer) -> Peer:
    module_peer.reset()
    return module_peer


def ping(peer: Peer, max_attempts: int = 5, **body: Any) -> ProvisionEvent:
    return ProvisionEvent.new(
        HTTP_PING_KIND,
        {"url": peer.ping_url, "body": body},
        now=WORKER_CLOCK.now(),
        max_attempts=max_attempts,
    )


async def record(db: Database, events: list[ProvisionEvent]) -> None:
    async with PostgresUnitOfWork(db) as uow:
        await uow.outbox.record_many(events)
        await uow.commit()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.02)


async def status_of(db: Database, event: ProvisionEvent) -> ProvisionStatus | None:
    stored = await PostgresLedger(db, WORKER_CLOCK).get(event.id)
    return stored.status if stored else None


async def test_a_step_that_fails_three_times_succeeds_on_the_fourth_attempt(
    clean_db: Database, peer: Peer, tmp_path: Path
) -> None:
    event = ping(peer, fail_times=3)
    with workers(clean_db.dsn, tmp_path, 1):
        await record(clean_db, [event])

        async def succeeded() -> bool:
            return await status_of(clean_db, event) is ProvisionStatus.SUCCEEDED

        await eventually(succeeded, 20, "the row succeeds")
    stored = await PostgresLedger(clean_db, WORKER_CLOCK).get(event.id)
    assert stored is not None
    assert stored.attempts == 4
    assert stored.last_error == "DeliveryRefused: the peer answered 503"  # the last failure
    assert stored.next_attempt_at > stored.created_at  # moved by the backoff
    assert peer.attempts[str(event.id)] == 4
    assert peer.successes[str(event.id)] == 1


async def test_a_dead_row_sends_exactly_one_alert_to_the_webhook(
    clean_db: Database, peer: Peer, tmp_path: Path
) -> None:
    peer.hook_failures = 1  # the alert itself is retried
    event = ping(peer, max_attempts=2, fail_times=99)
    with workers(clean_db.dsn, tmp_path, 1, PROVISION_ALERT_WEBHOOK_URL=peer.hook_url) as [one]:
        await record(clean_db, [event])

        async def alerted() -> bool:
            count = await clean_db.fetchval(
                "SELECT count(*) FROM provision_event WHERE kind = $1 AND status = 'SUCCEEDED'",
                ALERT_KIND,
            )
            return bool(count)

        await eventually(alerted, 20, "the alert is delivered")
    # The worker has stopped (SIGTERM waits for steps in flight), and no row is left to run:
    # nothing can arrive any more, so the counts below are final, not early.
    assert (
        await clean_db.fetchval(
            "SELECT count(*) FROM provision_event WHERE status NOT IN ('SUCCEEDED', 'DEAD')"
        )
        == 0
    )
    assert await status_of(clean_db, event) is ProvisionStatus.DEAD
    assert peer.hook_calls == 2
    [alert] = peer.alerts
    assert str(event.id) in alert["text"]
    assert "DEAD after 2 attempts" in alert["text"]
    assert alert["blocks"][0]["text"]["text"] == alert["text"]
    rows = await clean_db.fetch("SELECT kind, status, attempts FROM provision_event")
    assert sorted((r["kind"], r["status"], r["attempts"]) for r in rows) == [
        (ALERT_KIND, "SUCCEEDED", 2),
        (HTTP_PING_KIND, "DEAD", 2),
    ]
    assert "secret-token" not in one.output()


async def test_two_workers_drain_2000_rows_each_run_exactly_once(
    clean_db: Database, peer: Peer, tmp_path: Path
) -> None:
    events = [ping(peer, n=n) for n in range(2000)]
    with workers(clean_db.dsn, tmp_path, 2) as pair:
        started = time.monotonic()
        await record(clean_db, events)

        async def drained() -> bool:
            left = await clean_db.fetchval(
                "SELECT count(*) FROM provision_event WHERE status <> 'SUCCEEDED'"
            )
            return left == 0

        await eventually(drained, 90, "2,000 rows drained")
        elapsed = time.monotonic() - started
    assert len(peer.successes) == 2000
    assert set(peer.successes.values()) == {1}
    assert set(peer.attempts.values()) == {1}
    assert {str(e.id) for e in events} == set(peer.successes)
    for worker in pair:
        assert "ran 0 steps" not in worker.output(), "both workers took rows"
    print(f"2,000 rows in {elapsed:.1f} s")


async def test_a_row_whose_worker_was_killed_is_reclaimed_after_its_lease(
    clean_db: Database, peer: Peer, tmp_path: Path
) -> None:
    event = ping(peer, hang_first=True)
    with workers(clean_db.dsn, tmp_path / "a", 1, **SHORT_LEASE) as [doomed]:
        await record(clean_db, [event])

        async def in_the_step() -> bool:
            return peer.attempts[str(event.id)] == 1

        await eventually(in_the_step, 10, "the first attempt reaches the peer")
        doomed.process.kill()  # SIGKILL: no grace, no release
        doomed.process.wait(timeout=10)
    with workers(clean_db.dsn, tmp_path / "b", 1):

        async def succeeded() -> bool:
            return await status_of(clean_db, event) is ProvisionStatus.SUCCEEDED

        await eventually(succeeded, 20, "another worker completes the row")
    stored = await PostgresLedger(clean_db, WORKER_CLOCK).get(event.id)
    assert stored is not None
    assert stored.attempts == 2
    assert peer.attempts[str(event.id)] == 2
    assert peer.successes[str(event.id)] == 1
