"""One schema extension for the request pipeline: limits, caches, error presentation and
clean-up. One extension instead of six keeps strawberry's per-request hook overhead small.

- Size: a query longer than ``max_length`` characters (whitespace and comments included) is
  refused unread; at most ``max_tokens`` tokens are parsed.
- Shape: fields reached with fragments expanded, depth and aliases, measured in one linear
  walk (``api/graphql/limits.py``) before any validation.
- Validation: the standard rules, plus no introspection for anonymous callers unless the
  settings open it; anonymous callers get no "Did you mean" suggestions either.
- Cost: the operation's static cost (``api/graphql/cost.py``) against ``max_cost``; the cost of
  an accepted operation is in the response's ``extensions.cost``.
- Caches: documents up to ``CACHE_LIMIT`` characters are parsed, measured, validated and
  costed once (bounded LRUs; validation is keyed by the document and the rule classes, which
  are built once per schema). Longer documents are never cached, and are parsed and
  validated in a worker thread so they do not hold up the event loop.
- Errors: expected errors keep their message and gain ``extensions.code``; anything else is
  masked as INTERNAL with the request id, and logged with its traceback on the server only.
  Quoted input is shortened (``api/graphql/errors.py``).
- Clean-up: the request's loaded data is dropped when the operation ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import anyio.to_thread
import orjson
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    validate,
)
from graphql.language.parser import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.execution import ExecutionContext

from api.graphql.context import Context
from api.graphql.cost import query_cost
from api.graphql.errors import SERVICE_UNAVAILABLE, ApiError, hide_suggestions, shortened
from api.graphql.limits import DocumentLimits, LimitError, check_document
from api.graphql.trusted import TrustedDocuments
from api.http.logs import bind
from api.http.outages import OutageLog, database_unavailable, unstorable_value
from domain.errors import DomainError
from domain.principal import PrincipalKind

logger = logging.getLogger("provision.graphql")

CACHE_LIMIT = 8 * 1024
"""Longer documents are not cached (a cache of large documents is a memory leak)."""
THREAD_LIMIT = 2 * 1024
"""Longer documents are parsed and validated in a worker thread."""
_VARIABLES_CACHE_LIMIT = 1024
_NAME_LIMIT = 100
"""Characters of an operation's name the request's log lines carry."""
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


@dataclass(frozen=True)
class PipelineLimits:
    max_length: int
    max_tokens: int
    document: DocumentLimits
    max_cost: int
    open_introspection: bool
    trusted: TrustedDocuments | None = None
    """Registered documents, and the client whose portal users' tokens run only those."""


Prepared = tuple[DocumentNode, tuple[GraphQLError, ...]]


def _prepare(query: str, max_tokens: int, limits: DocumentLimits) -> Prepared:
    """Parse and measure: the errors, if any, are the limits the document breaks."""
    document = parse(query, max_tokens=max_tokens)
    return document, tuple(check_document(document, limits))


def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    anonymous: bool,
) -> list[GraphQLError]:
    return validate(schema, document, (*rules, *_STRAWBERRY_RULES), hide_suggestions=anonymous)


def _cost(
    schema: GraphQLSchema, document: DocumentNode, operation: str | None, variables: str
) -> int:
    return query_cost(schema, document, operation, orjson.loads(variables))


class RequestPipeline(SchemaExtension):
    """Built per request by the factory that ``pipeline_factory`` returns."""

    def __init__(
        self,
        *,
        limits: PipelineLimits,
        rules: tuple[type[ASTValidationRule], ...],
        prepare_cached: Callable[[str, int, DocumentLimits], Prepared],
        validate_cached: Callable[..., list[GraphQLError]],
        cost_cached: Callable[..., int],
    ) -> None:
        super().__init__()
        self._limits = limits
        self._rules = rules
        self._prepare = prepare_cached
        self._validate = validate_cached
        self._cost_cached = cost_cached
        self._anonymous = False
        self._cost: int | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        self._anonymous = principal is None or not principal.is_authenticated
        if context.operation_name:
            bind(operation=context.operation_name[:_NAME_LIMIT])
        rules = context.validation_rules + self._rules
        if self._anonymous and not self._limits.open_introspection:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        context.validation_rules = rules
        yield
        result = context.result
        errors = getattr(result, "errors", None)
        if errors:
            presented = present_errors(errors, context.context)
            if self._anonymous:
                presented = [hide_suggestions(error) for error in presented]
            result.errors = presented  # type: ignore[union-attr]
        outages = _outages(context.context)
        if outages is not None and not any(
            (e.extensions or {}).get("code") == SERVICE_UNAVAILABLE
            for e in result.errors or ()  # type: ignore[union-attr]
        ):
            outages.succeeded()
        if isinstance(context.context, Context):
            # graphql-core's execution context is a reference cycle that holds ours: without
            # this, the request's data would wait for the cyclic collector.
            context.context.loaders.release()

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query or ""
        limits = self._limits
        if len(query) > limits.max_length:
            raise LimitError(
                f"The document has {len(query)} characters; at most {limits.max_length}"
                " are allowed.",
                "QUERY_TOO_LARGE",
                length=len(query),
                limit=limits.max_length,
            )
        trusted = limits.trusted
        if (
            trusted is not None
            and trusted.only_for_client is not None
            and _portal_user_of(context.context, trusted.only_for_client)
            and not trusted.registry.trusts(query)
        ):
            raise LimitError(
                "Tokens of the customer portal run the portal's registered documents only"
                " (send its `documentId`).",
                "UNTRUSTED_DOCUMENT",
            )
        prepare = self._prepare if len(query) <= CACHE_LIMIT else _prepare
        try:
            if len(query) <= THREAD_LIMIT:
                document, errors = prepare(query, limits.max_tokens, limits.document)
            else:
                document, errors = await anyio.to_thread.run_sync(
                    prepare, query, limits.max_tokens, limits.document
                )
        except GraphQLError as error:
            if "tokens" in error.message:
                code = "QUERY_TOO_LARGE"
                raise LimitError(error.message, code, limit=limits.max_tokens) from None
            raise
        context.graphql_document = document
        if context.operation_name:  # the one asked for, or the document's first
            bind(operation=context.operation_name[:_NAME_LIMIT])
        if errors:
            # Validation is skipped: its rules follow spreads.
            context.pre_execution_errors = list(errors)
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.pre_execution_errors:
            yield
            return
        schema = context.schema._schema
        document = context.graphql_document
        assert document is not None
        query = context.query or ""
        validate_: Callable[..., list[GraphQLError]] = _validate
        if len(query) <= CACHE_LIMIT:
            validate_ = self._validate
        rules = context.validation_rules
        if len(query) <= THREAD_LIMIT:
            errors = validate_(schema, document, rules, self._anonymous)
        else:
            errors = await anyio.to_thread.run_sync(
                validate_, schema, document, rules, self._anonymous
            )
        if not errors:
            cost = self._operation_cost(context, len(query) <= CACHE_LIMIT)
            if cost > self._limits.max_cost:
                errors = [
                    LimitError(
                        f"The query costs {cost}; at most {self._limits.max_cost} is allowed."
                        " Ask for smaller pages (`first`) or fewer nested lists.",
                        "QUERY_TOO_COMPLEX",
                        cost=cost,
                        limit=self._limits.max_cost,
                    )
                ]
            else:
                self._cost = cost
        context.pre_execution_errors = errors
        yield

    def _operation_cost(self, context: ExecutionContext, cacheable: bool) -> int:
        schema = context.schema._schema
        document = context.graphql_document
        assert document is not None
        if cacheable:
            try:
                variables = orjson.dumps(
                    context.variables or {}, option=orjson.OPT_SORT_KEYS
                ).decode()
            except TypeError:
                variables = ""
            if variables and len(variables) <= _VARIABLES_CACHE_LIMIT:
                return self._cost_cached(schema, document, context.operation_name, variables)
        return query_cost(schema, document, context.operation_name, context.variables)

    def get_results(self) -> dict[str, Any]:
        return {} if self._cost is None else {"cost": self._cost}


def _portal_user_of(context: Any, client_id: str) -> bool:
    """A portal user's token issued to ``client_id``."""
    if not isinstance(context, Context) or context.request is None:
        return False
    user = context.request.scope.get("user")
    return (
        getattr(user, "client_id", None) == client_id
        and context.principal.kind is PrincipalKind.PORTAL_USER
    )


class PipelineFactory:
    """Builds a fresh extension per request for strawberry; the caches are shared."""

    def __init__(
        self, *, limits: PipelineLimits, rules: list[type[ASTValidationRule]], cache_size: int
    ) -> None:
        self.limits = limits
        self.rules = tuple(rules)
        self.prepare_cached = lru_cache(maxsize=cache_size)(_prepare)
        self.validate_cached = lru_cache(maxsize=cache_size)(_validate)
        self.cost_cached = lru_cache(maxsize=cache_size)(_cost)

    def __call__(self) -> RequestPipeline:
        return RequestPipeline(
            limits=self.limits,
            rules=self.rules,
            prepare_cached=self.prepare_cached,
            validate_cached=self.validate_cached,
            cost_cached=self.cost_cached,
        )

    def cached_documents(self) -> int:
        """How many documents the caches hold (the most any of them holds)."""
        caches = (self.prepare_cached, self.validate_cached, self.cost_cached)
        return max(cache.cache_info().currsize for cache in caches)


pipeline_factory = PipelineFactory


def present_errors(errors: list[GraphQLError], context: Any) -> list[GraphQLError]:
    request_id = getattr(context, "request_id", None)
    presented = []
    for error in errors:
        original = error.original_error
        if original is None or isinstance(original, ApiError | GraphQLError):
            # Syntax, validation and coercion errors, and our own coded errors.
            presented.append(error)
        elif unstorable_value(original):
            presented.append(
                GraphQLError(
                    "a value is out of range or holds characters that cannot be stored",
                    nodes=error.nodes,
                    positions=error.positions,
                    path=error.path,
                    extensions={"code": "VALIDATION_FAILED"},
                )
            )
        elif database_unavailable(original):
            outages = _outages(context)
            if outages is not None:
                outages.failed(original)
            presented.append(
                GraphQLError(
                    "the service is briefly unavailable; retry shortly",
                    nodes=error.nodes,
                    positions=error.positions,
                    path=error.path,
                    extensions={"code": SERVICE_UNAVAILABLE},
                )
            )
        elif isinstance(original, DomainError):
            extensions = {"code": original.code}
            if original.path:
                extensions["field"] = ".".join(original.path)
            presented.append(
                GraphQLError(
                    original.message,
                    nodes=error.nodes,
                    positions=error.positions,
                    path=error.path,
                    extensions=extensions,
                )
            )
        else:
            logger.error(
                "unexpected error in %s (request %s)",
                ".".join(str(p) for p in error.path or ()),
                request_id,
                exc_info=original,
            )
            presented.append(
                GraphQLError(
                    f"Internal error. Quote request id {request_id} to support.",
                    nodes=error.nodes,
                    positions=error.positions,
                    path=error.path,
                    extensions={"code": "INTERNAL", "requestId": request_id},
                )
            )
    return [shortened(error) for error in presented]


def _outages(context: Any) -> OutageLog | None:
    request = getattr(context, "request", None)
    outages = getattr(getattr(getattr(request, "app", None), "state", None), "outages", None)
    return outages if isinstance(outages, OutageLog) else None
