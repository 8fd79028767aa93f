"""Worker steps are timed per kind and outcome (provision_worker_step_duration_seconds)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from api.worker.loop import Worker, WorkerConfig, WorkerRegistry
from domain.model.provision_event import ProvisionEvent

from fakes import FixedClock, InMemoryLedger, InMemoryScheduledJobRuns

CONFIG = WorkerConfig(
    concurrency=4,
    lease=timedelta(seconds=30),
    poll_seconds=0.01,
    grace_seconds=0.2,
    max_attempts=3,
    backoff_base=timedelta(seconds=10),
    backoff_max=timedelta(seconds=60),
)
SERIES = [("METRICS_FINE", "succeeded"), ("METRICS_BROKEN", "failed"), ("METRICS_BROKEN", "dead")]


def counts() -> dict[tuple[str, str], float]:
    name = "provision_worker_step_duration_seconds_count"
    return {
        (kind, outcome): REGISTRY.get_sample_value(name, {"kind": kind, "outcome": outcome}) or 0.0
        for kind, outcome in SERIES
    }


async def test_each_step_is_timed_under_its_kind_and_outcome(clock: FixedClock) -> None:
    ledger, registry = InMemoryLedger(clock), WorkerRegistry()

    async def fine(event: ProvisionEvent) -> None:
        return None

    async def broken(event: ProvisionEvent) -> None:
        raise ConnectionError("peer down")

    registry.register("METRICS_FINE", fine)
    registry.register("METRICS_BROKEN", broken)
    for kind, attempts in [("METRICS_FINE", 3), ("METRICS_BROKEN", 2), ("METRICS_BROKEN", 1)]:
        ledger.add(ProvisionEvent.new(kind, {}, now=clock.now(), max_attempts=attempts))
    before = counts()
    runner = Worker(ledger, InMemoryScheduledJobRuns(), registry, CONFIG, clock, owner="w1")
    await runner.tick()
    await runner.drain()
    after = counts()
    # The broken row with a second attempt to come failed; the one with a single attempt died.
    assert {series: after[series] - before[series] for series in SERIES} == dict.fromkeys(SERIES, 1)
