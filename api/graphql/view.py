"""The GraphQL HTTP endpoint: POST queries, GraphiQL on GET when enabled."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL

from api.commands import Commands
from api.graphql.context import Context
from api.graphql.loaders import Loaders
from auth.backend import PrincipalUser
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
        return orjson.loads(data)

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
