"""The strawberry schema with its limits: depth, tokens, aliases, bounded caches, error masking."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from api.graphql.context import Context
from api.graphql.errors import ApiError
from api.graphql.execution import PlainFieldExecutionContext
from api.graphql.queries import Query
from api.graphql.types.mutation_error import UserError
from api.settings import Settings
from domain.errors import DomainError

logger = logging.getLogger("provision.graphql")

CACHE_SIZE = 256


class PresentErrors(MaskErrors):
    """Expected errors keep their message and gain ``extensions.code``; anything else is masked
    as INTERNAL with the request id, and logged with its traceback on the server only."""

    def __init__(self) -> None:
        super().__init__(error_message="Internal error.")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        request_id = getattr(self.execution_context.context, "request_id", None)
        presented = []
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, ApiError | GraphQLError):
                # Syntax, validation and coercion errors, and our own coded errors.
                presented.append(error)
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


class ReleaseRequestData(SchemaExtension):
    """At the end of an operation, drop the loaded data from the request context."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, Context):
            context.loaders.release()


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # The limit rules are built once: the validation cache keys on the rule classes, and
    # strawberry's limiter extensions would build new ones for every request.
    limit_rules: list[type[ASTValidationRule]] = [
        max_depth_rule(settings.max_query_depth, should_ignore=None),
        max_aliases_rule(settings.max_aliases),
    ]
    return strawberry.Schema(
        query=Query,
        types=[UserError],
        execution_context_class=PlainFieldExecutionContext,
        extensions=[
            partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
            partial(ParserCache, maxsize=CACHE_SIZE),
            partial(AddValidationRules, limit_rules),
            partial(ValidationCache, maxsize=CACHE_SIZE),
            PresentErrors,
            ReleaseRequestData,
        ],
    )
