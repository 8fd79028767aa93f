"""The license usage file parser (protocols-next §1.2, §1.5): each leniency rule, each
malformed case refused with the row named, and the checks against the key's license."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import ValidationFailed
from domain.model.usage_file import (
    MAX_FILE_BYTES,
    UsageFileRow,
    check_against_license,
    parse_usage_file,
)

from usage_files import usage_file

KEY = "eyJkYXRhIjoiYWJjIiwia2V5IjoiZGVmIiwiaXYiOiJnaGkifQ==\nc2Vjb25kIGxpbmU=\n"
START = date(2026, 1, 10)
END = date(2027, 1, 10)
GENERATED = datetime(2026, 3, 1, 9, 30, 5, tzinfo=UTC)
ROWS = [
    (datetime(2026, 1, 10, 12, 0, 3, tzinfo=UTC), 40),
    (datetime(2026, 1, 11, 12, 0, 2, tzinfo=UTC), 45),
    (datetime(2026, 1, 12, 12, 0, 4, tzinfo=UTC), 42),
]


def made(**overrides: object) -> str:
    fields: dict[str, object] = {
        "starts_on": START,
        "ends_on": END,
        "generated_at": GENERATED,
    }
    fields.update(overrides)
    rows = fields.pop("rows", ROWS)
    return usage_file(KEY, rows, **fields)  # type: ignore[arg-type]


def refused(text: str) -> str:
    with pytest.raises(ValidationFailed) as caught:
        parse_usage_file(text)
    assert caught.value.path == ("content",)
    return caught.value.message


def test_the_current_gitlab_layout_parses_into_header_and_rows() -> None:
    text = made()
    parsed = parse_usage_file(text)
    assert parsed.license_key == KEY
    assert parsed.email == "ada@acme.test"
    assert parsed.company == "Acme Corp"
    assert (parsed.starts_on, parsed.ends_on) == (START, END)
    assert parsed.generated_at == GENERATED
    assert parsed.rows == tuple(UsageFileRow(at, n) for at, n in ROWS)
    assert [row.row_number for row in parsed.rows] == [9, 10, 11]
    assert parsed.max_billable_users == 45
    assert parsed.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_the_older_active_user_count_header_is_accepted() -> None:
    parsed = parse_usage_file(made(count_header="Active User Count"))
    assert [row.billable_users for row in parsed.rows] == [40, 45, 42]


def test_date_only_rows_are_midnight_utc() -> None:
    parsed = parse_usage_file(made(rows=[(date(2026, 1, 10), 7), (date(2026, 1, 11), 8)]))
    assert [row.recorded_at for row in parsed.rows] == [
        datetime(2026, 1, 10, tzinfo=UTC),
        datetime(2026, 1, 11, tzinfo=UTC),
    ]


@pytest.mark.parametrize("separator", [("",), ("", ""), ()], ids=["one-cell", "two-cell", "blank"])
def test_one_cell_two_cell_and_blank_separator_rows(separator: tuple[str, ...]) -> None:
    assert len(parse_usage_file(made(separator=separator)).rows) == 3


def test_crlf_line_endings_and_a_byte_order_mark() -> None:
    parsed = parse_usage_file("\ufeff" + made(line_end="\r\n"))
    assert parsed.rows == tuple(UsageFileRow(at, n) for at, n in ROWS)
    assert parsed.license_key == KEY  # the quoted key keeps its own LF line breaks


def test_extra_columns_and_unknown_header_labels_are_ignored() -> None:
    text = made(extra_columns=["Add-on Metrics"]).replace(
        "Company,", "Instance Flavour,air-gapped\r\nCompany,", 1
    )
    parsed = parse_usage_file(text)
    assert [row.billable_users for row in parsed.rows] == [40, 45, 42]
    assert parsed.company == "Acme Corp"


def test_an_empty_license_end_date_and_trailing_blank_lines() -> None:
    parsed = parse_usage_file(made(ends_on=None) + "\n\n")
    assert parsed.ends_on is None
    assert len(parsed.rows) == 3


def test_a_file_past_the_size_cap_is_refused_before_parsing() -> None:
    message = refused("x" * (MAX_FILE_BYTES + 1))
    assert f"has {MAX_FILE_BYTES + 1} bytes; at most {MAX_FILE_BYTES} are accepted" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("2026-01-11 12:00:02", "11/01/2026 12:00"), "row 10: '11/01/2026"),
        (lambda t: t.replace("2026-01-12 12:00:04", "2026-02-30 12:00:04"), "row 11:"),
        (lambda t: t.replace(",45", ",forty-five"), "row 10: the user count 'forty-five'"),
        (lambda t: t.replace(",45", ",-45"), "row 10: the user count '-45'"),
        (lambda t: t.replace(",45", ",99999999999"), "row 10: the user count"),
        (lambda t: t.replace(",45", ""), "row 10: expected a date and a user count"),
        (lambda t: t.replace("Billable User Count", "Seats"), "row 8: expected the table header"),
        (lambda t: t.replace('"",""\n', ""), "no separator row"),
        (lambda t: t.replace("Email,", "Email\n"), "row 2: a header row needs a label"),
        (lambda t: t.replace("Company,", "Email,"), "row 5: 'Email' appears twice"),
        (lambda t: t.replace("2026-01-10\n", "10.01.2026\n", 1), "License Start Date"),
        (lambda t: t.replace("2026-03-01 09:30:05", "yesterday"), "Generated At: 'yesterday'"),
        (lambda t: t.replace('"', "", 1), "not CSV"),
    ],
    ids=[
        "spreadsheet-date",
        "impossible-date",
        "count-not-a-number",
        "negative-count",
        "count-too-large",
        "count-missing",
        "table-header",
        "separator-missing",
        "header-row-one-cell",
        "header-label-twice",
        "start-date",
        "generated-at",
        "broken-quoting",
    ],
)
def test_malformed_files_are_refused_naming_the_row(edit: object, expected: str) -> None:
    text = edit(made())  # type: ignore[operator]
    assert expected in refused(text)


def test_a_file_without_a_license_key_or_without_rows_is_refused() -> None:
    assert "no License Key" in refused(made().replace("License Key", "Licence Key", 1))
    assert "no usage rows" in refused(made(rows=[]))


def test_not_a_usage_file_at_all() -> None:
    assert "no separator row" in refused("name,email\nada,ada@acme.test\n")
    assert "no separator row" in refused("")


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def checked(**overrides: object) -> None:
    check_against_license(parse_usage_file(made(**overrides)), START, END, NOW)


def test_a_file_of_the_license_term_passes_the_checks() -> None:
    checked()
    checked(rows=[(date(2026, 1, 10), 1), (datetime(2026, 3, 1, 11, 0, tzinfo=UTC), 2)])


def test_header_dates_of_another_term_are_refused_as_edited() -> None:
    with pytest.raises(ValidationFailed, match="License Start Date 2026-01-09 is not the"):
        checked(starts_on=START - timedelta(days=1))
    with pytest.raises(ValidationFailed, match="License End Date 2028-01-10 is not the"):
        checked(ends_on=date(2028, 1, 10))


def test_rows_outside_the_term_or_in_the_future_are_refused_naming_the_row() -> None:
    before = [*ROWS, (datetime(2026, 1, 9, 23, 59, 59, tzinfo=UTC), 3)]
    with pytest.raises(ValidationFailed, match="row 12: 2026-01-09 23:59:59 is outside"):
        checked(rows=before)
    later = [(datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC), 3)]
    with pytest.raises(ValidationFailed, match="row 9: 2026-03-01 12:00:01 is in the future"):
        checked(rows=later)


def test_the_last_day_of_the_term_counts_until_its_end() -> None:
    # GitLab exports rows to the end of the expires_at day (§1.2).
    last = [(datetime(2027, 1, 10, 23, 59, 59, tzinfo=UTC), 3)]
    late = datetime(2027, 2, 1, tzinfo=UTC)
    check_against_license(parse_usage_file(made(rows=last)), START, END, late)
    after = [(datetime(2027, 1, 11, 0, 0, 0, tzinfo=UTC), 3)]
    with pytest.raises(ValidationFailed, match="outside the license term"):
        check_against_license(parse_usage_file(made(rows=after)), START, END, late)
