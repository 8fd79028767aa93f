"""``GET /metrics``: the ledger's figures in Prometheus' text format, no tenant data, the
optional static bearer token; requests counted and timed per route, operation and status; the
database pool's connections; several processes added up (prometheus-client's multiprocess
mode)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from api.app import create_app
from api.http import metrics
from api.http.metrics import OPERATION_NAMES, REQUEST_BUCKETS, operation_label
from api.rest.metrics import exposition
from api.settings import Settings
from domain.model.provision_event import ProvisionStatus
from persistence.database import Database
from persistence.staff_reads import LedgerSummary

import factories as f
from bearer import bearer, token_for
from clocks import TickingClock
from ledger_rows import record, row


def samples(text: str) -> dict[str, float]:
    """Every sample, keyed ``name{label="value",…}`` with the labels in name order (as
    prometheus-client writes them); the parser refuses a malformed line."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
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
    assert got['provision_ledger_events{kind="NAMESPACE_PROVISION",status="PENDING"}'] == 1
    assert got['provision_ledger_events{kind="NAMESPACE_PROVISION",status="DEAD"}'] == 1
    assert got['provision_ledger_events{kind="ALERT",status="SUCCEEDED"}'] == 1
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


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


PROBE = "query MetricsProbe { viewer { kind } }"
PROBE_LABELS = {"route": "/graphql", "operation": "MetricsProbe", "status": "200"}


async def test_requests_are_counted_and_timed_by_route_operation_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/metrics")).text
    for _ in range(3):
        answered = await client.post(
            "/graphql", json={"query": PROBE, "operationName": "MetricsProbe"}
        )
        assert answered.status_code == 200
    assert (await client.get("/no/such/route")).status_code == 404
    after = (await client.get("/metrics")).text

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("provision_http_requests_total", **PROBE_LABELS) == 3
    assert moved("provision_http_request_duration_seconds_count", **PROBE_LABELS) == 3
    assert moved("provision_http_request_duration_seconds_sum", **PROBE_LABELS) > 0
    # Every bucket is there, cumulative, and the three requests are in the +Inf one.
    buckets = [
        (sample.labels["le"], sample.value)
        for family in text_string_to_metric_families(after)
        for sample in family.samples
        if sample.name == "provision_http_request_duration_seconds_bucket"
        and {k: v for k, v in sample.labels.items() if k != "le"} == PROBE_LABELS
    ]
    assert [le for le, _ in buckets] == [*(str(b) for b in REQUEST_BUCKETS), "+Inf"]
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)
    assert moved("provision_http_request_duration_seconds_bucket", le="+Inf", **PROBE_LABELS) == 3
    # A 404 has no route; the scrape before this one was counted under /metrics.
    unmatched = {"route": "unmatched", "operation": "", "status": "404"}
    assert moved("provision_http_requests_total", **unmatched) == 1
    assert moved("provision_http_requests_total", route="/metrics", operation="", status="200") == 1


async def test_the_database_pool_is_shown(anonymous: httpx.AsyncClient) -> None:
    text = (await anonymous.get("/metrics")).text
    # The session's app has pool_max=5 (tests/e2e/conftest.py).
    assert value(text, "provision_db_pool_max_connections", pool="api") == 5
    opened = value(text, "provision_db_pool_connections", pool="api", state="open")
    idle = value(text, "provision_db_pool_connections", pool="api", state="idle")
    in_use = value(text, "provision_db_pool_connections", pool="api", state="in_use")
    assert 1 <= opened <= 5
    assert in_use == opened - idle


def test_operation_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_names", set())
    names = [operation_label(f"Generated{i}") for i in range(OPERATION_NAMES + 50)]
    assert names[-1] == "other"
    assert len(set(names)) <= OPERATION_NAMES + 1


RECORD = """
import sys
from api.http.metrics import observe_request, observe_step, process_exited, sample_pool

class Pool:
    def get_size(self): return 3
    def get_idle_size(self): return 1
    def get_max_size(self): return 5

observe_request("/graphql", "Two", 200, 0.02)
observe_step("PING", "succeeded", 0.3)
sample_pool("api", Pool())
if sys.argv[1] == "exits":
    process_exited()
"""


def test_several_processes_are_added_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two real processes write to one PROMETHEUS_MULTIPROC_DIR; /metrics' registry adds
    their counters and histograms, and counts the live gauges of the one still "running"
    only (the other called ``process_exited``, as a process does when it stops)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for role in ("exits", "stays"):
        subprocess.run([sys.executable, "-c", RECORD, role], env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("*.db"))) >= 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = exposition(LedgerSummary(counts=[], oldest_due_age_seconds=0.0)).decode()
    labels = {"route": "/graphql", "operation": "Two", "status": "200"}
    assert value(text, "provision_http_requests_total", **labels) == 2
    assert value(text, "provision_http_request_duration_seconds_count", **labels) == 2
    assert value(text, "provision_http_request_duration_seconds_bucket", le="0.025", **labels) == 2
    assert value(text, "provision_http_request_duration_seconds_bucket", le="0.01", **labels) == 0
    step = {"kind": "PING", "outcome": "succeeded"}
    assert value(text, "provision_worker_step_duration_seconds_count", **step) == 2
    assert value(text, "provision_db_pool_connections", pool="api", state="open") == 3
    assert value(text, "provision_db_pool_max_connections", pool="api") == 5
    assert "provision_ledger_dead_events 0.0" in text


def test_a_worker_metrics_port_in_use_stops_the_worker_with_one_line(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
        env.update(DATABASE_URL=database_url, PROVISION_WORKER_METRICS_PORT=str(port))
        done = subprocess.run(
            [sys.executable, "-m", "api.cli.main", "worker"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"PROVISION_WORKER_METRICS_PORT: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert "Traceback" not in done.stderr
