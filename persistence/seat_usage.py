"""Seats used per subscription in its current term, kept current by the writers (the seat-overage
report's figure, docs/reports.md): one ``seat_usage`` row per subscription, written in the same
transaction as the usage that changes it.

The figure is the report's rule applied to one term: per self-managed instance its highest
``max_historical_users`` reported in the term (reports naming no instance count; replicas,
non-production and retired instances do not), added up; plus the linked GitLab.com group's
``max_seats_used`` when it was reported in the term. Next to it the term's bounds and its
fewest seats (``seats``; ``ramp`` when its segments differ), so that ``overage`` (a generated
column) is exact for a term of one seat count and an upper bound for a ramp.

Who writes: a usage report (seat link, usage file), a group's usage (GitLab.com), an instance's
role or retirement, a subscription's segments. Each recomputes the row from the rows it derives
from, after taking a per-subscription transaction lock: the recomputation is a new statement,
so it sees every report committed by a writer that held the lock before - two concurrent
reports never lose a maximum (``tests/integration/test_seat_usage.py``).
"""

from __future__ import annotations

import uuid
from datetime import date

from persistence.database import Database

# The term the figure is for: given a day, the term of the segment containing it; given none,
# the term already stored ($2 NULL). $1 = the subscription (or NULL for every subscription).
_TERMS = """
terms AS (
  SELECT g.subscription, g.term_index, min(g.start_date) AS starts, max(g.end_date) AS ends,
    min(g.seats) AS seats, min(g.seats) <> max(g.seats) AS ramp
  FROM subscription_segment g
  WHERE ($1::uuid IS NULL OR g.subscription = $1) AND EXISTS (
    SELECT 1 FROM subscription_segment c
    WHERE c.subscription = g.subscription AND c.term_index = g.term_index
      AND CASE WHEN $2::date IS NULL THEN c.term_index = (
            SELECT su.term_index FROM seat_usage su WHERE su.subscription = c.subscription)
          ELSE c.start_date <= $2::date AND c.end_date > $2::date END)
  GROUP BY 1, 2
)"""

_FIGURE = f"""
WITH {_TERMS}, bounds AS (
  SELECT t.*, t.starts::timestamp AT TIME ZONE 'UTC' AS starts_at,
    t.ends::timestamp AT TIME ZONE 'UTC' AS ends_at
  FROM terms t
), per_instance AS (
  SELECT u.subscription, coalesce(u.instance_identifier, '') AS instance,
    max(u.max_historical_users) AS peak, max(u.reported_at) AS last_at
  FROM bounds b JOIN usage_report u ON u.subscription = b.subscription
    AND u.reported_at >= b.starts_at AND u.reported_at < b.ends_at
  WHERE u.instance IS NULL OR NOT EXISTS (
    SELECT 1 FROM instance x
    WHERE x.id = u.instance AND (x.retired_at IS NOT NULL OR x.role <> 'PRODUCTION'))
  GROUP BY 1, 2
), parts AS (
  SELECT subscription, peak AS used, last_at FROM per_instance
  UNION ALL
  SELECT b.subscription, n.max_seats_used, n.usage_reported_at
  FROM bounds b JOIN subscription s ON s.id = b.subscription
  JOIN namespace n ON n.id = s.namespace
  WHERE n.max_seats_used IS NOT NULL
    AND n.usage_reported_at >= b.starts_at AND n.usage_reported_at < b.ends_at
), used AS (
  SELECT subscription, sum(used)::int AS used, max(last_at) AS last_at FROM parts GROUP BY 1
)
INSERT INTO seat_usage (subscription, name, term_index, term_start, term_end, seats, ramp,
                        used, last_reported_at)
SELECT b.subscription, s.name, b.term_index, b.starts, b.ends, b.seats, b.ramp,
  coalesce(u.used, 0), u.last_at
FROM bounds b JOIN subscription s ON s.id = b.subscription
LEFT JOIN used u ON u.subscription = b.subscription
WHERE u.used IS NOT NULL OR $2::date IS NULL OR EXISTS (
  SELECT 1 FROM seat_usage o WHERE o.subscription = b.subscription)
ON CONFLICT (subscription) DO UPDATE SET term_index = EXCLUDED.term_index,
  term_start = EXCLUDED.term_start, term_end = EXCLUDED.term_end, seats = EXCLUDED.seats,
  ramp = EXCLUDED.ramp, used = EXCLUDED.used, last_reported_at = EXCLUDED.last_reported_at
WHERE seat_usage.term_index <= EXCLUDED.term_index
"""

BACKFILL = _FIGURE
"""Every subscription's figure for the term containing $2 (the migration: today; $1 NULL)."""

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('seat_usage:' || $1::uuid::text, 0))"


async def refresh(db: Database, subscription_id: uuid.UUID, on: date | None = None) -> None:
    """Recompute the subscription's figure: for the term containing ``on`` (a usage report's
    day; an older term than the one stored is left alone), or, without ``on``, for the term
    stored (instance and segment changes; nothing when none is stored)."""
    await db.fetch(_LOCK, subscription_id)
    await db.fetch(_FIGURE, subscription_id, on)


async def refresh_for_namespace(db: Database, namespace_id: uuid.UUID, on: date) -> None:
    """The figure of the subscription linked to the group, when one is."""
    linked = await db.fetchval("SELECT id FROM subscription WHERE namespace = $1", namespace_id)
    if linked is not None:
        await refresh(db, linked, on)
