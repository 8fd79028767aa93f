"""Staff reports (docs/reports.md): the indexes their queries read (STATEMENTS); no tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T06:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: staff report indexes"

STATEMENTS = [
    # order-to-access: the subscriptions ordered in a period.
    "CREATE INDEX subscription_created_at ON subscription (created_at)",
    # provisioning-failures: only the rows that ever failed.
    """CREATE INDEX provision_event_failed_created
        ON provision_event (created_at) WHERE last_error IS NOT NULL""",
    # open-steps: unfinished and DEAD rows, index only.
    """CREATE INDEX provision_event_open
        ON provision_event (status, kind, created_at)
        WHERE status IN ('PENDING', 'RUNNING', 'FAILED', 'DEAD')""",
    # licensing-adoption: active self-managed subscriptions, index only.
    """CREATE INDEX subscription_self_managed_term
        ON subscription (end_date, start_date, licensing_mode, id)
        WHERE deployment = 'SELF_MANAGED' AND cancelled_at IS NULL""",
    # stopped-syncing: instances by their last sign of life.
    """CREATE INDEX instance_last_seen
        ON instance ((coalesce(last_synced_at, activated_at)), id) WHERE retired_at IS NULL""",
    # seat-overage: usage reported in a period, and the instances whose usage does not count.
    """CREATE INDEX instance_not_counted ON instance (id)
        WHERE retired_at IS NOT NULL OR role <> 'PRODUCTION'""",
    "CREATE INDEX usage_report_reported_at ON usage_report (reported_at)",
    """CREATE INDEX namespace_usage_reported_at
        ON namespace (usage_reported_at) WHERE max_seats_used IS NOT NULL""",
    # trials: trials started in a period.
    "CREATE INDEX trial_starts_on ON trial (starts_on)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        for statement in reversed(STATEMENTS):
            name = statement.split()[2]
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
