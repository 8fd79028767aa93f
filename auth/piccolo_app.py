"""The piccolo app that holds the auth tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from auth.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="auth",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
