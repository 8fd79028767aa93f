"""Seat usage (docs/reports.md, ``persistence/seat_usage.py``): one row per subscription with
the seats used in its current term, kept current by the usage writers, so that the seat-overage
report reads only the subscriptions over their seats (``seat_usage_overage``, partial) and the
few ramps (``seat_usage_ramp``). The rows are filled from the usage already stored, for the
term containing today.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from persistence.seat_usage import BACKFILL

ID = "2026-12-02T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: seat usage per subscription"

STATEMENTS = [
    """CREATE TABLE seat_usage (
        subscription uuid PRIMARY KEY REFERENCES subscription (id) ON DELETE CASCADE,
        name text NOT NULL,
        term_index integer NOT NULL,
        term_start date NOT NULL,
        term_end date NOT NULL,
        seats integer NOT NULL,
        ramp boolean NOT NULL,
        used integer NOT NULL,
        last_reported_at timestamptz,
        overage integer GENERATED ALWAYS AS (used - seats) STORED)""",
    # Terms of one seat count over their seats, largest first (the subscription's name, which
    # never changes, breaks ties): the report's walk stops at its limit.
    """CREATE INDEX seat_usage_overage ON seat_usage (overage DESC, name)
        INCLUDE (term_start, term_end, last_reported_at) WHERE overage > 0 AND NOT ramp""",
    # Ramps (segments of different seats) that could be over: checked against today's segment.
    "CREATE INDEX seat_usage_ramp ON seat_usage (term_end) WHERE ramp AND overage > 0",
    # order-to-access: each order's first activation and first provisioned group, index only.
    "CREATE INDEX instance_first_activation ON instance (subscription, activated_at)",
    """CREATE INDEX provision_event_namespace_done ON provision_event (subscription_id, updated_at)
        WHERE kind = 'NAMESPACE_PROVISION' AND status = 'SUCCEEDED'""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)
        await engine.run_ddl(
            BACKFILL.replace("$1::uuid", "NULL::uuid")
            .replace("$1", "NULL")
            .replace("$2::date", "CURRENT_DATE")
        )

    async def drop() -> None:
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS provision_event_namespace_done")
        await engine.run_ddl("DROP INDEX IF EXISTS instance_first_activation")
        await engine.run_ddl("DROP TABLE IF EXISTS seat_usage")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
