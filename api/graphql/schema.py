"""The strawberry schema with its limits: depth, tokens, aliases, bounded caches, error masking."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.types import ExecutionContext

from api.graphql.enums import domain_error_types, vocabulary_gaps
from api.graphql.execution import PlainFieldExecutionContext
from api.graphql.mutations import Mutation
from api.graphql.pipeline import pipeline_factory
from api.graphql.queries import Query
from api.graphql.types.mutation_error import UserError
from api.settings import Settings

CACHE_SIZE = 256


class ProvisionSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Expected errors (bad input, UNAUTHENTICATED, FORBIDDEN...) are answers, not incidents:
        strawberry's default logs each with a traceback. The pipeline logs the unexpected ones
        (``present_errors``)."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    # Every mutation module is imported by now, with the domain errors the API adds.
    gaps = vocabulary_gaps(domain_error_types())
    if gaps:
        raise RuntimeError("the API cannot say what the domain says:\n" + "\n".join(gaps))
    settings = settings or Settings()
    # Built once: the validation cache keys on the rule classes.
    limit_rules: list[type[ASTValidationRule]] = [
        max_depth_rule(settings.max_query_depth, should_ignore=None),
        max_aliases_rule(settings.max_aliases),
    ]
    return ProvisionSchema(
        query=Query,
        mutation=Mutation,
        types=[UserError],
        execution_context_class=PlainFieldExecutionContext,
        extensions=[
            pipeline_factory(
                max_tokens=settings.max_query_tokens, rules=limit_rules, cache_size=CACHE_SIZE
            )
        ],
    )
