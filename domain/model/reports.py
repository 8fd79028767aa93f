"""Staff reports (docs/reports.md): the questions the provisioning and support teams ask, and
the shape of each answer. Each answer is one SQL query (``persistence/reports.py``); the domain
says what is asked (a period, a limit), what comes back, and who may ask (staff only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from domain.errors import ValidationFailed

DEFAULT_PERIOD_DAYS = 30
"""A period given without a start covers this many days up to its end."""
SEAT_OVERAGE_PERIOD_DAYS = 7
"""The seat-overage report's default period: the subscriptions whose usage was last reported in
the last week (seat link reports daily), i.e. those still reporting."""
MAX_PERIOD_DAYS = 3660
"""About ten years: a longer period is a typo."""
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_CAUSE_LENGTH = 200
"""A failure's cause is the text of its last error up to the first colon, cut to this length."""


class ReportName(StrEnum):
    """The reports, by the name ``provision report <name>`` takes."""

    ORDER_TO_ACCESS = "order-to-access"
    PROVISIONING_FAILURES = "provisioning-failures"
    OPEN_STEPS = "open-steps"
    LICENSING_ADOPTION = "licensing-adoption"
    STOPPED_SYNCING = "stopped-syncing"
    SEAT_OVERAGE = "seat-overage"
    TRIALS = "trials"


@dataclass(frozen=True)
class Period:
    """Days ``start`` (inclusive) to ``end`` (exclusive), in UTC."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValidationFailed("a period's `from` must be before its `to`", path=("from",))
        if (self.end - self.start).days > MAX_PERIOD_DAYS:
            raise ValidationFailed(
                f"a period is at most {MAX_PERIOD_DAYS} days long", path=("from",)
            )

    @classmethod
    def of(
        cls, start: date | None, end: date | None, today: date, days: int = DEFAULT_PERIOD_DAYS
    ) -> Period:
        """``end`` defaults to tomorrow (today included), ``start`` to ``days`` before ``end``."""
        last = end or today + timedelta(days=1)
        return cls(start or last - timedelta(days=days), last)

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time.min, UTC)


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"`limit` must be 1 to {MAX_LIMIT}", path=("limit",))
    return limit


def check_days(days: int) -> int:
    if not 1 <= days <= 3650:
        raise ValidationFailed("`days` must be 1 to 3650", path=("days",))
    return days


@dataclass(frozen=True)
class OrderToAccessRow:
    """Subscriptions ordered in the period, per deployment and channel: how many, how many
    reached access, and the p50/p95 of the time between (seconds; None when none did).

    Order: the subscription's ``created_at``. Access: the first instance activation
    (self-managed), the first successful ``NAMESPACE_PROVISION`` ledger row for it
    (GitLab.com), the tenant's first move to ACTIVE (Dedicated)."""

    deployment: str
    channel: str
    ordered: int
    accessed: int
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class FailureRow:
    """Ledger rows recorded in the period whose attempts failed at least once (they carry a
    ``last_error``), per kind (the step) and cause, with where they are now."""

    kind: str
    cause: str
    rows: int
    attempts: int
    recovered: int
    """SUCCEEDED after failing."""
    failing: int
    """FAILED or RUNNING again: still being retried."""
    dead: int
    resolved: int


@dataclass(frozen=True)
class OpenStepRow:
    """Ledger rows not finished now (PENDING, RUNNING, FAILED) or DEAD, per kind and status."""

    kind: str
    status: str
    rows: int
    oldest_created_at: datetime
    oldest_age_seconds: float


@dataclass(frozen=True)
class AdoptionRow:
    """Active self-managed subscriptions by licensing mode (ONLINE_CLOUD, OFFLINE_CLOUD,
    LEGACY) and their share of all active self-managed subscriptions (0 to 1)."""

    licensing_mode: str
    subscriptions: int
    share: float


@dataclass(frozen=True)
class StoppedSyncingRow:
    """An instance of an ACTIVE subscription, not retired, silent for the given days: its last
    sync (or its activation when it never synced). Oldest silence first."""

    subscription: str
    instance_identifier: str
    hostname: str | None
    role: str
    last_seen_at: datetime
    silent_days: int


@dataclass(frozen=True)
class SeatOverageRow:
    """An ACTIVE subscription whose most seats used in the current term exceeds the seats of
    today's segment, its usage last reported in the period: the overage, and the true-up it
    exposes (the overage is
    billed at the next quarterly reconciliation when it is on, at renewal otherwise)."""

    subscription: str
    deployment: str
    channel: str
    seats: int
    max_seats_used: int
    overage: int
    true_up: str
    """QUARTERLY_RECONCILIATION or ANNUAL_TRUE_UP."""
    last_reported_at: datetime


@dataclass(frozen=True)
class TrialRow:
    """Trials that started in the period, per trial type, and how many converted: a paid
    subscription was ordered after the trial began for the trial's namespace (GitLab.com) or
    for the trial subscription's customer (self-managed)."""

    trial_type: str
    started: int
    converted: int
    conversion_rate: float


REPORT_COLUMNS: dict[ReportName, tuple[str, ...]] = {
    ReportName.ORDER_TO_ACCESS: tuple(OrderToAccessRow.__dataclass_fields__),
    ReportName.PROVISIONING_FAILURES: tuple(FailureRow.__dataclass_fields__),
    ReportName.OPEN_STEPS: tuple(OpenStepRow.__dataclass_fields__),
    ReportName.LICENSING_ADOPTION: tuple(AdoptionRow.__dataclass_fields__),
    ReportName.STOPPED_SYNCING: tuple(StoppedSyncingRow.__dataclass_fields__),
    ReportName.SEAT_OVERAGE: tuple(SeatOverageRow.__dataclass_fields__),
    ReportName.TRIALS: tuple(TrialRow.__dataclass_fields__),
}
"""Each report's columns, in order (the CSV header)."""
