"""Documents whose shape or size would stall the server are refused quickly, with a code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from graphql_client import GraphQL, codes

LEVELS = 40


def fan_out(variant: str, levels: int = LEVELS) -> str:
    """Each fragment spreads the previous one twice: 2^levels fields once expanded."""
    spread = {
        "named": "...F{p} ...F{p}",
        "inline": "... on Query {{ ...F{p} }} ... on Query {{ ...F{p} }}",
        "aliases": "a: viewer {{ kind }} ...F{p} ...F{p}",
        "directives": "...F{p} @include(if: true) ...F{p} @skip(if: false)",
    }[variant]
    fragments = ["fragment F0 on Query { viewer { kind } }"]
    for level in range(1, levels + 1):
        body = spread.format(p=level - 1)
        fragments.append(f"fragment F{level} on Query {{ {body} }}")
    return f"{{ ...F{levels} }}\n" + "\n".join(fragments)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("variant", ["named", "inline", "aliases", "directives"])
async def test_fragment_fan_out_is_refused_at_once(
    anonymous: httpx.AsyncClient, variant: str
) -> None:
    started = time.perf_counter()
    response = await anonymous.post("/graphql", json={"query": fan_out(variant)})
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{variant}: {elapsed:.3f} s"
    assert codes(response.json()) == ["QUERY_TOO_LARGE"]
    assert "fields" in response.json()["errors"][0]["message"]


@pytest.mark.timeout(30)
async def test_fan_out_through_get_is_refused_too(anonymous: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    response = await anonymous.get("/graphql", params={"query": fan_out("named")})
    assert time.perf_counter() - started < 1.0
    assert codes(response.json()) == ["QUERY_TOO_LARGE"]


async def test_a_fragment_used_twice_is_counted_twice(gql: GraphQL) -> None:
    # Counted per spread, the way execution would run it: 16 aliases through one fragment.
    aliases = " ".join(f"a{i}: viewer {{ kind }}" for i in range(16))
    body = await gql(f"{{ ...A b: viewer {{ ...A }} }} fragment A on Query {{ {aliases} }}")
    assert codes(body) == ["TOO_MANY_ALIASES"]
    assert body["errors"][0]["extensions"] == {
        "code": "TOO_MANY_ALIASES",
        "aliases": 33,
        "limit": 30,
    }


async def test_depth_alias_and_token_refusals_are_coded(client: httpx.AsyncClient) -> None:
    nested = "subscription { " * 12 + "id" + " }" * 12
    deep = await client.post(
        "/graphql", json={"query": "{ licenses { edges { node { " + nested + " } } } }"}
    )
    assert codes(deep.json()) == ["QUERY_TOO_DEEP"]
    assert "exceeds maximum operation depth of 10" in deep.json()["errors"][0]["message"]
    many = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(40)) + " }"
    aliases = await client.post("/graphql", json={"query": many})
    assert codes(aliases.json()) == ["TOO_MANY_ALIASES"]
    assert aliases.json()["errors"][0]["extensions"]["aliases"] == 40
    long = await client.post("/graphql", json={"query": "{ viewer { " + "kind " * 3000 + "} }"})
    assert codes(long.json()) == ["QUERY_TOO_LARGE"]


async def test_graphiql_introspection_is_not_too_deep(gql: GraphQL) -> None:
    from graphql import get_introspection_query

    body = await gql(get_introspection_query(descriptions=True))
    assert "errors" not in body, body.get("errors")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


# --- body and document size --------------------------------------------------------------


async def test_a_body_above_the_cap_is_refused_by_its_length(anonymous: httpx.AsyncClient) -> None:
    query = "{ viewer { kind } }" + " " * (2 * 1024 * 1024)
    response = await anonymous.post("/graphql", json={"query": query})
    assert response.status_code == 413


async def test_a_chunked_body_is_refused_before_it_is_all_read(
    anonymous: httpx.AsyncClient,
) -> None:
    sent = 0
    chunks = 64

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ viewer { kind } }'
        for _ in range(chunks):
            sent += 1
            yield b" " * 65536
        yield b'"}'

    response = await anonymous.post(
        "/graphql", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert sent < chunks  # refused at the chunk that passed 1 MiB, the rest never read


async def test_rest_routes_have_the_cap_too(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/api/v1/seat_links", content=b"{" + b" " * (1024 * 1024 + 1))
    assert response.status_code == 413


@pytest.mark.parametrize("filler", ["whitespace", "comment"])
async def test_a_megabyte_of_nothing_is_refused_like_a_long_document(
    anonymous: httpx.AsyncClient, filler: str
) -> None:
    padding = " " * 1_000_000 if filler == "whitespace" else "#" + "x" * 1_000_000 + "\n"
    response = await anonymous.post("/graphql", json={"query": padding + "{ __typename }"})
    assert response.status_code in (200, 400)
    assert codes(response.json()) == ["QUERY_TOO_LARGE"]
    assert "characters" in response.json()["errors"][0]["message"]


async def test_large_documents_are_not_cached(app: object, gql: GraphQL) -> None:
    from api.graphql.pipeline import CACHE_LIMIT, PipelineFactory
    from api.graphql.view import GraphQLView

    view = next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/graphql")  # type: ignore[attr-defined]
    assert isinstance(view, GraphQLView)
    # The pipeline is one of the schema's extensions (dry runs add their own).
    (factory,) = [e for e in view.schema.extensions if isinstance(e, PipelineFactory)]
    before = factory.cached_documents()
    # Distinct long documents (long comments), each answered, none kept.
    for i in range(3):
        body = await gql(f"#{i}" + "x" * CACHE_LIMIT + "\n{ viewer { kind } }")
        assert body["data"]["viewer"]["kind"]
    assert factory.cached_documents() == before


@pytest.mark.timeout(30)
async def test_copies_of_one_field_that_validation_would_compare_pairwise_are_refused(
    anonymous: httpx.AsyncClient,
) -> None:
    # graphql-core's overlapping-fields rule is quadratic in them: about a second for 140 copies.
    query = "{ " + "licenses { edges { node { id subscription { id } } } } " * 140 + "}"
    started = time.perf_counter()
    response = await anonymous.post("/graphql", json={"query": query})
    assert time.perf_counter() - started < 1.0
    assert codes(response.json()) == ["QUERY_TOO_LARGE"]
    assert response.json()["errors"][0]["extensions"]["merged"] == 140


async def test_a_few_copies_still_merge(gql: GraphQL) -> None:
    body = await gql("{ " + "viewer { kind } " * 20 + "}")
    assert "errors" not in body
