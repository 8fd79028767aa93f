"""The compiled execution path answers exactly as graphql-core's own path does.

Every query runs twice on the same data: with Provision's execution context and with
strawberry's default one; data and errors must be equal.
"""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.commands import Commands
from api.graphql.context import Context
from api.graphql.fast_read import FastReads
from api.graphql.loaders import Loaders
from api.graphql.schema import build_schema
from domain.model.enums import Deployment
from domain.policy import ALL_SCOPES
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.read_models import ReadModels

import factories as f
from graphql_client import GraphQL

QUERIES = [
    "{ subscriptions(first: 5) { edges { node { id plan seats status } } } }",
    """{ subscriptions { totalCount pageInfo { hasNextPage startCursor endCursor }
         edges { cursor node { __typename id name licensingMode
           licenses(first: 2) { totalCount pageInfo { hasNextPage }
             edges { cursor node { id expiresAt seats plan mode trial licenseKey } } }
           instances { edges { node { hostname instanceIdentifier lastSyncedAt } } }
           customer { company contactEmail }
           namespace { path plan basePlan }
           usage { seatsInUse overage }
           terms { startDate segments { seats } } addOns { kind quantity } } } } }""",
    """query($first: Int, $skip: Boolean!) { subscriptions(first: $first) { edges { node {
         ...Sub alias: name licenses @skip(if: $skip) { edges { node { id } } } } } } }
       fragment Sub on Subscription {
         id seats licenses(first: 1) { edges { node { expiresAt } } } }""",
    """{ subscriptions { edges { node { licenses(first: 101) { edges { node { id } } } } } } }""",
    """{ subscriptions { edges { node {
         licenses(after: "nonsense") { edges { node { id } } } } } } }""",
    """{ customers { edges { node { company subscriptions(first: 1) { totalCount
         edges { node { name licenses { edges { node { id } } } } } } } } } }""",
    """{ namespaces { edges { node {
         gitlabId plan trials { type status } subscription { name } } } } }""",
    """{ licenses { edges { node { id subscription { name seats } } } } }""",
]


async def _seed(db: Database) -> None:
    customer = f.customer()
    ns = f.namespace(11)
    subs = [f.subscription(customer, seats=(5, 8)) for _ in range(4)]
    saas = f.subscription(customer, deployment=Deployment.GITLAB_COM, namespace_id=ns.id)
    children = [f.license_for(s, key=f"key-{i}") for i, s in enumerate(subs) for _ in range(3)]
    instances = [f.instance_for(s) for s in subs[:2]]
    usage = [f.usage_for(subs[0], billable=9, maximum=12)]
    await f.store(db, customer, ns, *subs, saas, *children, *instances, *usage, f.trial_on(ns))


def _context(db: Database) -> Context:
    read = ReadModels(db)
    principal = Principal(PrincipalKind.STAFF, subject="test:staff", scopes=ALL_SCOPES)
    return Context(
        request=None,
        principal=principal,
        read=read,
        loaders=Loaders.build(read, principal),
        clock=_Clock(),
        today=f.TODAY,
        request_id="test",
        commands=Commands.build(db, _Clock()),
    )


class _Clock:
    def now(self) -> Any:
        return f.NOW

    def today(self) -> Any:
        return f.TODAY


async def _usual_path(*args: Any, **kwargs: Any) -> None:
    return None


def _outcome(result: Any) -> tuple[Any, list[tuple[str, Any, Any]]]:
    errors = [(e.message, e.path, e.extensions) for e in result.errors or []]
    return result.data, sorted(errors, key=repr)


@pytest.mark.parametrize("query", QUERIES)
async def test_compiled_and_graphql_core_paths_agree(clean_db: Database, query: str) -> None:
    await _seed(clean_db)
    compiled = build_schema()
    plain = build_schema()
    plain.execution_context_class = compiled.execution_context_class.__mro__[1]
    variables = {"first": 3, "skip": False}
    ours = await compiled.execute(
        query, variable_values=variables, context_value=_context(clean_db)
    )
    theirs = await plain.execute(query, variable_values=variables, context_value=_context(clean_db))
    assert _outcome(ours) == _outcome(theirs)
    assert ours.data is not None or ours.errors  # some shapes are bad input on purpose
    refused = {"UNAUTHENTICATED", "FORBIDDEN"}
    assert not [e for e in ours.errors or [] if (e.extensions or {}).get("code") in refused]


async def test_the_compiled_path_is_taken_and_reused(
    gql: GraphQL, clean_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(clean_db)
    usual_path = StrawberryGraphQLCoreExecutionContext.execute_field
    fields_on_the_usual_path: list[str] = []

    def counting(self: Any, parent_type: Any, *args: Any) -> Any:
        fields_on_the_usual_path.append(parent_type.name)
        return usual_path(self, parent_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    # About the graphql-core path: the one-statement path (test_fast_read.py) stays out.
    monkeypatch.setattr(FastReads, "answer", _usual_path)
    query = "{ subscriptions { edges { node { id licenses { edges { node { id } } } } } } }"
    first = await gql(query)
    second = await gql(query)
    assert first == second
    edges = first["data"]["subscriptions"]["edges"]
    assert len(edges) == 5
    assert all(edge["node"]["id"].startswith("sub_") for edge in edges)
    # Only the root field (an async resolver) takes the usual path; the subscriptions and
    # their licenses are answered by compiled code, the second time from the cache.
    assert fields_on_the_usual_path == ["Query", "Query"]
