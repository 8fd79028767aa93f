"""The GraphQL HTTP endpoint: POST queries, GraphiQL on GET when enabled.

Answers follow the GraphQL-over-HTTP spec's two media types (docs/graphql.md): a client that
prefers ``application/graphql-response+json`` gets that content type, HTTP 400 without a
``data`` entry when the request fails before execution (parse, validation, variable
coercion, limits) and 200 once it executed; ``application/json`` (also for ``*/*`` or no
``Accept``) answers as it always has, 200 with ``"data": null``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from api.commands import SANDBOX_HEADER, Commands, SandboxTime
from api.graphql.context import Context
from api.graphql.errors import SERVICE_UNAVAILABLE
from api.graphql.fast_read import FastReads
from api.graphql.graphiql import graphiql_page
from api.graphql.loaders import Loaders
from api.graphql.pipeline import _NAME_LIMIT
from api.graphql.trusted import DocumentRegistry, TrustedDocuments
from api.http.logs import bind
from api.http.outages import RETRY_AFTER_SECONDS, OutageLog, database_unavailable
from api.ids import parse_typed_id
from auth.backend import PrincipalUser
from domain.errors import DomainError
from domain.model.input_checks import unstorable
from domain.ports import Clock
from domain.principal import Principal, PrincipalKind
from persistence.read_models import ReadModels
from persistence.tenant_time import acting_at

logger = logging.getLogger("provision.graphql")


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Any,
        *,
        read: ReadModels,
        commands: Commands,
        clock: Clock,
        graphiql: bool,
        documents: DocumentRegistry | None = None,
        fast: FastReads | None = None,
        trusted: TrustedDocuments | None = None,
        sandbox: SandboxTime | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self._sandbox = sandbox
        self._documents = documents
        self._fast = fast
        self._trusted = trusted
        self._read = read
        self._commands = commands
        self._clock = clock

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError is a json.JSONDecodeError: malformed bodies stay HTTP 400.
        return _checked_request(orjson.loads(data), self._documents)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry answers a refused request in plain text; clients read GraphQL errors."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        graphql_response = prefers_graphql_response(request.headers.get("accept", ""))
        request.state.graphql_response = graphql_response
        request.state.request_error = False
        try:
            # Both paths run on the clock of the tenant the caller acts for (a sandbox's test
            # clock, the system clock for real tenants; docs/test-clock.md).
            with acting_at(await self._offset(request)):
                response = None
                if self._fast is not None and request.method == "POST":
                    response = await self._fast_answer(request)
                if response is None:
                    response = await self.run(request)
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
        if graphql_response and response.media_type == "application/json":
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            if request.state.request_error and response.status_code == 200:
                response.status_code = 400
        await response(scope, receive, send)

    async def _fast_answer(self, request: Request) -> Response | None:
        """The fast path's answer (api/graphql/fast_read.py), or None for the usual path, which
        then reads the same body (starlette keeps it) and answers with its own errors."""
        assert self._fast is not None
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        user = request.scope.get("user")
        if not isinstance(user, PrincipalUser):
            return None
        try:
            data = _checked_request(orjson.loads(await request.body()), self._documents)
        except Exception:  # the usual path refuses it with its own words
            return None
        assert isinstance(data, dict)
        query = data.get("query")
        if not isinstance(query, str):
            return None
        trusted = self._trusted
        if (
            trusted is not None
            and trusted.only_for_client is not None
            and user.client_id == trusted.only_for_client
            and user.principal.kind is PrincipalKind.PORTAL_USER
            and not trusted.registry.trusts(query)
        ):
            return None
        outages = getattr(request.app.state, "outages", None)
        if not isinstance(outages, OutageLog):
            outages = None
        elif outages.down:
            return None  # the usual path answers 503 until the database is back
        operation = data.get("operationName")
        try:
            body = await self._fast.answer(
                user.principal, self._clock.today(), query, operation, data.get("variables") or {}
            )
        except Exception as error:  # a failing statement: the usual path answers, masked
            if outages is not None and database_unavailable(error):
                outages.failed(error)  # logged once, as the usual path would
            logger.debug("fast read fell back", exc_info=True)
            return None
        if body is None:
            return None
        if operation:
            bind(operation=operation[:_NAME_LIMIT])
        if outages is not None:
            outages.succeeded()
        return Response(body, media_type="application/json")

    async def _offset(self, request: Request) -> timedelta:
        """How far ahead the clock of the sandbox the caller acts for is (zero for real
        tenants; docs/test-clock.md)."""
        if self._sandbox is None:
            return timedelta(0)
        user = request.scope.get("user")
        if not isinstance(user, PrincipalUser):
            return timedelta(0)
        named = request.headers.get(SANDBOX_HEADER)
        customer = None
        if named:
            try:
                customer = parse_typed_id(named, "Customer", path=(SANDBOX_HEADER,))
            except DomainError:
                raise _BadValue(f"{SANDBOX_HEADER}: not a customer ID", SANDBOX_HEADER) from None
        return await self._sandbox.offset_for(user.principal, customer)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A browser's share link (``GET /graphql?query=…`` with ``Accept: text/html``) opens
        the editor with that query; other GETs with a query execute it, as before."""
        if request.method != "GET":
            return False
        accept = request.headers.get("accept", "")
        return "text/html" in accept or (
            request.query_params.get("query") is None and "*/*" in accept
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if getattr(request.state, "graphql_response", False) and _before_execution(result):
            # The spec's request error: no `data` entry (application/json keeps `"data": null`).
            processed.pop("data", None)
            request.state.request_error = True
        return processed

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


GRAPHQL_RESPONSE = "application/graphql-response+json"
_JSON_RANGES = {GRAPHQL_RESPONSE: 2, "application/json": 1, "application/*": 1, "*/*": 1}


def prefers_graphql_response(accept: str) -> bool:
    """Whether ``accept`` ranks ``application/graphql-response+json`` above
    ``application/json`` (by q value, then by specificity: a client naming both at one q
    asks for the newer one, as the spec advises clients to)."""
    best: tuple[float, int] = (0.0, 0)
    chosen = "application/json"
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        rank = _JSON_RANGES.get(media.lower())
        if rank is None:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and (quality, rank) > best:
            best = (quality, rank)
            chosen = media.lower()
    return chosen == GRAPHQL_RESPONSE


def _before_execution(result: ExecutionResult) -> bool:
    """A request error: nothing executed, so no error has a path into the data (parse,
    validation, variable coercion and the pipeline's limits have none)."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


class _BadValue(HTTPException):
    def __init__(self, reason: str, field: str) -> None:
        super().__init__(400, reason)
        self.field = field


def _checked_request(data: object, documents: DocumentRegistry | None = None) -> object:
    """One operation as a JSON object with well-typed members, whose variables hold nothing a
    column cannot store (NUL characters, integers beyond bigint)."""
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object with a `query` string")
    for name, types in (
        ("query", (str,)),
        ("operationName", (str,)),
        ("variables", (dict,)),
        ("extensions", (dict,)),
        ("documentId", (str,)),
    ):
        if data.get(name) is not None and not isinstance(data[name], types):
            kind = "a string" if types == (str,) else "an object"
            raise HTTPException(400, f"`{name}` must be {kind} or null")
    identifier = data.get("documentId")
    if identifier is not None:
        # A trusted document by id (the portal's, api/portal/documents.py): its text runs.
        text = documents.text(identifier) if documents is not None else None
        if text is None:
            raise _BadValue(f"unknown documentId {identifier[:80]!r}", "documentId")
        if data.get("query") not in (None, text):
            raise _BadValue("send `documentId` or `query`, not both", "documentId")
        data = {**data, "query": text}
        del data["documentId"]
    query = data.get("query") or ""
    if "\x00" in query or "\\u0000" in query.lower():
        raise HTTPException(400, "the query must not contain NUL characters")
    bad = unstorable(data.get("variables"), ("variables",))
    if bad is not None:
        field = ".".join(bad.path or ())
        raise _BadValue(f"{field}: {bad.message}", field)
    return data
