"""``provision serve``, ``migrate`` and ``worker``: the long-running processes (each migrates
first)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Callable

from api.cli.support import database
from api.http.logs import logging_config
from api.settings import Settings
from persistence.migrations import migrate

logger = logging.getLogger("provision")


def serve_api(settings: Settings) -> int:
    import uvicorn

    with database(settings) as dsn:
        logger.info("%s", asyncio.run(migrate(dsn)).strip().splitlines()[-1])
        # uvicorn workers are fresh processes: they read the DSN from the environment.
        os.environ["DATABASE_URL"] = dsn
        metrics_dir = _shared_metrics_dir(settings.workers)
        logger.info("GraphiQL on http://%s:%d/graphql (Ctrl-C stops)", settings.host, settings.port)
        # uvicorn stops gracefully on SIGTERM, then raises the signal again for the handler it
        # found: with the default one the process would die there, before the embedded
        # PostgreSQL is stopped. Ours turns it into an exit that runs the cleanup.
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            uvicorn.run(
                "api.app:app_from_env",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers if settings.workers > 1 else None,
                # Behind a reverse proxy (docs/deploy.md): the client's address and scheme
                # come from X-Forwarded-For/-Proto, trusted from these addresses only.
                proxy_headers=settings.proxy_headers,
                forwarded_allow_ips=settings.forwarded_allow_ips,
                # One handler, our format, in every worker process; the access line is
                # ours (api/http/logs.py), so uvicorn's own is off.
                log_config=logging_config(settings),
                log_level=settings.log_level,
                access_log=False,
            )
        finally:
            signal.signal(signal.SIGTERM, previous)
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _shared_metrics_dir(workers: int) -> str | None:
    """Several uvicorn workers answer /metrics for all of them through prometheus-client's
    multiprocess mode. Without PROMETHEUS_MULTIPROC_DIR (docs/deploy.md), a fresh directory of
    this run's is made for them (and removed at the end); given, it is used as it is."""
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = tempfile.mkdtemp(prefix="provision-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run_ledger_worker(settings: Settings) -> int:
    from api.worker.process import run_worker

    with database(settings) as dsn:
        asyncio.run(migrate(dsn))
        # On uvloop, as uvicorn serves the API: a step is mostly asyncpg round trips, which
        # cost less CPU on it (bench/README.md, marketplace notifications).
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            runner.run(run_worker(settings, dsn))
    return 0


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (uvicorn[standard] brings it), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def migrate_database(settings: Settings) -> int:
    with database(settings) as dsn:
        print(asyncio.run(migrate(dsn)))
    return 0
