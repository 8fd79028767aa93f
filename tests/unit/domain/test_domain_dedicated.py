"""The Dedicated tenant's facts and its state machine: every move, every refused move."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta

import pytest

from domain.errors import ValidationFailed
from domain.model.dedicated import (
    DedicatedTenant,
    MaintenanceWindow,
    TenantFacts,
    TenantState,
    TenantTransitionRefused,
    deprovision_date,
    reminder_due,
    renewal_due,
)
from tests.factories import NOW

FACTS = TenantFacts(
    expected_users=3000,
    storage_gib=500,
    primary_region="eu-west-1",
    secondary_region="eu-central-1",
    onboarding_contacts=("ops@example.com", "cto@example.com"),
    maintenance_window=MaintenanceWindow.EMEA,
    bring_your_own_key=True,
    hosted_runners=("linux-small-amd64",),
)
S = TenantState


def tenant_in(state: TenantState) -> DedicatedTenant:
    """A tenant walked to ``state`` through the legal moves."""
    tenant = DedicatedTenant.order(uuid.uuid4(), FACTS, NOW)
    paths = {
        S.ORDERED: [],
        S.ONBOARDING_INVITED: ["invite"],
        S.PROVISIONING: ["invite", "provision"],
        S.ACTIVE: ["invite", "provision", "active"],
        S.CHANGING: ["invite", "provision", "active", "change"],
        S.DEPROVISIONING: ["invite", "provision", "active", "deprovision"],
        S.GONE: ["invite", "provision", "active", "deprovision", "gone"],
        S.FAILED: ["invite", "provision", "fail"],
    }
    for move in paths[state]:
        MOVES[move](tenant)
    assert tenant.state is state
    return tenant


MOVES = {
    "invite": lambda t: t.invited(NOW),
    "provision": lambda t: t.provisioning_requested(NOW),
    "active": lambda t: t.reached(S.ACTIVE, NOW, "tenant created"),
    "change": lambda t: t.change_requested(NOW, replace(FACTS, storage_gib=800), "more storage"),
    "deprovision": lambda t: t.deprovisioning_requested(NOW, "term ended"),
    "gone": lambda t: t.reached(S.GONE, NOW, "tenant deleted"),
    "fail": lambda t: t.failed(NOW, "quota exceeded in eu-west-1"),
    "retry": lambda t: t.retried(NOW),
}

ALLOWED = {
    "invite": {S.ORDERED: S.ONBOARDING_INVITED},
    "provision": {S.ONBOARDING_INVITED: S.PROVISIONING},
    "active": {S.PROVISIONING: S.ACTIVE, S.CHANGING: S.ACTIVE},
    "change": {S.ACTIVE: S.CHANGING},
    "deprovision": {S.ACTIVE: S.DEPROVISIONING},
    "gone": {S.DEPROVISIONING: S.GONE},
    "fail": {S.PROVISIONING: S.FAILED, S.CHANGING: S.FAILED, S.DEPROVISIONING: S.FAILED},
    "retry": {S.FAILED: S.PROVISIONING},
}

LEGAL = [(m, s, t) for m, table in ALLOWED.items() for s, t in table.items()]
REFUSED = [(m, s) for m in ALLOWED for s in S if s not in ALLOWED[m]]


@pytest.mark.parametrize(("move", "start", "end"), LEGAL)
def test_each_transition_moves_and_is_recorded(
    move: str, start: TenantState, end: TenantState
) -> None:
    tenant = tenant_in(start)
    before = len(tenant.history)
    MOVES[move](tenant)
    assert tenant.state is end
    assert len(tenant.history) == before + 1
    last = tenant.history[-1]
    assert (last.from_state, last.to_state, last.at) == (start, end, NOW)
    assert last.reason


@pytest.mark.parametrize(("move", "start"), REFUSED)
def test_each_other_transition_is_refused(move: str, start: TenantState) -> None:
    tenant = tenant_in(start)
    history = tenant.history
    with pytest.raises(TenantTransitionRefused):
        MOVES[move](tenant)
    assert tenant.state is start
    assert tenant.history == history


def test_a_failure_keeps_its_reason_and_a_retry_returns_to_the_failed_state() -> None:
    tenant = tenant_in(S.CHANGING)
    tenant.failed(NOW, "storage resize refused")
    assert tenant.last_error == "storage resize refused"
    assert tenant.retried(NOW + timedelta(hours=1)) is S.CHANGING
    assert tenant.state is S.CHANGING
    assert tenant.failed_from is None
    tenant.reached(S.ACTIVE, NOW, "resized")
    assert tenant.last_error is None


def test_the_provisioner_reports_only_active_or_gone() -> None:
    tenant = tenant_in(S.PROVISIONING)
    with pytest.raises(TenantTransitionRefused):
        tenant.reached(S.CHANGING, NOW, "?")


def test_an_order_starts_its_history() -> None:
    tenant = DedicatedTenant.order(uuid.uuid4(), FACTS, NOW)
    assert tenant.state is S.ORDERED
    assert [(h.from_state, h.to_state) for h in tenant.history] == [(None, S.ORDERED)]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"expected_users": 0}, "expectedUsers"),
        ({"storage_gib": 0}, "storageGib"),
        ({"primary_region": "mars-north-1"}, "primaryRegion"),
        ({"secondary_region": "nowhere"}, "secondaryRegion"),
        ({"secondary_region": "eu-west-1"}, "secondaryRegion"),
        ({"onboarding_contacts": ()}, "onboardingContacts"),
        ({"onboarding_contacts": ("not-an-email",)}, "onboardingContacts"),
        ({"onboarding_contacts": ("a@example.com", "a@example.com")}, "onboardingContacts"),
        (
            {"onboarding_contacts": tuple(f"p{i}@example.com" for i in range(11))},
            "onboardingContacts",
        ),
        ({"hosted_runners": ("windows-huge",)}, "hostedRunners"),
        ({"hosted_runners": ("linux-small-amd64", "linux-small-amd64")}, "hostedRunners"),
    ],
)
def test_facts_are_validated(change: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        replace(FACTS, **change)  # type: ignore[arg-type]
    assert refused.value.path == (path,)


def test_facts_round_trip_through_json() -> None:
    assert TenantFacts.from_json(FACTS.as_json()) == FACTS
    no_secondary = replace(FACTS, secondary_region=None)
    assert TenantFacts.from_json(no_secondary.as_json()) == no_secondary


def test_storage_grows_users_change_but_regions_and_keys_are_permanent() -> None:
    grown = replace(FACTS, storage_gib=1000, expected_users=5000)
    assert FACTS.changed_to(grown) == grown
    for change, path in [
        ({"storage_gib": 100}, "storageGib"),
        ({"primary_region": "us-east-1"}, "primaryRegion"),
        ({"secondary_region": None}, "secondaryRegion"),
        ({"bring_your_own_key": False}, "bringYourOwnKey"),
        ({"geo_migration": True}, "geoMigration"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            FACTS.changed_to(replace(FACTS, **change))  # type: ignore[arg-type]
        assert refused.value.path == (path,)


def test_a_refused_change_leaves_the_tenant_as_it_was() -> None:
    tenant = tenant_in(S.ACTIVE)
    with pytest.raises(ValidationFailed):
        tenant.change_requested(NOW, replace(FACTS, storage_gib=1), "shrink")
    assert tenant.state is S.ACTIVE
    assert tenant.facts == FACTS


def test_a_tenant_is_removed_at_the_term_end_or_on_the_day_cancelled_at_once() -> None:
    end, day = date(2027, 11, 1), date(2027, 3, 5)
    assert deprovision_date(None, False, end) is None
    assert deprovision_date(None, True, end) == end
    assert deprovision_date(day, False, end) == day


@pytest.mark.parametrize(
    ("days_left", "due"),
    [(40, None), (31, None), (30, 30), (20, 30), (7, 7), (3, 7), (1, 1), (0, None), (-2, None)],
)
def test_the_nearest_removal_reminder_is_due(days_left: int, due: int | None) -> None:
    removal = date(2027, 11, 1)
    assert reminder_due(removal - timedelta(days=days_left), removal) == due


def test_the_renewal_license_goes_within_its_window_and_only_with_a_next_term() -> None:
    expires, next_start = date(2027, 11, 1), date(2027, 11, 1)
    assert not renewal_due(expires, None, date(2027, 10, 25), 30)
    assert not renewal_due(expires, next_start, date(2027, 9, 30), 30)
    assert renewal_due(expires, next_start, date(2027, 10, 2), 30)
    assert renewal_due(expires, next_start, date(2027, 11, 5), 30)  # late: still sent
    assert not renewal_due(expires, date(2027, 5, 1), date(2027, 10, 25), 30)  # an older term


def test_an_active_tenant_is_resized_to_more_storage_and_users() -> None:
    tenant = tenant_in(S.ACTIVE)
    wanted = tenant.resized(800, 3500, seats=3000)
    assert (wanted.storage_gib, wanted.expected_users) == (800, 3500)
    assert wanted.primary_region == FACTS.primary_region  # the rest is kept
    assert tenant.facts == FACTS  # resized() only answers; change_requested() moves


@pytest.mark.parametrize(
    ("storage", "users", "path", "words"),
    [
        (400, 3000, "storageGib", "never shrinks"),
        (500, 3000, "storageGib", "nothing to change"),
        (800, 2999, "expectedUsers", "below the 3000 seats"),
    ],
)
def test_a_resize_that_shrinks_storage_changes_nothing_or_drops_below_seats_is_refused(
    storage: int, users: int, path: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        tenant_in(S.ACTIVE).resized(storage, users, seats=3000)
    assert refused.value.path == (path,)
    assert words in str(refused.value)


@pytest.mark.parametrize("state", [s for s in TenantState if s is not TenantState.ACTIVE])
def test_only_an_active_tenant_is_resized(state: TenantState) -> None:
    with pytest.raises(TenantTransitionRefused, match="only an ACTIVE one"):
        tenant_in(state).resized(900, 4000, seats=1)
