"""``provision report <name>``: a staff report (docs/reports.md) as CSV or JSON, run as staff
on the system clock through the same use case as ``Query.staffReports``."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from api.cli.support import with_connection
from api.settings import Settings
from domain.model.reports import REPORT_COLUMNS, ReportName

if TYPE_CHECKING:
    import asyncpg


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def add_report_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="a staff report as CSV or JSON (docs/reports.md)",
        description="Run a staff report: one SQL query, printed as CSV (default) or JSON.",
    )
    report.add_argument("name", choices=[name.value for name in ReportName], help="the report")
    report.add_argument("--format", choices=("csv", "json"), default="csv")
    report.add_argument(
        "--from", dest="start", type=_day, metavar="DATE", help="first day (UTC, inclusive)"
    )
    report.add_argument(
        "--to", dest="end", type=_day, metavar="DATE", help="day after the period (exclusive)"
    )
    report.add_argument("--limit", type=int, help="at most this many rows (1-10000; 100)")
    report.add_argument(
        "--days", type=int, default=7, help="stopped-syncing: silent at least this many days"
    )


def _value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def render(name: ReportName, rows: list[Any], output_format: str) -> str:
    """The rows as CSV (a header, then one line each) or a JSON array of objects."""
    records = [{k: _value(v) for k, v in dataclasses.asdict(row).items()} for row in rows]
    if output_format == "json":
        return json.dumps(records, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS[name], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def run_report_command(settings: Settings, args: argparse.Namespace) -> int:
    """Print the report; exit 2 with the reason when its arguments are refused."""
    from domain.errors import DomainError
    from domain.policy import ALL_SCOPES
    from domain.principal import Principal, PrincipalKind
    from domain.use_cases.reports import ReportRequest, run_report
    from integrations.clock import SystemClock
    from persistence.database import Database
    from persistence.read_models import ReadModels

    name = ReportName(args.name)
    request = ReportRequest(name, args.start, args.end, args.limit, args.days)
    operator = Principal(PrincipalKind.STAFF, "cli", ALL_SCOPES)

    async def report(connection: asyncpg.Connection, dsn: str) -> list[Any]:
        db = Database(dsn, pool_min=1, pool_max=1)
        await db.start()
        try:
            return list(await run_report(ReadModels(db), SystemClock(), operator, request))
        finally:
            await db.stop()

    try:
        rows = with_connection(settings, report)
    except DomainError as refused:
        print(f"report refused: {refused.message}", file=sys.stderr)
        return 2
    sys.stdout.write(render(name, rows, args.format))
    return 0
