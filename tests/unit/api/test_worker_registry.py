"""The worker's registry as a process builds it: built-in kinds and job, plugins named in
PROVISION_WORKER_PLUGINS; and the built-in job that gives up rows lost on their last attempt."""

from __future__ import annotations

import sys
import types
from datetime import timedelta

import httpx
import pytest

from api.settings import Settings
from api.worker.handlers import GIVE_UP_LOST_ROWS_JOB, give_up_lost_rows_job
from api.worker.loop import WorkerConfig, WorkerRegistry
from api.worker.process import (
    DEDICATED_SWEEP_JOB,
    INSTANCES_STOPPED_SYNCING_JOB,
    SANDBOX_CLOCKS_JOB,
    SUBSCRIPTION_EXPIRING_JOB,
    TRANSFERS_JOB,
    TRIAL_ENDING_SOON_JOB,
    TRIAL_EXPIRY_JOB,
    WorkerContext,
    build_registry,
    worker_config,
)
from domain.model.provision_event import (
    ALERT_KIND,
    ProvisionEvent,
    ProvisionKind,
    ProvisionStatus,
)
from integrations.http_ping import HTTP_PING_KIND
from persistence.database import Database

from fakes import FixedClock, InMemoryLedger


def _plugin_module() -> None:
    module = types.ModuleType("ledger_test_plugin")

    def register(registry: WorkerRegistry, context: WorkerContext) -> None:
        async def echo(event: ProvisionEvent) -> None:
            return None

        registry.register("TEST_ECHO", echo)

    module.register = register  # type: ignore[attr-defined]
    sys.modules["ledger_test_plugin"] = module


async def test_plugins_add_kinds_to_the_built_in_ones(clock: FixedClock) -> None:
    _plugin_module()
    settings = Settings(worker_plugins=("ledger_test_plugin:register",))
    async with httpx.AsyncClient() as http:
        context = WorkerContext(
            Database("postgresql://unused"), http, settings, clock, worker_config(settings)
        )
        registry = build_registry(context)
    assert set(registry.handlers) == {
        ALERT_KIND,
        HTTP_PING_KIND,
        "EMAIL",
        "WEBHOOK_DELIVERY",
        "MARKETPLACE_EVENT",
        "TEST_ECHO",
    }
    # Every built-in kind has its own API name (ProvisionEventKind); a plugin's shows as OTHER.
    assert set(registry.handlers) - {"TEST_ECHO"} <= set(ProvisionKind)
    assert set(registry.jobs) == {
        GIVE_UP_LOST_ROWS_JOB,
        TRIAL_EXPIRY_JOB,
        TRIAL_ENDING_SOON_JOB,
        SUBSCRIPTION_EXPIRING_JOB,
        INSTANCES_STOPPED_SYNCING_JOB,
        TRANSFERS_JOB,
        DEDICATED_SWEEP_JOB,
        SANDBOX_CLOCKS_JOB,
    }


async def test_a_plugin_must_be_module_colon_function(clock: FixedClock) -> None:
    settings = Settings(worker_plugins=("no_colon_here",))
    async with httpx.AsyncClient() as http:
        context = WorkerContext(
            Database("postgresql://unused"), http, settings, clock, worker_config(settings)
        )
        with pytest.raises(ValueError, match="module:function"):
            build_registry(context)


def test_worker_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "PROVISION_WORKER_CONCURRENCY": "4",
            "PROVISION_WORKER_LEASE_SECONDS": "2.5",
            "PROVISION_LEDGER_MAX_ATTEMPTS": "3",
            "PROVISION_LEDGER_BACKOFF_BASE_SECONDS": "0.5",
            "PROVISION_LEDGER_BACKOFF_MAX_SECONDS": "30",
            "PROVISION_ALERT_WEBHOOK_URL": "https://hooks.example/x",
            "PROVISION_WORKER_PLUGINS": "a:b, c:d",
        }
    )
    config = worker_config(settings)
    assert (config.concurrency, config.lease, config.max_attempts) == (
        4,
        timedelta(seconds=2.5),
        3,
    )
    assert (config.backoff_base, config.backoff_max) == (
        timedelta(seconds=0.5),
        timedelta(seconds=30),
    )
    assert settings.alert_webhook_url == "https://hooks.example/x"
    assert settings.worker_plugins == ("a:b", "c:d")


async def test_rows_lost_on_their_last_attempt_are_given_up_with_an_alert(
    clock: FixedClock,
) -> None:
    ledger = InMemoryLedger(clock)
    lost = ProvisionEvent.new("PING", {}, now=clock.now(), max_attempts=1)
    retryable = ProvisionEvent.new("PING", {}, now=clock.now(), max_attempts=2)
    ledger.add(lost)
    ledger.add(retryable)
    await ledger.claim_due("dead-worker", 2, timedelta(seconds=10))
    clock.advance(timedelta(seconds=11))
    job = give_up_lost_rows_job(ledger, clock, WorkerConfig(max_attempts=4))
    await job(clock.now())
    assert ledger.rows[lost.id].status is ProvisionStatus.DEAD
    assert ledger.rows[retryable.id].status is ProvisionStatus.RUNNING  # reclaimed by a claim
    [alert] = [e for e in ledger.rows.values() if e.kind == ALERT_KIND]
    assert alert.payload["event_id"] == str(lost.id)
    assert alert.max_attempts == 4
