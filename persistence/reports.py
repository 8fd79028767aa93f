"""The staff reports (docs/reports.md, ``domain.ports.StaffReports``): one SQL statement each,
over indexed columns (the indexes are in the reports migration; ``bench/reports.py`` times each
statement on a million subscriptions).

Who may run them is the domain's rule (``domain.use_cases.reports``: staff only); these
queries read every tenant and take no principal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from domain.model.reports import (
    MAX_CAUSE_LENGTH,
    AdoptionRow,
    FailureRow,
    OpenStepRow,
    OrderToAccessRow,
    Period,
    ReportName,
    SeatOverageRow,
    StoppedSyncingRow,
    TrialRow,
)
from persistence.keyset import KeysetQueries

# Orders are subscriptions that are not a self-managed trial's. Access is the first instance
# activation (self-managed), the first NAMESPACE_PROVISION ledger row for the subscription
# that SUCCEEDED (GitLab.com; its updated_at is when it did), or the tenant's first move to
# ACTIVE in its history (Dedicated). Served by subscription_created_at, then per order by
# instance_subscription_keyset, provision_event_subscription_keyset and the tenant's unique
# subscription index.
ORDER_TO_ACCESS = """
WITH orders AS (
  SELECT s.deployment, s.channel, s.created_at,
    CASE s.deployment
      WHEN 'SELF_MANAGED' THEN
        (SELECT min(i.activated_at) FROM instance i WHERE i.subscription = s.id)
      WHEN 'GITLAB_COM' THEN
        (SELECT min(pe.updated_at) FROM provision_event pe
          WHERE pe.subscription_id = s.id AND pe.kind = 'NAMESPACE_PROVISION'
            AND pe.status = 'SUCCEEDED')
      ELSE
        (SELECT min((h->>'at')::timestamptz) FROM dedicated_tenant dt,
            jsonb_array_elements(dt.history) h
          WHERE dt.subscription = s.id AND h->>'to' = 'ACTIVE')
    END AS accessed_at
  FROM subscription s
  WHERE s.created_at >= $1 AND s.created_at < $2
    AND NOT EXISTS (SELECT 1 FROM trial t WHERE t.subscription = s.id)
)
SELECT deployment, channel, count(*) AS ordered, count(accessed_at) AS accessed,
  percentile_cont(0.5) WITHIN GROUP
    (ORDER BY extract(epoch FROM accessed_at - created_at)) AS p50_seconds,
  percentile_cont(0.95) WITHIN GROUP
    (ORDER BY extract(epoch FROM accessed_at - created_at)) AS p95_seconds
FROM orders GROUP BY deployment, channel ORDER BY deployment, channel
"""

# Rows recorded in the period that failed at least once (last_error is kept after a later
# success). Served by provision_event_failed_created (partial: failed rows only).
PROVISIONING_FAILURES = f"""
SELECT pe.kind, left(split_part(pe.last_error, ':', 1), {MAX_CAUSE_LENGTH}) AS cause,
  count(*) AS rows, sum(pe.attempts) AS attempts,
  count(*) FILTER (WHERE pe.status = 'SUCCEEDED') AS recovered,
  count(*) FILTER (WHERE pe.status IN ('PENDING', 'RUNNING', 'FAILED')) AS failing,
  count(*) FILTER (WHERE pe.status = 'DEAD') AS dead,
  count(*) FILTER (WHERE pe.status = 'RESOLVED') AS resolved
FROM provision_event pe
WHERE pe.last_error IS NOT NULL AND pe.created_at >= $1 AND pe.created_at < $2
GROUP BY 1, 2 ORDER BY rows DESC, kind, cause
"""

# Served by provision_event_open (partial: unfinished and DEAD rows), index only.
OPEN_STEPS = """
SELECT pe.kind, pe.status, count(*) AS rows, min(pe.created_at) AS oldest_created_at,
  extract(epoch FROM $1 - min(pe.created_at))::float8 AS oldest_age_seconds
FROM provision_event pe WHERE pe.status IN ('PENDING', 'RUNNING', 'FAILED', 'DEAD')
GROUP BY pe.status, pe.kind ORDER BY pe.status, pe.kind
"""

# Active (started, not ended, not cancelled) self-managed subscriptions, trials left out.
# Served by subscription_self_managed_term (partial), index only.
LICENSING_ADOPTION = """
WITH active AS (
  SELECT s.licensing_mode AS mode, count(*) AS n FROM subscription s
  WHERE s.deployment = 'SELF_MANAGED' AND s.cancelled_at IS NULL
    AND s.end_date > $1 AND s.start_date <= $1
    AND NOT EXISTS (SELECT 1 FROM trial t WHERE t.subscription = s.id)
  GROUP BY 1
)
SELECT m.mode AS licensing_mode, coalesce(a.n, 0) AS subscriptions,
  coalesce(coalesce(a.n, 0)::float8 / nullif(sum(a.n) OVER (), 0), 0) AS share
FROM (VALUES ('ONLINE_CLOUD', 1), ('OFFLINE_CLOUD', 2), ('LEGACY', 3)) m(mode, o)
LEFT JOIN active a ON a.mode = m.mode ORDER BY m.o
"""

# Most recently silent first: the instances that just stopped are the ones to chase (and the
# index walk reaches ACTIVE subscriptions' instances at once). Served by instance_last_seen.
STOPPED_SYNCING = """
SELECT s.name AS subscription, i.instance_identifier, i.hostname, i.role,
  coalesce(i.last_synced_at, i.activated_at) AS last_seen_at,
  floor(extract(epoch FROM $2 - coalesce(i.last_synced_at, i.activated_at)) / 86400)::int
    AS silent_days
FROM instance i JOIN subscription s ON s.id = i.subscription
WHERE i.retired_at IS NULL AND coalesce(i.last_synced_at, i.activated_at) <= $1
  AND s.cancelled_at IS NULL AND s.start_date <= $3 AND s.end_date > $3
ORDER BY coalesce(i.last_synced_at, i.activated_at) DESC, i.id DESC LIMIT $4
"""

# The seats used in each subscription's current term are kept current by the usage writers
# (persistence/seat_usage.py): the report walks seat_usage_overage (partial: terms of one seat
# count over their seats, largest overage first) and stops at $4 rows; ramps (segments of
# different seats, seat_usage_ramp) are checked against today's segment. Only subscriptions
# ACTIVE today, in the term the figure is for, with usage last reported in the period.
SEAT_OVERAGE = """
WITH flat AS (
  SELECT su.name, s.deployment, s.channel, s.reconciliation_enabled, su.seats, su.used,
    su.overage, su.last_reported_at
  FROM seat_usage su JOIN subscription s ON s.id = su.subscription
  WHERE su.overage > 0 AND NOT su.ramp AND su.term_start <= $3 AND su.term_end > $3
    AND su.last_reported_at >= $1 AND su.last_reported_at < $2
    AND s.cancelled_at IS NULL AND s.start_date <= $3 AND s.end_date > $3
  ORDER BY su.overage DESC, su.name LIMIT $4
), ramps AS (
  SELECT s.name, s.deployment, s.channel, s.reconciliation_enabled, seg.seats, su.used,
    su.used - seg.seats AS overage, su.last_reported_at
  FROM seat_usage su JOIN subscription s ON s.id = su.subscription
  JOIN subscription_segment seg ON seg.subscription = su.subscription
    AND seg.term_index = su.term_index AND seg.start_date <= $3 AND seg.end_date > $3
  WHERE su.ramp AND su.overage > 0 AND su.term_end > $3 AND su.used > seg.seats
    AND su.last_reported_at >= $1 AND su.last_reported_at < $2
    AND s.cancelled_at IS NULL AND s.start_date <= $3 AND s.end_date > $3
)
SELECT name AS subscription, deployment, channel, seats, used AS max_seats_used, overage,
  CASE WHEN reconciliation_enabled THEN 'QUARTERLY_RECONCILIATION' ELSE 'ANNUAL_TRUE_UP' END
    AS true_up,
  last_reported_at
FROM (SELECT * FROM flat UNION ALL SELECT * FROM ramps) x
ORDER BY overage DESC, name LIMIT $4
"""

# Trials started in the period. Converted: a paid subscription ordered at or after the trial
# began, for the trial's namespace, or (a self-managed trial) for its subscription's customer
# and not itself a trial. Served by trial_starts_on, then per trial by subscription_namespace,
# subscription_customer and trial_subscription.
TRIALS = """
SELECT t.type AS trial_type, count(*) AS started,
  count(*) FILTER (WHERE t.converted) AS converted,
  (count(*) FILTER (WHERE t.converted))::float8 / count(*) AS conversion_rate
FROM (
  SELECT t.type, CASE WHEN t.namespace IS NOT NULL THEN EXISTS (
      SELECT 1 FROM subscription p
      WHERE p.namespace = t.namespace AND p.created_at >= t.created_at AND p.plan <> 'FREE')
    ELSE EXISTS (
      SELECT 1 FROM subscription ts JOIN subscription p
        ON p.customer = ts.customer AND p.id <> ts.id
      WHERE ts.id = t.subscription AND p.created_at >= t.created_at AND p.plan <> 'FREE'
        AND NOT EXISTS (SELECT 1 FROM trial pt WHERE pt.subscription = p.id))
    END AS converted
  FROM trial t WHERE t.starts_on >= $1 AND t.starts_on < $2
) t GROUP BY t.type ORDER BY t.type
"""

STATEMENTS: dict[ReportName, str] = {
    ReportName.ORDER_TO_ACCESS: ORDER_TO_ACCESS,
    ReportName.PROVISIONING_FAILURES: PROVISIONING_FAILURES,
    ReportName.OPEN_STEPS: OPEN_STEPS,
    ReportName.LICENSING_ADOPTION: LICENSING_ADOPTION,
    ReportName.STOPPED_SYNCING: STOPPED_SYNCING,
    ReportName.SEAT_OVERAGE: SEAT_OVERAGE,
    ReportName.TRIALS: TRIALS,
}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class PostgresStaffReports(KeysetQueries):
    """``domain.ports.StaffReports`` on PostgreSQL (``ReadModels`` includes it)."""

    async def report_order_to_access(self, period: Period) -> Sequence[OrderToAccessRow]:
        rows = await self._db.fetch(ORDER_TO_ACCESS, period.start_at, period.end_at)
        return [
            OrderToAccessRow(
                r["deployment"],
                r["channel"],
                r["ordered"],
                r["accessed"],
                _float(r["p50_seconds"]),
                _float(r["p95_seconds"]),
            )
            for r in rows
        ]

    async def report_provisioning_failures(self, period: Period) -> Sequence[FailureRow]:
        rows = await self._db.fetch(PROVISIONING_FAILURES, period.start_at, period.end_at)
        return [
            FailureRow(
                r["kind"],
                r["cause"],
                r["rows"],
                int(r["attempts"]),
                r["recovered"],
                r["failing"],
                r["dead"],
                r["resolved"],
            )
            for r in rows
        ]

    async def report_open_steps(self, now: datetime) -> Sequence[OpenStepRow]:
        rows = await self._db.fetch(OPEN_STEPS, now)
        return [
            OpenStepRow(
                r["kind"],
                r["status"],
                r["rows"],
                r["oldest_created_at"],
                max(0.0, r["oldest_age_seconds"]),
            )
            for r in rows
        ]

    async def report_licensing_adoption(self, today: date) -> Sequence[AdoptionRow]:
        rows = await self._db.fetch(LICENSING_ADOPTION, today)
        return [AdoptionRow(r["licensing_mode"], r["subscriptions"], r["share"]) for r in rows]

    async def report_stopped_syncing(
        self, now: datetime, days: int, limit: int
    ) -> Sequence[StoppedSyncingRow]:
        rows = await self._db.fetch(
            STOPPED_SYNCING, now - timedelta(days=days), now, now.date(), limit
        )
        return [
            StoppedSyncingRow(
                r["subscription"],
                r["instance_identifier"],
                r["hostname"],
                r["role"],
                r["last_seen_at"],
                r["silent_days"],
            )
            for r in rows
        ]

    async def report_seat_overage(
        self, period: Period, today: date, limit: int
    ) -> Sequence[SeatOverageRow]:
        rows = await self._db.fetch(SEAT_OVERAGE, period.start_at, period.end_at, today, limit)
        return [
            SeatOverageRow(
                r["subscription"],
                r["deployment"],
                r["channel"],
                r["seats"],
                r["max_seats_used"],
                r["overage"],
                r["true_up"],
                r["last_reported_at"],
            )
            for r in rows
        ]

    async def report_trials(self, period: Period) -> Sequence[TrialRow]:
        rows = await self._db.fetch(TRIALS, period.start, period.end)
        return [
            TrialRow(r["trial_type"], r["started"], r["converted"], r["conversion_rate"])
            for r in rows
        ]
