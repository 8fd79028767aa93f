"""Constraints and indexes piccolo's column API cannot express: the subscription name sequence,
closed vocabularies as CHECKs, and the composite indexes the keyset pages use."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T23:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sequences, vocabulary checks and keyset indexes"

STATEMENTS = [
    "CREATE SEQUENCE subscription_number_seq START 10001",
    """ALTER TABLE subscription ADD CONSTRAINT subscription_vocabulary CHECK (
        deployment IN ('GITLAB_COM', 'SELF_MANAGED', 'DEDICATED')
        AND plan IN ('PREMIUM', 'ULTIMATE')
        AND channel IN ('WEB_DIRECT', 'SALES', 'RESELLER', 'MARKETPLACE')
        AND (licensing_mode IS NULL OR licensing_mode IN ('ONLINE_CLOUD', 'OFFLINE_CLOUD', 'LEGACY'))
        AND ((deployment = 'GITLAB_COM') = (licensing_mode IS NULL))
        AND (channel NOT IN ('RESELLER', 'MARKETPLACE') OR partner_id IS NOT NULL))""",
    """ALTER TABLE membership ADD CONSTRAINT membership_role
        CHECK (role IN ('OWNER', 'ADMIN', 'VIEWER'))""",
    """ALTER TABLE namespace ADD CONSTRAINT namespace_vocabulary CHECK (
        kind IN ('GROUP', 'USER') AND base_plan IN ('FREE', 'PREMIUM', 'ULTIMATE'))""",
    """ALTER TABLE trial ADD CONSTRAINT trial_vocabulary CHECK (
        type IN ('ULTIMATE', 'ULTIMATE_ON_PREMIUM', 'DUO_ENTERPRISE')
        AND ((namespace IS NULL) <> (subscription IS NULL)))""",
    "CREATE INDEX subscription_dates ON subscription (start_date, end_date)",
    "CREATE INDEX license_subscription_keyset ON license (subscription, id)",
    "CREATE INDEX instance_subscription_keyset ON instance (subscription, id)",
    "CREATE INDEX usage_report_latest ON usage_report (subscription, reported_at DESC, id DESC)",
    "CREATE INDEX trial_namespace_keyset ON trial (namespace, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
