"""``provision usage upload``: record a license usage file an offline customer sent (by email,
say) as staff would through ``uploadUsageFile`` (docs/usage-file.md)."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.support import with_connection
from api.settings import Settings

if TYPE_CHECKING:
    import asyncpg


def upload_usage_file(settings: Settings, args: argparse.Namespace) -> int:
    """Print what was recorded and the signed receipt as JSON; exit 2 with the reason when
    the file is refused (nothing is recorded then), 1 when it cannot be read."""
    from api.ids import global_id
    from auth.licenses.keys import DatabaseLicenseSigner
    from domain.errors import DomainError
    from domain.policy import ALL_SCOPES
    from domain.principal import Principal, PrincipalKind
    from domain.use_cases.upload_usage_file import UploadUsageFile, UploadUsageFileHandler
    from integrations.clock import SystemClock
    from persistence.database import Database
    from persistence.unit_of_work import PostgresUnitOfWork

    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        # Bytes, not text mode: the CSV's own CR LF must reach the parser untouched.
        content = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot read {args.file}: {error}", file=sys.stderr)
        return 1
    operator = Principal(PrincipalKind.STAFF, "cli", ALL_SCOPES)
    clock = SystemClock()

    async def upload(connection: asyncpg.Connection, dsn: str) -> dict[str, Any]:
        db = Database(dsn, pool_min=1, pool_max=2)
        await db.start()
        try:
            handler = UploadUsageFileHandler(
                lambda: PostgresUnitOfWork(db),
                clock,
                DatabaseLicenseSigner(lambda: db.pool, clock.now),
            )
            uploaded = await handler(operator, UploadUsageFile(content, args.customer))
        finally:
            await db.stop()
        return {
            "subscription": uploaded.subscription.name,
            "license": global_id("License", uploaded.license.id),
            "rows_in_file": len(uploaded.usage_file.rows),
            "rows_recorded": uploaded.rows_recorded,
            "rows_known": uploaded.rows_known,
            "receipt": uploaded.receipt,
            "receipt_signature": base64.b64encode(uploaded.receipt_signature or b"").decode(),
        }

    try:
        recorded = with_connection(settings, upload)
    except DomainError as refused:
        print(f"usage file not recorded: {refused.message}", file=sys.stderr)
        return 2
    print(json.dumps(recorded))
    return 0
