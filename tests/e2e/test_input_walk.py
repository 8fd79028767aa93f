"""Every mutation in the schema and every REST route, fed values no column can hold (huge
integers, NUL characters, 1 MB strings, other scripts, wrong JSON shapes), answers with a
validation error: never a 5xx, never INTERNAL. The mutations come from the schema itself, so
a new one is walked without touching this file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)
from starlette.applications import Starlette
from starlette.routing import Route

from api.app import create_app
from api.graphql.schema import build_schema
from api.settings import Settings
from persistence.database import Database

from bearer import bearer, token_for
from clocks import SESSION_CLOCK

ADMIN = {"X-Admin-Email": "walk@gitlab.test", "X-Admin-Token": "walk-token"}
HUGE = 2**64
# (string, ID, Int, Float) for each kind of bad value.
VARIANTS: dict[str, tuple[str, str, int, float]] = {
    "nul": ("a\x00b", "1\x00", 1, 1.0),
    "huge": ("9" * 30, str(HUGE), 2**31 - 1, 1e300),
    "negative": ("-" + "9" * 25, "-" + str(HUGE), -(2**31), -1e300),
    "long": ("x" * 1_000_000, "9" * 100_000, 0, 0.5),
    "script": ("\u00c4\U0001f600\u0663" * 8, "\u0661\u0662\u0663", 1, 1.0),
}
SCHEMA = build_schema()._schema
MUTATIONS = sorted(SCHEMA.mutation_type.fields) if SCHEMA.mutation_type else []


@pytest.fixture(scope="module")
async def walk_app(database_url: str) -> AsyncIterator[Starlette]:
    application = create_app(
        Settings(
            database_url=database_url,
            pool_max=3,
            gc_interval=0,
            gitlab_com_admin_email=ADMIN["X-Admin-Email"],
            gitlab_com_admin_token=ADMIN["X-Admin-Token"],
        ),
        clock=SESSION_CLOCK,
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def staff(walk_app: Starlette, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    headers = {**bearer(token_for(walk_app)), **ADMIN}
    transport = httpx.ASGITransport(app=walk_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://provision.test", headers=headers
    ) as http:
        yield http


def _value(type_: GraphQLInputType, variant: tuple[str, str, int, float], depth: int = 0) -> Any:
    if isinstance(type_, GraphQLNonNull):
        return _value(type_.of_type, variant, depth)
    if isinstance(type_, GraphQLList):
        return [_value(type_.of_type, variant, depth + 1)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        if depth > 4:
            return None
        return {name: _value(f.type, variant, depth + 1) for name, f in type_.fields.items()}
    assert isinstance(type_, GraphQLScalarType)
    text, id_, integer, number = variant
    return {"Int": integer, "Float": number, "Boolean": True, "ID": id_}.get(type_.name, text)


def _document(name: str) -> str:
    field = SCHEMA.mutation_type.fields[name]  # type: ignore[union-attr]
    declared = ", ".join(f"${a}: {t.type}" for a, t in field.args.items())
    passed = ", ".join(f"{a}: ${a}" for a in field.args)
    returned = get_named_type(field.type)
    selection = " { __typename }" if isinstance(returned, GraphQLObjectType) else ""
    head = f"mutation({declared})" if declared else "mutation"
    call = f"{name}({passed})" if passed else name
    return f"{head} {{ {call}{selection} }}"


def _assert_answered(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        for error in errors or ():
            if isinstance(error, dict):
                assert (error.get("extensions") or {}).get("code") != "INTERNAL", (what, error)


def test_every_mutation_is_walked() -> None:
    assert len(MUTATIONS) >= 20


@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_every_mutation_refuses_unstorable_values(
    staff: httpx.AsyncClient, variant: str
) -> None:
    for name in MUTATIONS:
        field = SCHEMA.mutation_type.fields[name]  # type: ignore[union-attr]
        variables = {a: _value(t.type, VARIANTS[variant]) for a, t in field.args.items()}
        response = await staff.post(
            "/graphql", json={"query": _document(name), "variables": variables}
        )
        _assert_answered(response, f"{name} ({variant})")


@pytest.mark.parametrize(
    "body",
    [b"null", b'"q"', b"[]", b"1", b'{"query": 5}', b'{"variables": "x"}', b'{"query": null}'],
)
async def test_graphql_bodies_of_the_wrong_shape_are_400(
    staff: httpx.AsyncClient, body: bytes
) -> None:
    response = await staff.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"]


async def test_nul_in_a_literal_is_refused(staff: httpx.AsyncClient) -> None:
    query = (
        'mutation { orderNamespaceNameUpdate(input: {namespaceId: "1", '
        'namespaceName: "a\\u0000b"}) { errors } }'
    )
    response = await staff.post("/graphql", json={"query": query})
    _assert_answered(response, "literal NUL")
    assert response.status_code == 400


async def test_order_namespace_name_update_with_a_huge_id(staff: httpx.AsyncClient) -> None:
    query = """mutation($id: ID!) { orderNamespaceNameUpdate(
      input: {namespaceId: $id, namespaceName: "n"}) { errors } }"""
    for id_ in [str(HUGE), "\u0661\u0662\u0663", "²", "9" * 5000]:
        response = await staff.post("/graphql", json={"query": query, "variables": {"id": id_}})
        _assert_answered(response, id_)
        assert response.json()["data"]["orderNamespaceNameUpdate"]["errors"], id_


BAD_BODIES: list[Any] = [
    None,
    "q",
    [],
    1,
    {"namespace_id": HUGE},
    {"namespace_id": -HUGE},
    {"trial_user": {"namespace_id": HUGE, "trial_type": "gitlab_duo_enterprise"}},
    {"trial_user": {"namespace_id": 1, "namespace": {"path": "a\x00", "name": "\x00"}}},
    {"license_key": "x" * 1_000_000},
    {"license_key": "a\x00b", "instance_id": "\x00", "date": "\x00"},
    {"license_key": "Ä😀" * 10, "max_historical_user_count": HUGE},
    {"grant_type": "client_credentials", "client_id": "\x00", "client_secret": "x" * 100_000},
]


def _routes(app: Starlette) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.path != "/graphql":
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    found.append((method, route.path.replace("{", "").replace("}", "")))
    return found


async def test_every_rest_route_refuses_bad_input(
    walk_app: Starlette, staff: httpx.AsyncClient
) -> None:
    routes = _routes(walk_app)
    assert any(path == "/trials" for _, path in routes)
    for method, path in routes:
        for body in BAD_BODIES:
            if method == "GET":
                params = {"namespace_ids[]": [str(HUGE), "\u0661", "\x00"], "x": "\x00"}
                response = await staff.get(path, params=params)
            else:
                response = await staff.request(method, path, json=body)
            _assert_answered(response, f"{method} {path} {str(body)[:80]}")
        # Form-encoded endpoints (OAuth) get the same values as fields.
        if method == "POST":
            response = await staff.post(
                path, data={"grant_type": "client_credentials", "client_id": "\x00" * 3}
            )
            _assert_answered(response, f"{method} {path} form")


async def test_trials_with_a_huge_namespace_id_are_422(staff: httpx.AsyncClient) -> None:
    for path in ["/trials", "/trials/gitlab_com/ultimates", "/trials/gitlab_com/addons"]:
        response = await staff.post(
            path, json={"trial_user": {"namespace_id": HUGE, "trial_type": "ultimate_with_dap"}}
        )
        assert response.status_code == 422, response.text
    response = await staff.get(
        "/api/v1/gitlab/namespaces/trials/eligibility", params={"namespace_ids[]": str(HUGE)}
    )
    assert response.status_code == 422, response.text
