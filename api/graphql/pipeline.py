"""One schema extension for the request pipeline: limits, caches, error presentation and
clean-up. One extension instead of six keeps strawberry's per-request hook overhead small.

- Parsing: at most ``max_tokens`` tokens; documents are cached (bounded LRU).
- Validation: depth and alias limits on top of the standard rules; results cached (bounded
  LRU, keyed by the document and the rule classes, which are built once per schema).
- Errors: expected errors keep their message and gain ``extensions.code``; anything else is
  masked as INTERNAL with the request id, and logged with its traceback on the server only.
- Clean-up: the request's loaded data is dropped when the operation ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from graphql.language.parser import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from api.graphql.context import Context
from api.graphql.errors import (
    SERVICE_UNAVAILABLE,
    ApiError,
    OutageLog,
    database_unavailable,
    unstorable_value,
)
from domain.errors import DomainError

logger = logging.getLogger("provision.graphql")


class RequestPipeline(SchemaExtension):
    """Built per request by the factory that ``pipeline_factory`` returns."""

    def __init__(
        self,
        *,
        max_tokens: int,
        rules: tuple[type[ASTValidationRule], ...],
        parse_cached: Callable[..., DocumentNode],
        validate_cached: Callable[..., list[GraphQLError]],
    ) -> None:
        super().__init__()
        self._max_tokens = max_tokens
        self._rules = rules
        self._parse = parse_cached
        self._validate = validate_cached

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self._max_tokens
        context.validation_rules = context.validation_rules + self._rules
        yield
        result = context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = present_errors(errors, context.context)  # type: ignore[union-attr]
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

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self._parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = self._validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield


def pipeline_factory(
    *, max_tokens: int, rules: list[type[ASTValidationRule]], cache_size: int
) -> Callable[[], RequestPipeline]:
    """A factory for strawberry (a fresh extension per request; the caches are shared)."""
    parse_cached = lru_cache(maxsize=cache_size)(parse)
    validate_cached: Callable[[GraphQLSchema, DocumentNode, Any], list[GraphQLError]] = lru_cache(
        maxsize=cache_size
    )(validate_document)
    frozen_rules = tuple(rules)

    def build() -> RequestPipeline:
        return RequestPipeline(
            max_tokens=max_tokens,
            rules=frozen_rules,
            parse_cached=parse_cached,
            validate_cached=validate_cached,
        )

    return build


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
    return presented


def _outages(context: Any) -> OutageLog | None:
    request = getattr(context, "request", None)
    outages = getattr(getattr(getattr(request, "app", None), "state", None), "outages", None)
    return outages if isinstance(outages, OutageLog) else None
