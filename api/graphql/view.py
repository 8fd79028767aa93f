"""The GraphQL HTTP endpoint: POST queries, GraphiQL on GET when enabled."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse

from api.commands import Commands
from api.graphql.context import Context
from api.graphql.errors import SERVICE_UNAVAILABLE
from api.graphql.loaders import Loaders
from api.http.outages import RETRY_AFTER_SECONDS
from auth.backend import PrincipalUser
from domain.model.input_checks import unstorable
from domain.ports import Clock
from domain.principal import Principal
from persistence.read_models import ReadModels


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self, schema: Any, *, read: ReadModels, commands: Commands, clock: Clock, graphiql: bool
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self._read = read
        self._commands = commands
        self._clock = clock

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError is a json.JSONDecodeError: malformed bodies stay HTTP 400.
        return _checked_request(orjson.loads(data))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry answers a refused request in plain text; clients read GraphQL errors."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as refused:
            extensions = {"code": "VALIDATION_FAILED"}
            if isinstance(refused, _BadValue):
                extensions["field"] = refused.field
            response = Response(
                self.encode_json(
                    {"errors": [{"message": refused.reason, "extensions": extensions}]}
                ),
                status_code=refused.status_code,
                media_type="application/json",
            )
        await response(scope, receive, send)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        errors: Any = response_data.get("errors") if isinstance(response_data, dict) else None
        if any(
            (e.get("extensions") or {}).get("code") == SERVICE_UNAVAILABLE for e in errors or ()
        ):
            response.status_code = 503
            response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
        return response

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        user = request.scope.get("user")
        principal = user.principal if isinstance(user, PrincipalUser) else Principal.anonymous()
        return Context(
            request=request,
            principal=principal,
            read=self._read,
            loaders=Loaders.build(self._read, principal),
            clock=self._clock,
            today=self._clock.today(),
            request_id=getattr(request.state, "request_id", ""),
            commands=self._commands,
        )


class _BadValue(HTTPException):
    def __init__(self, reason: str, field: str) -> None:
        super().__init__(400, reason)
        self.field = field


def _checked_request(data: object) -> object:
    """One operation as a JSON object with well-typed members, whose variables hold nothing a
    column cannot store (NUL characters, integers beyond bigint)."""
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object with a `query` string")
    for name, types in (
        ("query", (str,)),
        ("operationName", (str,)),
        ("variables", (dict,)),
        ("extensions", (dict,)),
    ):
        if data.get(name) is not None and not isinstance(data[name], types):
            kind = "a string" if types == (str,) else "an object"
            raise HTTPException(400, f"`{name}` must be {kind} or null")
    query = data.get("query") or ""
    if "\x00" in query or "\\u0000" in query.lower():
        raise HTTPException(400, "the query must not contain NUL characters")
    bad = unstorable(data.get("variables"), ("variables",))
    if bad is not None:
        field = ".".join(bad.path or ())
        raise _BadValue(f"{field}: {bad.message}", field)
    return data
