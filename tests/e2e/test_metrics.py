"""``GET /metrics``: the ledger's figures in Prometheus' text format, no tenant data, and the
optional static bearer token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from domain.model.provision_event import ProvisionStatus
from persistence.database import Database

import factories as f
from bearer import bearer, token_for
from clocks import TickingClock
from ledger_rows import record, row

SAMPLE = re.compile(r"^[a-z_]+(\{[^}]*\})? -?[0-9.e+]+$")


def samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        assert SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        found[name] = float(value)
    return found


async def test_ledger_counts_dead_rows_and_the_oldest_wait(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    acme_only = row("NAMESPACE_PROVISION", age=timedelta(minutes=5), secret_group="acme-corp")
    await record(
        clean_db,
        acme_only,
        row("NAMESPACE_PROVISION", ProvisionStatus.DEAD),
        row("ALERT", ProvisionStatus.SUCCEEDED),
    )
    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    assert "# TYPE provision_ledger_events gauge" in text
    got = samples(text)
    assert got['provision_ledger_events{status="PENDING",kind="NAMESPACE_PROVISION"}'] == 1
    assert got['provision_ledger_events{status="DEAD",kind="NAMESPACE_PROVISION"}'] == 1
    assert got['provision_ledger_events{status="SUCCEEDED",kind="ALERT"}'] == 1
    assert got['provision_ledger_events_by_status{status="RESOLVED"}'] == 0
    assert got["provision_ledger_dead_events"] == 1
    assert 295 <= got["provision_ledger_oldest_pending_age_seconds"] <= 360
    assert got["process_cpu_seconds_total"] > 0
    assert got["process_start_time_seconds"] > 0
    # Aggregates only: no ids, payloads or errors.
    assert "acme" not in text
    assert str(acme_only.id) not in text
    assert "DeliveryRefused" not in text


async def test_an_empty_ledger_reads_zero(anonymous: httpx.AsyncClient, clean_db: Database) -> None:
    got = samples((await anonymous.get("/metrics")).text)
    assert got["provision_ledger_dead_events"] == 0
    assert got["provision_ledger_oldest_pending_age_seconds"] == 0
    assert not [name for name in got if name.startswith("provision_ledger_events{")]


@pytest.fixture
async def guarded(database_url: str, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(
        Settings(database_url=database_url, pool_max=2, gc_interval=0, metrics_token="s3cret"),
        clock=TickingClock(f.NOW),
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as c:
            yield c


async def test_with_a_metrics_token_only_its_bearer_reads(
    guarded: httpx.AsyncClient, app: Starlette
) -> None:
    assert (await guarded.get("/metrics")).status_code == 401
    wrong = await guarded.get("/metrics", headers=bearer("other"))
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    staff_jwt = await guarded.get("/metrics", headers=bearer(token_for(app)))
    assert staff_jwt.status_code == 401  # the metrics token, not an API token
    allowed = await guarded.get("/metrics", headers=bearer("s3cret"))
    assert allowed.status_code == 200
    assert "provision_ledger_dead_events 0" in allowed.text


def test_the_token_comes_from_the_environment() -> None:
    assert Settings.from_env({"PROVISION_METRICS_TOKEN": "t"}).metrics_token == "t"
    assert Settings.from_env({}).metrics_token is None
