"""A GitLab Dedicated tenant (protocol-next §6): the facts the customer gives before onboarding,
and the tenant's lifecycle as a state machine with its history.

```
ORDERED ─invite─▶ ONBOARDING_INVITED ─request─▶ PROVISIONING ─reached─▶ ACTIVE
ACTIVE ─change─▶ CHANGING ─reached─▶ ACTIVE
ACTIVE ─deprovision─▶ DEPROVISIONING ─reached─▶ GONE
PROVISIONING / CHANGING / DEPROVISIONING ─fail─▶ FAILED ─retry─▶ the state it failed in
```

Every move is a method; any other raises ``TenantTransitionRefused``. Each move appends a
``TenantStateChange`` (from, to, when, why) to the history.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from domain.errors import DomainError, ValidationFailed
from domain.model.ids import new_id

DEDICATED_TENANT_KIND = "DEDICATED_TENANT"
"""The ledger kind of every tenant step (its payload's ``step`` says which)."""


class TenantState(StrEnum):
    ORDERED = "ORDERED"
    ONBOARDING_INVITED = "ONBOARDING_INVITED"
    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    CHANGING = "CHANGING"
    DEPROVISIONING = "DEPROVISIONING"
    GONE = "GONE"
    FAILED = "FAILED"


class MaintenanceWindow(StrEnum):
    """The weekly 4-hour windows (UTC) of §6.4."""

    APAC = "APAC"  # Wednesday 13:00-17:00
    EMEA = "EMEA"  # Tuesday 01:00-05:00
    AMERICAS_1 = "AMERICAS_1"  # Tuesday 07:00-11:00
    AMERICAS_2 = "AMERICAS_2"  # Sunday-Monday 21:00-01:00


class TenantStep(StrEnum):
    """What a DEDICATED_TENANT ledger row does."""

    INVITE = "INVITE"
    PROVISION = "PROVISION"
    DELIVER_LICENSE = "DELIVER_LICENSE"
    CHANGE = "CHANGE"
    DEPROVISION = "DEPROVISION"


REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "me-central-1",
    }
)
"""The AWS regions a tenant may run in."""

RUNNER_SIZES = frozenset(
    f"linux-{size}-{arch}"
    for size in ("small", "medium", "large", "xlarge", "2xlarge")
    for arch in ("amd64", "arm64")
)
"""Hosted runner types (§6.4): ``linux-small-amd64`` … ``linux-2xlarge-arm64``."""

MAX_CONTACTS = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TenantTransitionRefused(DomainError):
    """The tenant cannot make that move from its state (an ACTIVE tenant is not provisioned
    again, a GONE one never changes)."""

    code = "TENANT_TRANSITION_REFUSED"


@dataclass(frozen=True)
class TenantFacts:
    """What the customer tells the account team (§6.1, §6.2)."""

    expected_users: int
    storage_gib: int
    primary_region: str
    secondary_region: str | None
    onboarding_contacts: tuple[str, ...]
    maintenance_window: MaintenanceWindow
    bring_your_own_key: bool = False
    geo_migration: bool = False
    hosted_runners: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.expected_users < 1:
            raise ValidationFailed("expectedUsers must be at least 1", path=("expectedUsers",))
        if self.storage_gib < 1:
            raise ValidationFailed("storageGib must be at least 1", path=("storageGib",))
        if self.primary_region not in REGIONS:
            raise ValidationFailed(
                f"{self.primary_region!r} is not a Dedicated region", path=("primaryRegion",)
            )
        if self.secondary_region is not None:
            if self.secondary_region not in REGIONS:
                raise ValidationFailed(
                    f"{self.secondary_region!r} is not a Dedicated region",
                    path=("secondaryRegion",),
                )
            if self.secondary_region == self.primary_region:
                raise ValidationFailed(
                    "the secondary region must differ from the primary one",
                    path=("secondaryRegion",),
                )
        if not self.onboarding_contacts or len(self.onboarding_contacts) > MAX_CONTACTS:
            raise ValidationFailed(
                f"give 1 to {MAX_CONTACTS} onboarding contacts", path=("onboardingContacts",)
            )
        for contact in self.onboarding_contacts:
            if not _EMAIL.match(contact) or len(contact) > 254:
                raise ValidationFailed(
                    f"{contact!r} is not an email address", path=("onboardingContacts",)
                )
        if len(set(self.onboarding_contacts)) != len(self.onboarding_contacts):
            raise ValidationFailed("onboarding contacts repeat", path=("onboardingContacts",))
        for runner in self.hosted_runners:
            if runner not in RUNNER_SIZES:
                raise ValidationFailed(
                    f"{runner!r} is not a hosted runner type", path=("hostedRunners",)
                )
        if len(set(self.hosted_runners)) != len(self.hosted_runners):
            raise ValidationFailed("hosted runners repeat", path=("hostedRunners",))

    def changed_to(self, wanted: TenantFacts) -> TenantFacts:
        """``wanted`` if it changes only what may change after creation: users, storage
        (grows, never shrinks), contacts, hosted runners and the maintenance window. Regions,
        BYOK and Geo migration are permanent (§6.2)."""
        if wanted.storage_gib < self.storage_gib:
            raise ValidationFailed(
                f"storage grows but never shrinks (now {self.storage_gib} GiB)",
                path=("storageGib",),
            )
        for name, path in (
            ("primary_region", "primaryRegion"),
            ("secondary_region", "secondaryRegion"),
            ("bring_your_own_key", "bringYourOwnKey"),
            ("geo_migration", "geoMigration"),
        ):
            if getattr(wanted, name) != getattr(self, name):
                raise ValidationFailed(f"{path} cannot change after creation", path=(path,))
        return wanted

    def as_json(self) -> dict[str, object]:
        return {
            "expected_users": self.expected_users,
            "storage_gib": self.storage_gib,
            "primary_region": self.primary_region,
            "secondary_region": self.secondary_region,
            "onboarding_contacts": list(self.onboarding_contacts),
            "maintenance_window": self.maintenance_window.value,
            "bring_your_own_key": self.bring_your_own_key,
            "geo_migration": self.geo_migration,
            "hosted_runners": list(self.hosted_runners),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TenantFacts:
        return cls(
            expected_users=int(data["expected_users"]),  # type: ignore[call-overload]
            storage_gib=int(data["storage_gib"]),  # type: ignore[call-overload]
            primary_region=str(data["primary_region"]),
            secondary_region=(
                str(data["secondary_region"]) if data.get("secondary_region") else None
            ),
            onboarding_contacts=tuple(data["onboarding_contacts"]),  # type: ignore[arg-type]
            maintenance_window=MaintenanceWindow(str(data["maintenance_window"])),
            bring_your_own_key=bool(data.get("bring_your_own_key")),
            geo_migration=bool(data.get("geo_migration")),
            hosted_runners=tuple(data.get("hosted_runners") or ()),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class TenantStateChange:
    """One move in the history."""

    at: datetime
    from_state: TenantState | None
    to_state: TenantState
    reason: str


_BUSY = (TenantState.PROVISIONING, TenantState.CHANGING, TenantState.DEPROVISIONING)


@dataclass
class DedicatedTenant:
    """A subscription's Dedicated tenant."""

    subscription_id: uuid.UUID
    facts: TenantFacts
    created_at: datetime
    state: TenantState = TenantState.ORDERED
    history: tuple[TenantStateChange, ...] = ()
    last_error: str | None = None
    failed_from: TenantState | None = None
    license_id: uuid.UUID | None = None
    """The license last delivered to the tenant."""
    tenant_url: str | None = None
    id: uuid.UUID = field(default_factory=new_id)

    @classmethod
    def order(
        cls, subscription_id: uuid.UUID, facts: TenantFacts, now: datetime
    ) -> DedicatedTenant:
        return cls(
            subscription_id,
            facts,
            now,
            history=(TenantStateChange(now, None, TenantState.ORDERED, "ordered"),),
        )

    def _move(
        self, to: TenantState, allowed: tuple[TenantState, ...], at: datetime, why: str
    ) -> None:
        if self.state not in allowed:
            raise TenantTransitionRefused(
                f"a tenant {self.state.value} cannot move to {to.value}"
                f" (only from {', '.join(s.value for s in allowed)})"
            )
        self.history = (*self.history, TenantStateChange(at, self.state, to, why))
        self.state = to

    def invited(self, at: datetime) -> None:
        self._move(
            TenantState.ONBOARDING_INVITED,
            (TenantState.ORDERED,),
            at,
            "onboarding invitation sent",
        )

    def provisioning_requested(self, at: datetime) -> None:
        self._move(
            TenantState.PROVISIONING,
            (TenantState.ONBOARDING_INVITED,),
            at,
            "provisioning requested",
        )
        self.last_error = None

    def change_requested(self, at: datetime, facts: TenantFacts, reason: str) -> None:
        new_facts = self.facts.changed_to(facts)
        self._move(TenantState.CHANGING, (TenantState.ACTIVE,), at, reason)
        self.facts = new_facts
        self.last_error = None

    def resized(self, storage_gib: int, expected_users: int, seats: int) -> TenantFacts:
        """The facts with the size asked for (changeDedicatedTenant): only an ACTIVE tenant is
        resized, its storage only grows, its expected users cover the seats bought, and a
        size equal to today's is no change at all."""
        if self.state is not TenantState.ACTIVE:
            raise TenantTransitionRefused(
                f"a tenant {self.state.value} is not resized (only an ACTIVE one)"
            )
        if expected_users < seats:
            raise ValidationFailed(
                f"expectedUsers cannot be below the {seats} seats bought",
                path=("expectedUsers",),
            )
        wanted = self.facts.changed_to(
            replace(self.facts, storage_gib=storage_gib, expected_users=expected_users)
        )
        if wanted == self.facts:
            raise ValidationFailed(
                f"nothing to change: the tenant already has {self.facts.storage_gib} GiB"
                f" for {self.facts.expected_users} users",
                path=("storageGib",),
            )
        return wanted

    def deprovisioning_requested(self, at: datetime, reason: str) -> None:
        self._move(TenantState.DEPROVISIONING, (TenantState.ACTIVE,), at, reason)
        self.last_error = None

    def reached(self, state: TenantState, at: datetime, reason: str) -> None:
        """The provisioner says the work in progress is done: PROVISIONING or CHANGING →
        ACTIVE, DEPROVISIONING → GONE."""
        if state is TenantState.ACTIVE:
            self._move(
                TenantState.ACTIVE, (TenantState.PROVISIONING, TenantState.CHANGING), at, reason
            )
        elif state is TenantState.GONE:
            self._move(TenantState.GONE, (TenantState.DEPROVISIONING,), at, reason)
        else:
            raise TenantTransitionRefused(
                f"the provisioner reports ACTIVE or GONE, not {state.value}"
            )
        self.last_error = None

    def failed(self, at: datetime, reason: str) -> None:
        """The work in progress failed at the provisioner."""
        before = self.state
        self._move(TenantState.FAILED, _BUSY, at, reason)
        self.failed_from = before
        self.last_error = reason

    def retried(self, at: datetime) -> TenantState:
        """FAILED → the state it failed in (the step is sent again); that state."""
        if self.state is not TenantState.FAILED or self.failed_from is None:
            raise TenantTransitionRefused(f"only a FAILED tenant is retried, not {self.state}")
        back = self.failed_from
        self._move(back, (TenantState.FAILED,), at, "retried")
        self.failed_from = None
        return back

    def step_failed(self, message: str) -> None:
        """A ledger step's attempt failed (it will retry, or is dead): shown as the last
        error, the state unchanged."""
        self.last_error = message[:2000]

    def copy(self) -> DedicatedTenant:
        return replace(self)


def deprovision_date(cancelled_on: date | None, at_period_end: bool, term_end: date) -> date | None:
    """When a cancelled subscription's tenant is removed: at the end of the term (cancelled at
    period end) or on the day it was cancelled at once; None while it is not cancelled."""
    if cancelled_on is not None:
        return cancelled_on
    return term_end if at_period_end else None


DEPROVISION_REMINDER_DAYS = (30, 7, 1)
"""Days before deprovisioning on which the contacts are reminded (one email each)."""


def reminder_due(today: date, deprovision_on: date) -> int | None:
    """The reminder (days before) due today or overdue and not superseded by a nearer one:
    the smallest reminder day not below the days left, so a missed run sends the nearest."""
    left = (deprovision_on - today).days
    if left <= 0:
        return None
    due = [days for days in DEPROVISION_REMINDER_DAYS if days >= left]
    return min(due) if due else None


def renewal_due(
    delivered_expires_on: date, next_term_start: date | None, today: date, days_before: int
) -> bool:
    """Whether the next term's license must go to the tenant now: a term follows the one the
    delivered license covers, and its expiry is at most ``days_before`` days away."""
    return (
        next_term_start is not None
        and next_term_start >= delivered_expires_on
        and (delivered_expires_on - today).days <= days_before
    )
