"""Portal users who act for a partner: ``auth_user.partner_id`` (docs/partners.md). Their
tokens are PARTNER tokens naming the partner, like a partner client's."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T03:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "auth: users acting for a partner"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)
    manager.add_column(
        table_class_name="User",
        tablename="auth_user",
        column_name="partner_id",
        db_column_name="partner_id",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
