"""REST answers for database trouble: an unreachable database is a 503 with ``Retry-After``
(logged once per outage), a value PostgreSQL cannot store a 422 in GitLab's error shape."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.outages import RETRY_AFTER_SECONDS, OutageLog, database_unavailable, unstorable_value

_QUIET_PATHS = ("/healthz", "/readyz", "/metrics", "/graphql")  # GraphQL reports its own


class DatabaseErrorMiddleware:
    def __init__(self, app: ASGIApp, outages: OutageLog) -> None:
        self.app = app
        self.outages = outages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if started:
                raise
            if unstorable_value(error):
                message = "a value is out of range or holds characters that cannot be stored"
                await _json(send, 422, {"errors": [message], "error_attribute_map": {}})
            elif database_unavailable(error):
                self.outages.failed(error)
                await _json(
                    send,
                    503,
                    {"errors": ["the service is briefly unavailable; retry shortly"]},
                    [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
                )
            else:
                raise
            return
        if not scope["path"].startswith(_QUIET_PATHS):
            self.outages.succeeded()


async def _json(
    send: Send, status: int, body: object, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    content = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
