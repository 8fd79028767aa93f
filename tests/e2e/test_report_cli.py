"""``provision report`` as a process of its own (docs/reports.md): CSV and JSON output of the
same rows, and refused arguments. The command runs on the system clock, so the ledger rows here
are dated from it (the factories' "now" would be in its future on a shifted-date run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest

from integrations.clock import SystemClock
from persistence.database import Database

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", "report", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _event(db: Database, kind: str, status: str, at: datetime, error: str, n: int) -> None:
    await db.fetch(
        "INSERT INTO provision_event (id, kind, correlation_id, payload, status, attempts,"
        " max_attempts, next_attempt_at, last_error, created_at, updated_at)"
        " VALUES ($1, $2, 'c', '{}', $3, $4, 8, $5, $6, $5, $5)",
        uuid.uuid4(),
        kind,
        status,
        n,
        at,
        error,
    )


async def test_staff_print_a_report_as_csv_or_json(clean_db: Database, database_url: str) -> None:
    day = SystemClock().today() - timedelta(days=3)
    at = datetime.combine(day, time(10), UTC)
    await _event(clean_db, "NAMESPACE_PROVISION", "DEAD", at, "HTTP 502: bad gateway", 3)
    await _event(clean_db, "NAMESPACE_PROVISION", "DEAD", at, "HTTP 502: upstream", 3)
    await _event(clean_db, "EMAIL", "SUCCEEDED", at, "smtp: refused", 2)
    period = ("--from", day.isoformat(), "--to", (day + timedelta(days=1)).isoformat())

    as_csv = _run(database_url, "provisioning-failures", *period)
    assert (as_csv.returncode, as_csv.stderr) == (0, "")
    assert as_csv.stdout == (
        "kind,cause,rows,attempts,recovered,failing,dead,resolved\n"
        "NAMESPACE_PROVISION,HTTP 502,2,6,0,0,2,0\n"
        "EMAIL,smtp,1,2,1,0,0,0\n"
    )
    as_json = _run(database_url, "provisioning-failures", *period, "--format", "json")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == [
        {"kind": "NAMESPACE_PROVISION", "cause": "HTTP 502", "rows": 2, "attempts": 6,
         "recovered": 0, "failing": 0, "dead": 2, "resolved": 0},
        {"kind": "EMAIL", "cause": "smtp", "rows": 1, "attempts": 2,
         "recovered": 1, "failing": 0, "dead": 0, "resolved": 0},
    ]  # fmt: skip
    # The day after: nothing failed then; the CSV is its header alone.
    later = _run(database_url, "provisioning-failures", "--from", period[3])
    assert (later.returncode, later.stdout) == (0, "kind,cause,rows,attempts,recovered,"
                                                   "failing,dead,resolved\n")  # fmt: skip

    open_steps = _run(database_url, "open-steps", "--format", "json")
    assert open_steps.returncode == 0
    [dead] = json.loads(open_steps.stdout)
    age = dead.pop("oldest_age_seconds")
    assert dead == {
        "kind": "NAMESPACE_PROVISION",
        "status": "DEAD",
        "rows": 2,
        "oldest_created_at": at.isoformat(),
    }
    assert 3 * 86_400 - 11 * 3_600 < age < 4 * 86_400


async def test_refused_arguments_exit_2_with_the_reason(
    clean_db: Database, database_url: str
) -> None:
    reversed_period = _run(database_url, "trials", "--from", "2026-12-01", "--to", "2026-11-01")
    assert (reversed_period.returncode, reversed_period.stdout) == (2, "")
    assert "report refused: a period's `from` must be before its `to`" in reversed_period.stderr
    too_many = _run(database_url, "seat-overage", "--limit", "0")
    assert (too_many.returncode, too_many.stdout) == (2, "")
    assert "report refused: `limit` must be 1 to 10000" in too_many.stderr
    not_a_day = _run(database_url, "trials", "--from", "yesterday")
    assert not_a_day.returncode == 2
    assert "'yesterday' is not a date (YYYY-MM-DD)" in not_a_day.stderr
    unknown = _run(database_url, "everything")
    assert unknown.returncode == 2
    assert "invalid choice: 'everything'" in unknown.stderr
