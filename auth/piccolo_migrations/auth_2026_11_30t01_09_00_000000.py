"""What piccolo's column API cannot say for the OAuth tables: case-insensitive unique emails,
PKCE S256 only, and the index the rate limiter counts with."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T01:09:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oauth: unique lower(email), S256 only, rate-limit index"

STATEMENTS = [
    "CREATE UNIQUE INDEX auth_user_email_lower ON auth_user (lower(email))",
    """ALTER TABLE auth_authorization_code ADD CONSTRAINT auth_code_s256
        CHECK (code_challenge_method = 'S256')""",
    """CREATE INDEX auth_failed_attempt_window
        ON auth_failed_attempt (bucket, key_hash, attempted_at)""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
