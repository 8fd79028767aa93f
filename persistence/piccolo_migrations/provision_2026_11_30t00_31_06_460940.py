from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey

ID = "2026-11-30T00:31:06:460940"
VERSION = "1.38.0"
DESCRIPTION = "drop indexes covered by composite ones"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="provision", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Membership",
        tablename="membership",
        column_name="customer",
        db_column_name="customer",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Segment",
        tablename="subscription_segment",
        column_name="subscription",
        db_column_name="subscription",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Trial",
        tablename="trial",
        column_name="namespace",
        db_column_name="namespace",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Instance",
        tablename="instance",
        column_name="subscription",
        db_column_name="subscription",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="License",
        tablename="license",
        column_name="subscription",
        db_column_name="subscription",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="UsageReport",
        tablename="usage_report",
        column_name="subscription",
        db_column_name="subscription",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    return manager
