"""The strawberry schema with its limits: size, depth, aliases, cost, bounded caches, masking."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.graphql.dry_run import DryRuns, with_dry_runs
from api.graphql.enums import domain_error_types, vocabulary_gaps
from api.graphql.execution import PlainFieldExecutionContext
from api.graphql.limits import DocumentLimits
from api.graphql.mutations import Mutation
from api.graphql.mutations.sandbox_clock import DURATION_SCALAR, Duration
from api.graphql.pipeline import PipelineLimits, pipeline_factory
from api.graphql.queries import Query
from api.graphql.trusted import TrustedDocuments
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


def build_schema(
    settings: Settings | None = None, *, trusted: TrustedDocuments | None = None
) -> strawberry.Schema:
    # Every mutation module is imported by now, with the domain errors the API adds.
    gaps = vocabulary_gaps(domain_error_types())
    if gaps:
        raise RuntimeError("the API cannot say what the domain says:\n" + "\n".join(gaps))
    settings = settings or Settings()
    # Depth and aliases are measured with the document's size, in one linear walk before
    # validation (api/graphql/limits.py): strawberry's validators for them are exponential.
    limits = PipelineLimits(
        max_length=settings.max_query_length,
        max_tokens=settings.max_query_tokens,
        document=DocumentLimits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_fields=settings.max_query_fields,
        ),
        max_cost=settings.max_query_cost,
        open_introspection=settings.introspection == "open",
        trusted=trusted,
    )
    return ProvisionSchema(
        query=Query,
        mutation=with_dry_runs(Mutation),
        types=[UserError],
        execution_context_class=PlainFieldExecutionContext,
        extensions=[pipeline_factory(limits=limits, rules=[], cache_size=CACHE_SIZE), DryRuns],
        config=StrawberryConfig(scalar_map={Duration: DURATION_SCALAR}),
    )
