"""``GET /metrics``: the ledger's figures and process basics in Prometheus' text format.

Only aggregates leave: counts by status and kind, the oldest due row's wait, the DEAD count -
no ids, payloads, errors or tenant names. Open by default (for the internal network, where
Prometheus scrapes); with ``PROVISION_METRICS_TOKEN`` set, callers must send it as a bearer.
"""

from __future__ import annotations

import hmac
import os
import resource
import time
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from domain.model.provision_event import ProvisionStatus
from domain.ports import Clock
from persistence.staff_reads import LedgerSummary, StaffReads

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STARTED = time.time()


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def ledger_lines(summary: LedgerSummary) -> list[str]:
    per_status = dict.fromkeys((s.value for s in ProvisionStatus), 0)
    for status, _, count in summary.counts:
        per_status[status] = per_status.get(status, 0) + count
    return [
        *_family(
            "provision_ledger_events",
            "gauge",
            "Provisioning ledger rows by status and kind.",
            (
                f'provision_ledger_events{{status="{_label(status)}",kind="{_label(kind)}"}}'
                f" {count}"
                for status, kind, count in summary.counts
            ),
        ),
        *_family(
            "provision_ledger_events_by_status",
            "gauge",
            "Provisioning ledger rows by status (every status, 0 included).",
            (
                f'provision_ledger_events_by_status{{status="{status}"}} {count}'
                for status, count in per_status.items()
            ),
        ),
        *_family(
            "provision_ledger_dead_events",
            "gauge",
            "DEAD ledger rows, waiting for staff to retry or resolve them.",
            [f"provision_ledger_dead_events {per_status[ProvisionStatus.DEAD.value]}"],
        ),
        *_family(
            "provision_ledger_oldest_pending_age_seconds",
            "gauge",
            "How long the longest-waiting due row (PENDING or FAILED) has waited; 0 if none.",
            [f"provision_ledger_oldest_pending_age_seconds {summary.oldest_due_age_seconds:.3f}"],
        ),
    ]


def process_lines() -> list[str]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lines = [
        *_family(
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            [f"process_cpu_seconds_total {usage.ru_utime + usage.ru_stime:.3f}"],
        ),
        *_family(
            "process_start_time_seconds",
            "gauge",
            "When the process started, in seconds since the Unix epoch.",
            [f"process_start_time_seconds {_STARTED:.3f}"],
        ),
    ]
    try:
        with open("/proc/self/statm") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return lines  # not Linux: skipped rather than guessed
    rss = resident_pages * os.sysconf("SC_PAGE_SIZE")
    return [
        *lines,
        *_family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size, in bytes.",
            [f"process_resident_memory_bytes {rss}"],
        ),
    ]


def _authorized(request: Request, token: str | None) -> bool:
    if not token:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def metrics_endpoint(
    read: StaffReads, clock: Clock, token: str | None
) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        if not _authorized(request, token):
            return PlainTextResponse(
                "a bearer token is needed for /metrics\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        summary = await read.ledger_metrics(clock.now())
        body = "\n".join([*ledger_lines(summary), *process_lines()]) + "\n"
        return Response(body, media_type=CONTENT_TYPE)

    return metrics
