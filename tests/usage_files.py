"""License usage files made the way GitLab makes them (protocols-next §1.2,
``HistoricalUserData::CsvService``), with knobs for the older forms it accepted."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime


def normalized(license_key: str) -> str:
    """``License#normalized_data``: CRLF to LF, trailing newlines removed, one ``\\n`` added."""
    return license_key.replace("\r\n", "\n").rstrip("\n") + "\n"


def usage_file(
    license_key: str,
    rows: Sequence[tuple[datetime | date, int]],
    *,
    starts_on: date,
    ends_on: date | None,
    generated_at: datetime,
    email: str = "ada@acme.test",
    company: str = "Acme Corp",
    count_header: str = "Billable User Count",
    separator: Sequence[str] = ("", ""),
    line_end: str = "\n",
    extra_columns: Sequence[str] = (),
) -> str:
    """The CSV text. ``rows`` are ``recorded_at`` instants (or, as older GitLab wrote them,
    dates) with the billable user count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(["License Key", normalized(license_key)])
    writer.writerow(["Email", email])
    writer.writerow(["License Start Date", starts_on.strftime("%Y-%m-%d")])
    writer.writerow(["License End Date", ends_on.strftime("%Y-%m-%d") if ends_on else ""])
    writer.writerow(["Company", company])
    writer.writerow(["Generated At", generated_at.strftime("%Y-%m-%d %H:%M:%S")])
    # Ruby's CSV quotes empty strings (quote_empty), so GitLab's separator reads "","".
    out.write(",".join('""' for _ in separator) + line_end)
    writer.writerow(["Date", count_header, *extra_columns])
    for at, count in rows:
        stamp = at.strftime("%Y-%m-%d %H:%M:%S") if isinstance(at, datetime) else at.isoformat()
        writer.writerow([stamp, str(count), *("{}" for _ in extra_columns)])
    return out.getvalue()
