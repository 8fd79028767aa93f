from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique

ID = "2026-11-30T02:13:12:446594"
VERSION = "1.38.0"
DESCRIPTION = "seat link: license key digest, usage report identity"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="provision", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="License",
        tablename="license",
        column_name="key_digest",
        db_column_name="key_digest",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
            "null": False,
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

    manager.add_column(
        table_class_name="UsageReport",
        tablename="usage_report",
        column_name="instance_identifier",
        db_column_name="instance_identifier",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 36,
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

    manager.add_column(
        table_class_name="UsageReport",
        tablename="usage_report",
        column_name="report_key",
        db_column_name="report_key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 80,
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

    manager.add_constraint(
        table_class_name="UsageReport",
        tablename="usage_report",
        constraint_name="unique_report",
        constraint_class=Unique,
        params={
            "columns": ["subscription", "report_key"],
            "nulls_distinct": True,
        },
        schema=None,
    )

    return manager
