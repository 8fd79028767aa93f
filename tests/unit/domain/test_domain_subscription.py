"""Subscription shape: names, segments, terms and the rules checked on construction."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import ValidationFailed
from domain.model.enums import Channel, Deployment, LicensingMode, Plan
from domain.model.subscription import (
    Segment,
    Term,
    is_subscription_name,
    subscription_name,
)

from builders import RAMP_END, RAMP_START, YEAR_2, one_year_term, subscription, term


@pytest.mark.parametrize(
    ("number", "name"),
    [(1, "A-S00000001"), (12345, "A-S00012345"), (99_999_999, "A-S99999999")],
)
def test_subscription_name_pads_the_number_to_eight_digits(number: int, name: str) -> None:
    assert subscription_name(number) == name
    assert is_subscription_name(name)


@pytest.mark.parametrize("number", [0, -1, 10**8])
def test_subscription_number_out_of_range_is_refused(number: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        subscription_name(number)
    assert raised.value.code == "VALIDATION_FAILED"


@pytest.mark.parametrize(
    "value",
    ["", "A-S0001234", "A-S000123456", "a-s00012345", "B-S00012345", "A-S0001234X", " A-S00012345"],
)
def test_is_subscription_name_refuses_other_shapes(value: str) -> None:
    assert not is_subscription_name(value)


def test_subscription_with_a_malformed_name_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        subscription(name="S-12345")


# Segments: a period runs start <= day < end.


def test_segment_covers_its_start_day_and_its_last_day_but_not_its_end_date() -> None:
    segment = Segment(date(2025, 1, 1), date(2025, 2, 1), seats=5)
    assert not segment.covers(date(2024, 12, 31))
    assert segment.covers(date(2025, 1, 1))
    assert segment.covers(date(2025, 1, 31))
    assert not segment.covers(date(2025, 2, 1))


@pytest.mark.parametrize("seats", [0, -3])
def test_segment_needs_at_least_one_seat(seats: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        Segment(date(2025, 1, 1), date(2026, 1, 1), seats=seats)
    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.path == ("seats",)


def test_segment_of_one_seat_and_one_day_is_valid() -> None:
    segment = Segment(date(2025, 1, 1), date(2025, 1, 2), seats=1)
    assert segment.covers(date(2025, 1, 1))


@pytest.mark.parametrize("end", [date(2025, 1, 1), date(2024, 12, 31)])
def test_segment_must_end_after_it_starts(end: date) -> None:
    with pytest.raises(ValidationFailed) as raised:
        Segment(date(2025, 1, 1), end, seats=1)
    assert raised.value.path == ("segments",)


# Terms: consecutive segments.


def test_term_needs_a_segment() -> None:
    with pytest.raises(ValidationFailed) as raised:
        Term(())
    assert raised.value.code == "VALIDATION_FAILED"


def test_term_spans_its_first_to_its_last_segment() -> None:
    ramp = term((RAMP_START, YEAR_2, 100), (YEAR_2, RAMP_END, 250))
    assert (ramp.start_date, ramp.end_date) == (RAMP_START, RAMP_END)


@pytest.mark.parametrize(
    ("second_start", "what"),
    [(YEAR_2 + timedelta(days=1), "gap"), (YEAR_2 - timedelta(days=1), "overlap")],
)
def test_term_refuses_segments_with_a_gap_or_an_overlap(second_start: date, what: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        term((RAMP_START, YEAR_2, 100), (second_start, RAMP_END, 250))
    assert raised.value.code == "VALIDATION_FAILED", what
    assert raised.value.path == ("segments",)


# Subscriptions.


def test_renewal_term_must_start_when_the_previous_term_ends() -> None:
    first = one_year_term(date(2024, 1, 1), date(2025, 1, 1))
    subscription(terms=(first, one_year_term(date(2025, 1, 1), date(2026, 1, 1))))
    for start in (date(2025, 1, 2), date(2024, 12, 31)):
        with pytest.raises(ValidationFailed) as raised:
            subscription(terms=(first, one_year_term(start, date(2026, 1, 1))))
        assert raised.value.code == "VALIDATION_FAILED"


def test_subscription_needs_a_term() -> None:
    with pytest.raises(ValidationFailed):
        subscription(terms=())


def test_subscription_spans_all_its_terms_and_segments() -> None:
    first = one_year_term(date(2024, 1, 1), date(2025, 1, 1), seats=10)
    second = one_year_term(date(2025, 1, 1), date(2026, 1, 1), seats=20)
    sub = subscription(terms=(first, second))
    assert (sub.start_date, sub.end_date) == (date(2024, 1, 1), date(2026, 1, 1))
    assert [segment.seats for segment in sub.segments] == [10, 20]


@pytest.mark.parametrize("max_instances", [0, -1])
def test_max_instances_is_at_least_one(max_instances: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        subscription(max_instances=max_instances)
    assert raised.value.path == ("maxInstances",)


def test_max_instances_defaults_to_one() -> None:
    assert subscription().max_instances == 1


@pytest.mark.parametrize("channel", [Channel.RESELLER, Channel.MARKETPLACE])
def test_partner_channels_need_the_partner(channel: Channel) -> None:
    for missing in (None, ""):
        with pytest.raises(ValidationFailed) as raised:
            subscription(channel=channel, partner_id=missing)
        assert raised.value.path == ("partnerId",)
    assert subscription(channel=channel, partner_id="partner-1").partner_id == "partner-1"


@pytest.mark.parametrize("channel", [Channel.WEB_DIRECT, Channel.SALES])
def test_direct_channels_need_no_partner(channel: Channel) -> None:
    assert subscription(channel=channel).partner_id is None


@pytest.mark.parametrize("mode", list(LicensingMode))
def test_gitlab_com_subscription_has_no_licensing_mode(mode: LicensingMode) -> None:
    with pytest.raises(ValidationFailed) as raised:
        subscription(deployment=Deployment.GITLAB_COM, licensing_mode=mode)
    assert raised.value.path == ("licensingMode",)
    assert subscription(deployment=Deployment.GITLAB_COM).licensing_mode is None


@pytest.mark.parametrize(
    ("deployment", "default"),
    [
        (Deployment.SELF_MANAGED, LicensingMode.ONLINE_CLOUD),
        (Deployment.DEDICATED, LicensingMode.OFFLINE_CLOUD),
    ],
)
def test_licensing_mode_defaults_by_deployment(
    deployment: Deployment, default: LicensingMode
) -> None:
    assert subscription(deployment=deployment).licensing_mode is default


@pytest.mark.parametrize("deployment", [Deployment.SELF_MANAGED, Deployment.DEDICATED])
def test_explicit_licensing_mode_is_kept(deployment: Deployment) -> None:
    sub = subscription(deployment=deployment, licensing_mode=LicensingMode.LEGACY)
    assert sub.licensing_mode is LicensingMode.LEGACY


def test_free_is_not_sold() -> None:
    with pytest.raises(ValidationFailed) as raised:
        subscription(plan=Plan.FREE)
    assert raised.value.path == ("plan",)


@pytest.mark.parametrize("plan", [Plan.PREMIUM, Plan.ULTIMATE])
def test_paid_plans_are_sold(plan: Plan) -> None:
    assert subscription(plan=plan).plan is plan
