"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from persistence.database import Database
from persistence.migrations import pending_migrations


async def healthz(request: Request) -> JSONResponse:
    """The process is up."""
    return JSONResponse({"status": "ok"})


def readyz_for(db: Database):  # type: ignore[no-untyped-def]
    async def readyz(request: Request) -> JSONResponse:
        """The database answers and every migration of this code is applied."""
        try:
            async with db.pool.acquire(timeout=5) as connection:
                pending = await pending_migrations(connection)
        except Exception as error:
            return JSONResponse(
                {"status": "unavailable", "reason": f"database: {type(error).__name__}"},
                status_code=503,
            )
        if pending:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "reason": "migrations pending",
                    "pending": sorted(f"{app}:{name}" for app, name in pending),
                },
                status_code=503,
            )
        return JSONResponse({"status": "ready"})

    return readyz
