"""The ledger worker: claims due provision events, runs their handlers, records every outcome,
and runs the scheduled jobs at most once per due time across all workers."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import re
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api.http.metrics import observe_step
from api.http.tracing import step_span
from domain.model.provision_event import (
    ALERT_KIND,
    MAX_ERROR_LENGTH,
    ProvisionEvent,
    ProvisionStatus,
    backoff_delay,
)
from domain.ports import Clock, Ledger, ScheduledJobRuns
from domain.ports import EventHandler as Handler

logger = logging.getLogger("provision.worker")

JobBody = Callable[[datetime], Awaitable[None]]
"""A scheduled job's body; it receives the due time it runs for."""

FollowUps = Callable[[ProvisionEvent], Awaitable[Sequence[ProvisionEvent]]]
"""Rows to record with a row's outcome (SUCCEEDED or DEAD), in the same transaction: the
webhook events a ledger transition causes (``domain.use_cases.webhooks``)."""

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_URL = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s@]*@)?([^/\s?#'\"]+)[^\s'\"]*")


class StepTimedOut(Exception):
    """An attempt run with a time bound (``Worker.run_now``) did not finish within it."""


def describe_error(exc: BaseException) -> str:
    """What a failure stores: the exception's type and message, URLs cut to their host (paths,
    query strings and user info can hold secrets, such as a webhook's token), truncated."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return _URL.sub(r"\1\2/…", text)[:MAX_ERROR_LENGTH]


def new_owner_id() -> str:
    """A lease owner name unique to this worker process: host, pid and a random part."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


def due_time(now: datetime, every: timedelta) -> datetime:
    """The latest due time of a job that runs ``every`` (slots counted from 2000-01-01 UTC, so
    every worker computes the same ones)."""
    slots = (now - _EPOCH) // every
    return _EPOCH + slots * every


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker runs: concurrency, lease, polling, grace, attempts and backoff."""

    concurrency: int = 16
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 1.0
    grace_seconds: float = 20.0
    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_max: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    every: timedelta
    run: JobBody


class WorkerRegistry:
    """What a worker knows how to run: one handler per event kind, and scheduled jobs."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.jobs: dict[str, ScheduledJob] = {}
        self.closers: list[Callable[[], Awaitable[None]]] = []
        """What the process closes when the worker stops (clients handlers own)."""

    def register(self, kind: str, handler: Handler) -> None:
        """Run ``handler`` for events of ``kind`` (one handler per kind)."""
        if kind in self.handlers:
            raise ValueError(f"a handler for {kind} is registered already")
        self.handlers[kind] = handler

    def register_job(self, name: str, every: timedelta, run: JobBody) -> None:
        """Run ``run`` once per due time (every ``every``), by one worker among all."""
        if name in self.jobs:
            raise ValueError(f"a job called {name} is registered already")
        if every <= timedelta(0):
            raise ValueError("a job runs every positive interval")
        self.jobs[name] = ScheduledJob(name, every, run)


class Worker:
    """One worker's loop. Any number of them may share a ledger."""

    def __init__(
        self,
        ledger: Ledger,
        job_runs: ScheduledJobRuns,
        registry: WorkerRegistry,
        config: WorkerConfig,
        clock: Clock,
        *,
        owner: str | None = None,
        random_source: Callable[[], float] = random.random,
        follow_ups: FollowUps | None = None,
    ) -> None:
        self.ledger = ledger
        self.job_runs = job_runs
        self.registry = registry
        self.config = config
        self.clock = clock
        self.owner = owner or new_owner_id()
        self._random = random_source
        self._follow_ups = follow_ups
        self._in_flight: dict[uuid.UUID, tuple[ProvisionEvent, asyncio.Task[None]]] = {}
        self._jobs_in_flight: set[asyncio.Task[None]] = set()
        self._last_due: dict[str, datetime] = {}
        self.steps_run = 0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run until ``stop`` is set, then shut down gracefully: in-flight steps get
        the grace period to finish; the rest are released unrun (their attempt not counted)."""
        heartbeat = asyncio.create_task(self._heartbeat())
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                try:
                    free, claimed = await self.tick()
                except Exception:
                    logger.exception("claiming failed; trying again after the poll interval")
                    free, claimed = 0, 0
                if free and claimed == free:
                    continue  # more may be due: claim again at once
                waiting: set[asyncio.Future[Any]] = {stopping}
                if not free:
                    waiting |= {task for _, task in self._in_flight.values()}
                await asyncio.wait(
                    waiting, timeout=self.config.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            stopping.cancel()
            try:
                await self.shutdown()
            finally:
                heartbeat.cancel()

    async def tick(self) -> tuple[int, int]:
        """Start the scheduled jobs now due, then claim as many events as there are free
        slots and start them; returns (free slots, events claimed)."""
        await self.start_due_jobs()
        free = self.config.concurrency - len(self._in_flight)
        if free <= 0:
            return 0, 0
        # Only the kinds this worker has handlers for: a row of another kind (GitLab.com
        # provisioning with GITLAB_COM_URL unset, say) waits PENDING for a worker that can.
        events = await self.ledger.claim_due(
            self.owner, free, self.config.lease, self.registry.handlers.keys()
        )
        for event in events:
            if event.id in self._in_flight:
                continue  # our own lease ran out and we reclaimed it: the running task finishes
            task = asyncio.create_task(self._execute(event), name=f"event-{event.id}")
            self._in_flight[event.id] = (event, task)
            task.add_done_callback(functools.partial(self._forget, event.id))
        return free, len(events)

    async def run_now(self, event_id: uuid.UUID, within: float) -> ProvisionEvent | None:
        """Claim the row ``event_id`` ahead of its due time and run one attempt of it here,
        exactly as ``tick`` would (the same handler, lease, outcome and backoff); an attempt
        that takes longer than ``within`` seconds is cancelled and recorded as failed, so the
        workers retry it. The row as it was left, or None when it could not be claimed
        (another holds it, or it is done)."""
        lease = max(self.config.lease, timedelta(seconds=2 * within))
        event = await self.ledger.claim_one(self.owner, event_id, lease)
        if event is None:
            return None
        await self._execute(event, within=within)
        return event

    async def drain(self) -> None:
        """Wait until every started step and job has finished (tests)."""
        while self._in_flight or self._jobs_in_flight:
            await asyncio.gather(
                *(task for _, task in list(self._in_flight.values())),
                *list(self._jobs_in_flight),
            )

    async def shutdown(self) -> None:
        """Give in-flight steps and jobs the grace period, then cancel the rest and release
        their rows, so another worker runs them at once (their attempt is not counted)."""
        tasks = [task for _, task in self._in_flight.values()] + list(self._jobs_in_flight)
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.grace_seconds)
        leftovers = [(event, task) for event, task in self._in_flight.values() if not task.done()]
        for _, task in leftovers:
            task.cancel()
        for job in self._jobs_in_flight:
            job.cancel()
        await asyncio.gather(
            *(task for _, task in leftovers), *self._jobs_in_flight, return_exceptions=True
        )
        for event, _ in leftovers:
            event.release(self.owner, now=self.clock.now())
            if await self.ledger.finish(event, self.owner):
                logger.info("released %s %s unrun at shutdown", event.kind, event.id)

    async def start_due_jobs(self) -> None:
        """Start each scheduled job whose due time this worker has not seen, if it wins the
        claim for that due time."""
        now = self.clock.now()
        for job in self.registry.jobs.values():
            due = due_time(now, job.every)
            if self._last_due.get(job.name) == due:
                continue
            self._last_due[job.name] = due
            if await self.job_runs.claim(job.name, due, self.owner):
                task = asyncio.create_task(self._run_job(job, due), name=f"job-{job.name}")
                self._jobs_in_flight.add(task)
                task.add_done_callback(self._jobs_in_flight.discard)

    async def _run_job(self, job: ScheduledJob, due: datetime) -> None:
        try:
            await job.run(due)
        except Exception as failure:
            logger.exception("scheduled job %s for %s failed", job.name, due.isoformat())
            await self.job_runs.finish(job.name, due, describe_error(failure))
        else:
            await self.job_runs.finish(job.name, due, None)

    def _forget(self, event_id: uuid.UUID, _: asyncio.Task[None]) -> None:
        entry = self._in_flight.pop(event_id, None)
        if entry is None:
            return
        task = entry[1]
        if not task.cancelled() and task.exception() is not None:
            # The outcome could not be stored (the database went away): the lease expires and
            # another attempt runs; handlers are idempotent.
            logger.error("storing the outcome of %s failed", event_id, exc_info=task.exception())

    async def _execute(self, event: ProvisionEvent, *, within: float | None = None) -> None:
        handler = self.registry.handlers.get(event.kind)
        self.steps_run += 1
        started = time.perf_counter()
        try:
            if handler is None:
                raise LookupError(f"no handler for events of kind {event.kind}")
            bound = asyncio.timeout(within)
            try:
                with step_span(event.kind):
                    async with bound:
                        await handler(event)
            except TimeoutError as late:
                if not bound.expired():
                    raise
                raise StepTimedOut(f"no outcome within {within:.3g} s") from late
        except Exception as failure:
            # A handler's exception with ``final = True`` says no other attempt can succeed.
            final = getattr(failure, "final", False) is True
            wait = getattr(failure, "retry_after", None)
            seconds = time.perf_counter() - started
            await self._record_failure(
                event,
                describe_error(failure),
                wait if isinstance(wait, timedelta) else None,
                final=final,
            )
            dead = event.status is ProvisionStatus.DEAD
            observe_step(event.kind, "dead" if dead else "failed", seconds)
            return
        observe_step(event.kind, "succeeded", time.perf_counter() - started)
        event.succeed(self.owner, now=self.clock.now())
        if await self.ledger.finish(event, self.owner, await self._follow_ups_of(event)):
            logger.debug("%s %s succeeded (attempt %d)", event.kind, event.id, event.attempts)
        else:
            logger.warning("%s %s succeeded after its lease was lost", event.kind, event.id)

    async def _record_failure(
        self,
        event: ProvisionEvent,
        error: str,
        retry_after: timedelta | None = None,
        *,
        final: bool = False,
    ) -> None:
        now = self.clock.now()
        delay = backoff_delay(
            event.attempts,
            base=self.config.backoff_base,
            cap=self.config.backoff_max,
            random=self._random,
        )
        if retry_after is not None:
            # The peer said when to come back (a webhook receiver's Retry-After): not sooner.
            delay = max(delay, retry_after)
        event.fail(self.owner, error, now=now, delay=delay, final=final)
        follow_ups = []
        if event.status is ProvisionStatus.DEAD:
            alert = event.alert(now=now, max_attempts=self.config.max_attempts)
            if alert is not None:
                follow_ups.append(alert)
            follow_ups.extend(await self._follow_ups_of(event))
        if not await self.ledger.finish(event, self.owner, follow_ups):
            logger.warning("%s %s failed after its lease was lost", event.kind, event.id)
        elif event.status is ProvisionStatus.DEAD:
            logger.error(
                "%s %s is DEAD after %d attempts%s (correlation %s): %s",
                event.kind,
                event.id,
                event.attempts,
                "; the alert itself could not be delivered" if event.kind == ALERT_KIND else "",
                event.correlation_id,
                error,
            )
        else:
            logger.warning(
                "%s %s failed (attempt %d of %d), next at %s: %s",
                event.kind,
                event.id,
                event.attempts,
                event.max_attempts,
                event.next_attempt_at.isoformat(),
                error,
            )

    async def _follow_ups_of(self, event: ProvisionEvent) -> list[ProvisionEvent]:
        """What the outcome of ``event`` causes; a failure to work it out is logged and
        never changes the outcome itself."""
        if self._follow_ups is None:
            return []
        try:
            return list(await self._follow_ups(event))
        except Exception:
            logger.exception("the follow-ups of %s %s were not recorded", event.kind, event.id)
            return []

    async def _heartbeat(self) -> None:
        """Renew the leases of running steps every third of a lease (during the shutdown grace
        too), so a slow but alive step is not reclaimed by another worker."""
        while True:
            await asyncio.sleep(self.config.lease.total_seconds() / 3)
            ids = list(self._in_flight)
            if not ids:
                continue
            try:
                held = await self.ledger.extend_leases(self.owner, ids, self.config.lease)
            except Exception:
                logger.exception("renewing leases failed")
                continue
            for lost in set(ids) - held:
                if lost in self._in_flight:
                    logger.warning("the lease on %s was lost", lost)
