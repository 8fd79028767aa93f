"""``GET /metrics``: Prometheus' text format, with ``prometheus-client``.

What it shows: the processes' own figures (api/http/metrics.py: requests, database pools,
worker steps; every process of the host in multiprocess mode) and the ledger's, read from the
database at each scrape by a collector made for that scrape (``LedgerCollector``).

Only aggregates leave: counts by status and kind, the oldest due row's wait, the DEAD count -
no ids, payloads, errors or tenant names. Open by default (for the internal network, where
Prometheus scrapes); with ``PROVISION_METRICS_TOKEN`` set, callers must send it as a bearer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.http.metrics import bearer_matches, registry, sample_pool
from domain.model.provision_event import ProvisionStatus
from domain.ports import Clock
from persistence.database import Database
from persistence.staff_reads import LedgerSummary, StaffReads

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class LedgerCollector(Collector):
    """The ledger's figures of one scrape (the same in every process: they are the
    database's, so they are not part of the multiprocess files)."""

    def __init__(self, summary: LedgerSummary) -> None:
        self.summary = summary

    def collect(self) -> Iterator[Metric]:
        per_status = dict.fromkeys((s.value for s in ProvisionStatus), 0)
        by_kind = GaugeMetricFamily(
            "provision_ledger_events",
            "Provisioning ledger rows by status and kind.",
            labels=["status", "kind"],
        )
        for status, kind, count in self.summary.counts:
            by_kind.add_metric([status, kind], count)
            per_status[status] = per_status.get(status, 0) + count
        yield by_kind
        by_status = GaugeMetricFamily(
            "provision_ledger_events_by_status",
            "Provisioning ledger rows by status (every status, 0 included).",
            labels=["status"],
        )
        for status, count in per_status.items():
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "provision_ledger_dead_events",
            "DEAD ledger rows, waiting for staff to retry or resolve them.",
            value=per_status[ProvisionStatus.DEAD.value],
        )
        yield GaugeMetricFamily(
            "provision_ledger_oldest_pending_age_seconds",
            "How long the longest-waiting due row (PENDING or FAILED) has waited; 0 if none.",
            value=self.summary.oldest_due_age_seconds,
        )


def exposition(summary: LedgerSummary) -> bytes:
    ledger = CollectorRegistry(auto_describe=False)
    ledger.register(LedgerCollector(summary))
    return generate_latest(registry()) + generate_latest(ledger)


def metrics_endpoint(
    read: StaffReads, clock: Clock, token: str | None, db: Database
) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        if not bearer_matches(request.headers.get("authorization", ""), token):
            return PlainTextResponse(
                "a bearer token is needed for /metrics\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        summary = await read.ledger_metrics(clock.now())
        sample_pool("api", db.engine.pool)
        return Response(exposition(summary), media_type=CONTENT_TYPE)

    return metrics
