"""Piccolo's configuration module (named by ``PICCOLO_CONF``).

Piccolo finds its engine here. The DSN comes from ``DATABASE_URL``, which the composition root
sets before any query runs (to the embedded server's address when none is configured). The
engine opens no connection until it is used.
"""

from __future__ import annotations

import os

from piccolo.conf.apps import AppRegistry

from persistence.database import QuietPostgresEngine

DB = QuietPostgresEngine(config={"dsn": os.environ.get("DATABASE_URL", "")})

APP_REGISTRY = AppRegistry(apps=["persistence.piccolo_app", "auth.piccolo_app"])
