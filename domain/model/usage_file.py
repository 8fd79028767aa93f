"""GitLab's offline license usage file (protocols-next §1): the CSV an air-gapped instance
exports (Admin → Subscription → Export license usage file), parsed leniently as §1.5 asks.

Layout (§1.2): a header block of ``label,value`` rows (``License Key`` - a quoted, multi-line
field -, ``Email``, ``License Start Date``, ``License End Date``, ``Company``, ``Generated At``),
a separator row of one or two empty cells, the table header ``Date,Billable User Count`` (older
versions: ``Active User Count``), then one ``recorded_at,count`` row per day. Accepted: CRLF or
LF line endings, a UTF-8 byte-order mark, date-only or ``YYYY-MM-DD HH:MM:SS`` values (UTC: the
file names no zone), extra columns (the proposed ``Add-on Metrics``), unknown header labels.

Nothing but the license key is authenticated (§1.3): the counts and dates can be edited, so
:func:`check_against_license` refuses what cannot be true of the key's license (another term,
rows outside the term or in the future) - edited counts cannot be detected.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from domain.errors import ValidationFailed

MAX_FILE_BYTES = 1024 * 1024
"""A year of daily rows is ~10 KB; GitLab caps the table at 15 MB, which no real term reaches."""
MAX_COUNT = 2_147_483_647  # the usage_report columns are 32-bit integers
SOURCE = "USAGE_FILE"

_PATH = ("content",)
_COUNT_HEADERS = frozenset({"billable user count", "active user count"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_INTEGER = re.compile(r"^\d{1,10}$")
_LABELS = {
    "license key": "license_key",
    "email": "email",
    "license start date": "starts_on",
    "license end date": "ends_on",
    "company": "company",
    "generated at": "generated_at",
}


@dataclass(frozen=True)
class UsageFileRow:
    """One ``HistoricalData`` row: the billable users at an instant (UTC)."""

    recorded_at: datetime
    billable_users: int
    row_number: int = field(default=0, compare=False)
    """Where it is in the file (1 is the ``License Key`` row), for error messages."""


@dataclass(frozen=True)
class UsageFile:
    """What a license usage file says. ``sha256`` is over the exact text received."""

    license_key: str
    email: str | None
    starts_on: date | None
    ends_on: date | None
    company: str | None
    generated_at: datetime | None
    rows: tuple[UsageFileRow, ...]
    sha256: str

    @property
    def max_billable_users(self) -> int:
        return max(row.billable_users for row in self.rows)


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, path=_PATH)


def _instant(value: str, where: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD`` (midnight), both UTC."""
    text = value.strip()
    try:
        if _DATE_TIME.match(text):
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    except ValueError:
        pass
    raise _refuse(
        f"{where}: {value!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM:SS); a"
        " spreadsheet program rewrites them: send the file as GitLab exported it"
    )


def _day(value: str, where: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    if not _DATE.match(text):
        raise _refuse(f"{where}: {value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _refuse(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _count(value: str, where: str) -> int:
    text = value.strip()
    if not _INTEGER.match(text) or int(text) > MAX_COUNT:
        raise _refuse(f"{where}: the user count {value!r} is not a whole number up to {MAX_COUNT}")
    return int(text)


def _is_separator(cells: list[str]) -> bool:
    """Two empty cells (current GitLab), one (before gitlab-org/gitlab!78678) or a blank line."""
    return len(cells) <= 2 and all(not cell.strip() for cell in cells)


def _records(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as error:
        where = f"row {len(records) + 1} (line {reader.line_num})"
        raise _refuse(f"{where}: not CSV: {error}") from None
    return records


def parse_usage_file(text: str) -> UsageFile:
    """The file's header and rows; ``ValidationFailed`` (path ``content``) naming the row
    (numbered as in protocols-next §1.2: 1 is ``License Key``) for anything malformed."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise _refuse(f"the usage file has {size} bytes; at most {MAX_FILE_BYTES} are accepted")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    records = _records(text.removeprefix("\ufeff"))
    header: dict[str, str] = {}
    number = 0
    for number, cells in enumerate(records, start=1):
        if _is_separator(cells):
            break
        where = f"row {number}"
        label = cells[0].strip().lower()
        if len(cells) < 2:
            raise _refuse(f"{where}: a header row needs a label and a value ({cells[0]!r})")
        name = _LABELS.get(label)
        if name is None:
            continue  # labels a later GitLab may add
        if name in header:
            raise _refuse(f"{where}: {cells[0].strip()!r} appears twice")
        header[name] = cells[1]
    else:
        raise _refuse("no separator row (an empty row) between the header and the table")
    if not header.get("license_key", "").strip():
        raise _refuse("the file has no License Key row: it is not a GitLab license usage file")
    table_at = number + 1
    table = records[table_at - 1] if table_at <= len(records) else []
    if (
        len(table) < 2
        or table[0].strip().lower() != "date"
        or table[1].strip().lower() not in _COUNT_HEADERS
    ):
        raise _refuse(
            f"row {table_at}: expected the table header 'Date,Billable User Count' (or 'Active"
            f" User Count'), found {','.join(table)!r}"
        )
    rows: list[UsageFileRow] = []
    for number, cells in enumerate(records[table_at:], start=table_at + 1):
        if not any(cell.strip() for cell in cells):
            continue  # a trailing blank line
        where = f"row {number}"
        if len(cells) < 2:
            raise _refuse(f"{where}: expected a date and a user count, found {','.join(cells)!r}")
        rows.append(UsageFileRow(_instant(cells[0], where), _count(cells[1], where), number))
    if not rows:
        raise _refuse("the file has no usage rows (no historical data in the license term)")
    generated = header.get("generated_at", "").strip()
    return UsageFile(
        license_key=header["license_key"],
        email=header.get("email", "").strip() or None,
        starts_on=_day(header.get("starts_on", ""), "License Start Date"),
        ends_on=_day(header.get("ends_on", ""), "License End Date"),
        company=header.get("company", "").strip() or None,
        generated_at=_instant(generated, "Generated At") if generated else None,
        rows=tuple(rows),
        sha256=digest,
    )


def check_against_license(
    usage_file: UsageFile, starts_on: date, expires_on: date, now: datetime
) -> None:
    """Refuse a file that cannot be true of the license whose key it carries: header dates of
    another term, rows outside the term (GitLab exports only rows from the start of the
    ``starts_at`` day to the end of the ``expires_at`` day, §1.2) or after ``now``."""
    if usage_file.starts_on is not None and usage_file.starts_on != starts_on:
        raise _refuse(
            f"License Start Date {usage_file.starts_on.isoformat()} is not the license's"
            f" ({starts_on.isoformat()}): the file was edited"
        )
    if usage_file.ends_on is not None and usage_file.ends_on != expires_on:
        raise _refuse(
            f"License End Date {usage_file.ends_on.isoformat()} is not the license's"
            f" ({expires_on.isoformat()}): the file was edited"
        )
    for row in usage_file.rows:
        day = row.recorded_at.date()
        if not starts_on <= day <= expires_on:
            raise _refuse(
                f"row {row.row_number}: {row.recorded_at:%Y-%m-%d %H:%M:%S} is outside the"
                f" license term ({starts_on.isoformat()} to {expires_on.isoformat()})"
            )
        if row.recorded_at > now:
            raise _refuse(
                f"row {row.row_number}: {row.recorded_at:%Y-%m-%d %H:%M:%S} is in the future"
            )
