"""The fleet rules: which instance roles count seats, how instances combine, stopped syncing
and the end of a retired instance's access."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import ValidationFailed
from domain.model.fleet import (
    ContributionReason,
    InstanceFigures,
    InstanceRole,
    access_end,
    combine,
    contribution_of,
    is_stale,
)

SEATS = 100


def _figures(
    role: InstanceRole, billable: int | None, maximum: int | None, retired: bool = False
) -> InstanceFigures:
    return InstanceFigures(uuid.uuid4(), role, billable, maximum, retired)


def test_production_counts_every_user() -> None:
    part = contribution_of(_figures(InstanceRole.PRODUCTION, 90, 120), SEATS)
    assert (part.counted_billable_users, part.counted_max_users) == (90, 120)
    assert part.reason is ContributionReason.COUNTED


@pytest.mark.parametrize("role", [InstanceRole.GEO_SECONDARY, InstanceRole.DISASTER_RECOVERY])
def test_a_geo_secondary_or_dr_standby_adds_no_seats(role: InstanceRole) -> None:
    part = contribution_of(_figures(role, 500, 600), SEATS)
    assert (part.counted_billable_users, part.counted_max_users) == (0, 0)
    assert part.reason is ContributionReason.REPLICA
    assert (part.billable_users, part.max_historical_users) == (500, 600)


@pytest.mark.parametrize("role", [InstanceRole.STAGING, InstanceRole.TEST])
def test_staging_and_test_are_free_up_to_the_allowance_and_count_beyond_it(
    role: InstanceRole,
) -> None:
    within = contribution_of(_figures(role, 80, SEATS), SEATS)
    assert (within.counted_billable_users, within.counted_max_users) == (0, 0)
    assert within.reason is ContributionReason.WITHIN_ALLOWANCE
    beyond = contribution_of(_figures(role, SEATS + 3, SEATS + 5), SEATS)
    assert (beyond.counted_billable_users, beyond.counted_max_users) == (3, 5)
    assert beyond.reason is ContributionReason.BEYOND_ALLOWANCE
    assert str(SEATS) in beyond.explanation


def test_a_retired_instance_and_one_without_a_report_count_nothing() -> None:
    retired = contribution_of(_figures(InstanceRole.PRODUCTION, 50, 50, retired=True), SEATS)
    assert retired.reason is ContributionReason.RETIRED
    assert retired.counted_max_users == 0
    silent = contribution_of(_figures(InstanceRole.PRODUCTION, None, None), SEATS)
    assert silent.reason is ContributionReason.NO_REPORT
    assert (silent.billable_users, silent.counted_max_users) == (0, 0)


def test_combine_adds_the_counted_parts_and_bills_the_overage() -> None:
    fleet = combine(
        SEATS,
        [
            _figures(InstanceRole.PRODUCTION, 95, 104),
            _figures(InstanceRole.GEO_SECONDARY, 95, 104),
            _figures(InstanceRole.STAGING, 102, 110),
        ],
    )
    assert fleet.billable_users == 95 + 0 + 2
    assert fleet.max_seats_used == 104 + 0 + 10
    assert fleet.overage == 14
    assert [p.reason for p in fleet.contributions] == [
        ContributionReason.COUNTED,
        ContributionReason.REPLICA,
        ContributionReason.BEYOND_ALLOWANCE,
    ]
    assert combine(SEATS, []).overage == 0


def test_an_instance_is_stale_after_n_days_without_a_seat_link() -> None:
    now = datetime(2026, 6, 10, 12, tzinfo=UTC)
    activated = now - timedelta(days=30)
    assert not is_stale(now - timedelta(days=6, hours=23), activated, now, 7)
    assert is_stale(now - timedelta(days=7), activated, now, 7)
    # Never synced: counted from its activation.
    assert not is_stale(None, now - timedelta(days=2), now, 7)
    assert is_stale(None, activated, now, 7)


def test_access_end_defaults_to_the_grace_and_stays_within_today_and_the_term() -> None:
    today, term_end = date(2026, 6, 10), date(2027, 1, 1)
    assert access_end(None, today, term_end) == date(2026, 6, 24)
    assert access_end(None, today, date(2026, 6, 15)) == date(2026, 6, 15)
    assert access_end(today, today, term_end) == today
    with pytest.raises(ValidationFailed, match="past"):
        access_end(today - timedelta(days=1), today, term_end)
    with pytest.raises(ValidationFailed, match="term"):
        access_end(term_end + timedelta(days=1), today, term_end)
