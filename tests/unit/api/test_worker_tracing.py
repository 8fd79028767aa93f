"""With tracing on, each ledger step is a span ("ledger step KIND") and what the handler
does inside it is its child; off, a step makes no span."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.http import tracing
from api.worker.loop import Worker, WorkerConfig, WorkerRegistry
from domain.model.provision_event import ProvisionEvent

from fakes import FixedClock, InMemoryLedger, InMemoryScheduledJobRuns

CONFIG = WorkerConfig(
    concurrency=2,
    lease=timedelta(seconds=30),
    poll_seconds=0.01,
    grace_seconds=0.2,
    max_attempts=3,
    backoff_base=timedelta(seconds=10),
    backoff_max=timedelta(seconds=60),
)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    started = tracing.start_tracing("provision-worker", provider)
    assert started is not None
    yield exporter
    started.stop()


async def run_one(clock: FixedClock) -> None:
    ledger, registry = InMemoryLedger(clock), WorkerRegistry()

    async def ping(event: ProvisionEvent) -> None:
        active = tracing._active
        if active is not None:
            with active.tracer.start_as_current_span("inside the handler"):
                pass

    registry.register("TRACED_PING", ping)
    ledger.add(ProvisionEvent.new("TRACED_PING", {}, now=clock.now(), max_attempts=3))
    runner = Worker(ledger, InMemoryScheduledJobRuns(), registry, CONFIG, clock, owner="w1")
    await runner.tick()
    await runner.drain()


async def test_a_step_is_a_span_with_the_handlers_work_inside(
    clock: FixedClock, exporter: InMemorySpanExporter
) -> None:
    await run_one(clock)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    step, inner = spans["ledger step TRACED_PING"], spans["inside the handler"]
    assert step.attributes == {"kind": "TRACED_PING"}
    assert inner.parent is not None
    assert step.context is not None
    assert inner.parent.span_id == step.context.span_id


async def test_off_a_step_makes_no_span(clock: FixedClock) -> None:
    assert tracing._active is None
    with tracing.step_span("TRACED_PING") as nothing:
        assert nothing is None
    await run_one(clock)  # and runs as usual
