"""Small builders of valid domain objects, so each test states only what it is about."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from domain.model.enums import Channel, Deployment, Plan
from domain.model.subscription import Segment, Subscription, Term

CREATED_AT = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
CUSTOMER_ID = uuid.UUID("018f0000-0000-7000-8000-000000000001")

# A three-year ramp deal: 100 seats, then 250, then 500; each year ends where the next starts.
RAMP_START = date(2024, 1, 15)
YEAR_2 = date(2025, 1, 15)
YEAR_3 = date(2026, 1, 15)
RAMP_END = date(2027, 1, 15)


def term(*periods: tuple[date, date, int]) -> Term:
    return Term(tuple(Segment(start, end, seats) for start, end, seats in periods))


def ramp_term() -> Term:
    return term((RAMP_START, YEAR_2, 100), (YEAR_2, YEAR_3, 250), (YEAR_3, RAMP_END, 500))


def one_year_term(start: date, end: date, seats: int = 10) -> Term:
    return term((start, end, seats))


def subscription(**overrides: Any) -> Subscription:
    """A valid GitLab.com Premium subscription on the ramp term, with ``overrides`` applied."""
    fields: dict[str, Any] = {
        "name": "A-S00012345",
        "customer_id": CUSTOMER_ID,
        "deployment": Deployment.GITLAB_COM,
        "plan": Plan.PREMIUM,
        "channel": Channel.WEB_DIRECT,
        "terms": (ramp_term(),),
        "created_at": CREATED_AT,
    }
    fields.update(overrides)
    return Subscription(**fields)


def renewed(base: Subscription, renewal: Term) -> Subscription:
    """``base`` with a renewal term appended (validated again, as a save would)."""
    return replace(base, terms=(*base.terms, renewal))
