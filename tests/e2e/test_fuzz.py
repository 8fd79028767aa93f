"""Property-based fuzzing of the whole HTTP surface, in process (httpx over ASGI).

Hypothesis generates GraphQL documents from the schema (hypothesis-graphql: valid queries and
mutations, and ones with one schema violation), documents whose arguments are variables with
generated values, mutated and garbage documents, raw bodies of every kind, and bodies, forms,
query strings and headers for every REST route. They are sent as staff, a portal user, a
partner, an instance, GitLab.com (admin pair) and anonymously, on a seeded world whose real IDs,
keys and codes the strategies draw from. Whatever comes, every answer is below 500, carries no
``INTERNAL`` error, is JSON where it must be, and comes within ``REQUEST_BOUND`` seconds.

CI runs a fixed (derandomized) set of examples in about a minute. To look for bugs, run more
random ones: ``PROVISION_FUZZ_EXAMPLES=2000 pytest tests/e2e/test_fuzz.py`` (docs/testing.md).
The examples of one test share its database (mutations change it); only "no 5xx, no INTERNAL"
is asserted, which holds in any state.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import string
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import graphql
import httpx
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from api.graphql.schema import build_schema
from api.ids import global_id
from domain.model.enums import Deployment, Plan
from domain.principal import PrincipalKind
from persistence.database import Database

import factories as f
import oauth_flow
from bearer import ADMIN, bearer, token_for

# Random exploration with this many examples per test when set; CI's fixed set otherwise.
EXAMPLES = int(os.environ.get("PROVISION_FUZZ_EXAMPLES", "0") or 0)
# "No stall": far above a normal answer (milliseconds), generous for two busy cores.
REQUEST_BOUND = 10.0
LEAK_GRACE = 2.0  # seconds a connection taken during a request may take to come back
SCHEMA = build_schema()._schema
HUGE = 2**70


def fuzz(ci_examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings: ``ci_examples`` derandomized examples, or the environment's count."""
    return settings(
        max_examples=EXAMPLES or ci_examples,
        derandomize=not EXAMPLES,
        deadline=None,
        database=None,
        print_blob=True,
        # PROVISION_FUZZ_SHRINK=0 reports the first failing example as it came.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
        + ([] if os.environ.get("PROVISION_FUZZ_SHRINK") == "0" else [Phase.shrink]),
        # The examples share the test's fixtures (the app, the seeded database) on purpose.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


# --- the world the examples act on ------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What exists in the database: values the strategies draw so they reach past lookups."""

    ids: tuple[str, ...]
    strings: tuple[str, ...]
    gitlab_ids: tuple[int, ...]
    client_id: str
    client_secret: str
    public_client_id: str
    email: str


@pytest.fixture
async def world(clean_db: Database) -> World:
    owner = f.customer()
    group = f.namespace(4242)
    self_managed = f.subscription(owner, plan=Plan.ULTIMATE)
    dot_com = f.subscription(owner, deployment=Deployment.GITLAB_COM, namespace_id=group.id)
    license_ = f.license_for(self_managed, key="fuzz-license-key")
    instance = f.instance_for(self_managed)
    trial = f.trial_on(group)
    usage = f.usage_for(self_managed, billable=3, maximum=4)
    await f.store(clean_db, owner, group, self_managed, dot_com, license_, instance, trial, usage)
    machine = await oauth_flow.machine_client(clean_db, PrincipalKind.STAFF)
    public = await oauth_flow.portal_client(clean_db)
    person = await oauth_flow.user(clean_db, "fuzz@example.com")
    assert machine.client_secret is not None
    return World(
        ids=(
            global_id("Customer", owner.id),
            global_id("Namespace", group.id),
            global_id("Subscription", self_managed.id),
            global_id("Subscription", dot_com.id),
            global_id("License", license_.id),
            global_id("Instance", instance.id),
            global_id("Trial", trial.id),
            global_id("UsageReport", usage.id),
            global_id("ProvisionEvent", uuid.uuid4()),
        ),
        strings=(
            "fuzz-license-key",
            self_managed.name,
            dot_com.name,
            instance.instance_identifier,
            owner.contact_email,
            person.email,
            "ultimate",
            "premium",
            "duo_pro",
            "duo_enterprise",
            "gitlab_duo_enterprise",
            "ultimate_with_dap",
            f.NOW.isoformat(),
            f.TODAY.isoformat(),
        ),
        gitlab_ids=(4242, 1, 2**63 - 1),
        client_id=machine.client_id,
        client_secret=machine.client_secret,
        public_client_id=public.client_id,
        email=person.email,
    )


def callers(
    app: Starlette, gitlab_com_app: Starlette
) -> dict[str, tuple[Starlette, dict[str, str]]]:
    """Each kind of caller: the app it calls and its headers."""
    return {
        "staff": (app, bearer(token_for(app))),
        "portal": (
            app,
            bearer(
                token_for(
                    app, PrincipalKind.PORTAL_USER, subject="usr_fuzz", email="fuzz@example.com"
                )
            ),
        ),
        "partner": (
            app,
            bearer(token_for(app, PrincipalKind.PARTNER, subject="fuzz", partner="p-fuzz")),
        ),
        "instance": (
            app,
            bearer(token_for(app, PrincipalKind.INSTANCE, subscription=uuid.uuid4())),
        ),
        "gitlab_com": (gitlab_com_app, dict(ADMIN)),
        "anonymous": (app, {}),
        "bad_token": (app, {"Authorization": "Bearer not.a.jwt"}),
    }


@pytest.fixture
async def http(
    app: Starlette, gitlab_com_app: Starlette, world: World
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One client per kind of caller (see ``callers``)."""
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for name, (target, headers) in callers(app, gitlab_com_app).items():
            clients[name] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=target),
                base_url="http://provision.test",
                headers=headers,
            )
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


CALLERS = st.sampled_from(
    ["staff", "portal", "partner", "instance", "gitlab_com", "anonymous", "bad_token"]
)


# --- sending and checking ---------------------------------------------------------------------


def _in_use(client: httpx.AsyncClient) -> int:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    pool = transport.app.state.db.pool  # type: ignore[attr-defined]
    return int(pool.get_size() - pool.get_idle_size())


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """The request, answered within ``REQUEST_BOUND`` (a stall fails the example), leaving
    no pooled connection taken (a leak would starve the pool)."""
    before = _in_use(client)
    response = await asyncio.wait_for(client.request(method, url, **kwargs), REQUEST_BOUND)
    # The app's own background tasks (the key refresher) borrow a connection for a moment
    # now and then, which can overlap a request: a leak is a connection that never comes
    # back, so give a borrowed one a short while to return before calling it one.
    for _ in range(int(LEAK_GRACE / 0.01)):
        if _in_use(client) <= before:
            break
        await asyncio.sleep(0.01)
    assert _in_use(client) <= before, ("a connection was left taken", method, url, kwargs)
    return response


def _internal_errors(body: Any) -> list[Any]:
    """Every error object anywhere in ``body`` whose code is INTERNAL."""
    found = []
    if isinstance(body, dict):
        if body.get("code") == "INTERNAL":
            found.append(body)
        for value in body.values():
            found.extend(_internal_errors(value))
    elif isinstance(body, list):
        for value in body:
            found.extend(_internal_errors(value))
    return found


def check(response: httpx.Response, what: object, *, graphql_answer: bool = False) -> Any:
    """No 5xx, no INTERNAL, JSON where JSON is said (always on /graphql); the parsed body."""
    shown = repr(what)[:600]
    assert response.status_code < 500, (shown, response.status_code, response.text[:600])
    content_type = response.headers.get("content-type", "")
    if graphql_answer:
        assert content_type.startswith("application/json"), (shown, content_type, response.text)
    if not content_type.startswith("application/json"):
        return None
    body = response.json()
    assert not _internal_errors(body), (shown, body)
    if graphql_answer:
        assert isinstance(body, dict), (shown, body)
        assert "data" in body or body.get("errors"), (shown, body)
    return body


# --- strategies: JSON values ------------------------------------------------------------------

# Every kind of character a URL or form can carry: NUL and other controls, other scripts,
# astral planes (JSON bodies also get lone surrogates, from NASTY_TEXT).
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\\u0000",
        "\ud800",
        "\u00c4\U0001f600\u0663",
        "\u202e\u200b",
        "١٢٣",
        "²",
        "9" * 40,
        "-" + "9" * 40,
        "1e309",
        "NaN",
        "x" * 5000,
        "null",
        "\U0010ffff",
        "' OR 1=1 --",
        "%00",
        "../../etc/passwd",
        "\r\n",
    ]
)
INTEGERS = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, HUGE, -HUGE]),
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e308, -0.0, 1e-320])
# What httpx can put in a query string, a form or a header value.
URL_TEXT = ANY_TEXT | NASTY_TEXT.filter(lambda s: "\ud800" not in s)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, ANY_TEXT, NASTY_TEXT)


def json_values(leaves: st.SearchStrategy[Any] = JSON_SCALARS) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=12) | NASTY_TEXT, inner, max_size=4)
        ),
        max_leaves=12,
    )


def url_safe(text: str) -> str:
    """``text`` without lone surrogates, which httpx cannot put in a URL."""
    return text.encode("utf-8", "replace").decode()


def encode(value: Any, *, ascii_only: bool) -> bytes:
    """JSON as a client might send it (NaN and lone surrogates too: the server must cope)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# --- strategies: GraphQL variables for the schema's input types -------------------------------


def _named_values(world: World, name: str) -> st.SearchStrategy[Any]:
    """Mostly plausible values of a built-in or custom scalar, with garbage mixed in."""
    strings = st.sampled_from(world.strings)
    ids = st.sampled_from(world.ids)
    plausible: dict[str, st.SearchStrategy[Any]] = {
        "Int": INTEGERS | st.sampled_from(world.gitlab_ids),
        "Float": FLOATS,
        "Boolean": st.booleans(),
        "ID": ids | st.sampled_from(world.gitlab_ids).map(str) | ANY_TEXT,
        "String": strings | ANY_TEXT | NASTY_TEXT | st.sampled_from(world.ids),
        "Date": st.dates().map(date.isoformat) | st.just(f.TODAY.isoformat()) | ANY_TEXT,
        "DateTime": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | ANY_TEXT,
        "JSON": json_values(),
    }
    return plausible.get(name, ANY_TEXT)


def variable_values(
    world: World, type_: graphql.GraphQLInputType, depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values for a variable of ``type_``: mostly of the type, sometimes anything at all."""
    garbage = json_values() if depth < 3 else JSON_SCALARS
    if isinstance(type_, graphql.GraphQLNonNull):
        return variable_values(world, type_.of_type, depth)
    if isinstance(type_, graphql.GraphQLList):
        item = variable_values(world, type_.of_type, depth + 1)
        typed = st.lists(item, max_size=4 if depth < 2 else 1) | item
    elif isinstance(type_, graphql.GraphQLEnumType):
        typed = st.sampled_from(sorted(type_.values))
    elif isinstance(type_, graphql.GraphQLInputObjectType):
        if depth > 4:
            return st.none()
        required = {
            name: variable_values(world, field.type, depth + 1)
            for name, field in type_.fields.items()
            if graphql.is_required_input_field(field)
        }
        optional = {
            name: variable_values(world, field.type, depth + 1)
            for name, field in type_.fields.items()
            if not graphql.is_required_input_field(field)
        }
        typed = st.fixed_dictionaries(required, optional=optional)
    else:
        assert isinstance(type_, graphql.GraphQLScalarType)
        typed = _named_values(world, type_.name)
    return st.one_of(typed, typed, typed, garbage)


def _leaf(type_: graphql.GraphQLOutputType) -> bool:
    return isinstance(
        graphql.get_named_type(type_), graphql.GraphQLScalarType | graphql.GraphQLEnumType
    )


@st.composite
def selections(draw: st.DrawFn, type_: graphql.GraphQLOutputType, depth: int = 0) -> str:
    """A valid selection set on ``type_`` (fields without required arguments, some fragments)."""
    named = graphql.get_named_type(type_)
    if isinstance(named, graphql.GraphQLScalarType | graphql.GraphQLEnumType):
        return ""
    parts = ["__typename"]
    if isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        usable = sorted(
            name
            for name, field in named.fields.items()
            if not any(graphql.is_required_argument(a) for a in field.args.values())
            and (depth < 3 or _leaf(field.type))
        )
        for name in (
            draw(st.lists(st.sampled_from(usable), max_size=6, unique=True)) if usable else []
        ):
            parts.append(name + draw(selections(named.fields[name].type, depth + 1)))
    if isinstance(named, graphql.GraphQLInterfaceType | graphql.GraphQLUnionType) and depth < 3:
        possible = sorted(t.name for t in SCHEMA.get_possible_types(named))
        for name in draw(st.lists(st.sampled_from(possible), max_size=2, unique=True)):
            inner = draw(selections(SCHEMA.get_type(name), depth + 1))  # type: ignore[arg-type]
            parts.append(f"... on {name}{inner}")
    return " { " + " ".join(parts) + " }"


ROOTS = [
    ("query", name, field)
    for name, field in sorted(SCHEMA.query_type.fields.items())  # type: ignore[union-attr]
] + [
    ("mutation", name, field)
    for name, field in sorted(SCHEMA.mutation_type.fields.items())  # type: ignore[union-attr]
]


@st.composite
def operations_with_variables(draw: st.DrawFn, world: World) -> tuple[str, str, Any]:
    """(kind, document, variables): one root field whose arguments are all variables."""
    kind, name, field = draw(st.sampled_from(ROOTS))
    arguments = sorted(field.args.items())
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in arguments)
    passed = ", ".join(f"{a}: ${a}" for a, _ in arguments)
    head = f"{kind} Fuzz({declared})" if declared else f"{kind} Fuzz"
    call = f"{name}({passed})" if passed else name
    document = f"{head} {{ {call}{draw(selections(field.type))} }}"
    variables: dict[str, Any] = {}
    for a, arg in arguments:
        if draw(st.integers(0, 9)) == 0:  # sometimes a variable is left out
            continue
        variables[a] = draw(variable_values(world, arg.type))
    if draw(st.integers(0, 14)) == 0:  # sometimes the variables are another shape entirely
        return kind, document, draw(json_values())
    return kind, document, variables


# --- strategies: schema-generated and garbage documents ---------------------------------------


def _string_node(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return values.map(lambda v: graphql.StringValueNode(value=v))


CUSTOM_SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "Date": _string_node(st.dates().map(date.isoformat) | ANY_TEXT),
    "DateTime": _string_node(st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)),
    "JSON": _string_node(ANY_TEXT)
    | INTEGERS.map(lambda v: graphql.IntValueNode(value=str(v)))
    | st.booleans().map(lambda v: graphql.BooleanValueNode(value=v)),
}
GENERATED_DOCUMENTS = st.one_of(
    hypothesis_graphql.queries(SCHEMA, custom_scalars=CUSTOM_SCALARS, codec=None),
    hypothesis_graphql.mutations(SCHEMA, custom_scalars=CUSTOM_SCALARS, codec=None),
    hypothesis_graphql.queries(
        SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=hypothesis_graphql.Mode.NEGATIVE
    ),
    hypothesis_graphql.mutations(
        SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=hypothesis_graphql.Mode.NEGATIVE
    ),
)
ROOT_NAMES = [name for _, name, _ in ROOTS]
TOKENS = st.one_of(
    st.sampled_from(
        [
            *"{}()[]:=!$@|&.,",
            *["...", "query", "mutation", "subscription", "fragment", "on", "true", "null"],
            *['"', '"""', "#", "\\u0000", "\\", "__schema", "__type", "__typename", "$x", "@skip"],
        ]
    ),
    st.sampled_from(ROOT_NAMES),
    INTEGERS.map(str),
    FLOATS.map(repr),
    ANY_TEXT.map(json.dumps),
    st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=10),
)


@st.composite
def mutated(draw: st.DrawFn, document: str) -> str:
    """``document`` with a slice deleted, doubled or replaced by random text."""
    if not document:
        return draw(ANY_TEXT)
    start = draw(st.integers(0, len(document) - 1))
    end = draw(st.integers(start, min(len(document), start + 20)))
    how = draw(st.sampled_from(["delete", "double", "replace"]))
    middle = {
        "delete": "",
        "double": document[start:end] * draw(st.integers(2, 50)),
        "replace": draw(ANY_TEXT | NASTY_TEXT | TOKENS),
    }[how]
    return document[:start] + middle + document[end:]


@st.composite
def deep(draw: st.DrawFn) -> str:
    """Deep nesting of selections, lists, objects or parentheses."""
    n = draw(st.sampled_from([10, 50, 200, 1000, 5000, 20000]))
    shape = draw(st.sampled_from(["selection", "list", "object", "fragment", "paren"]))
    if shape == "selection":
        return "{ viewer " + "{ kind " * n + "}" * n + " }"
    if shape == "list":
        return "{ nodes(ids: " + "[" * n + '"x"' + "]" * n + ") { id } }"
    if shape == "object":
        return (
            "{ namespaceEligibility(customerUid: 1, namespaces: "
            + "{a: " * n
            + "1"
            + "}" * n
            + ") { id } }"
        )
    if shape == "fragment":
        defs = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(min(n, 500)))
        return "{ ...F0 } " + defs + f" fragment F{min(n, 500)} on Query {{ viewer {{ kind }} }}"
    return "{ viewer" + "(" * n + ") { kind } }"


GARBAGE_DOCUMENTS = st.one_of(
    ANY_TEXT,
    NASTY_TEXT,
    st.lists(TOKENS, max_size=40).map(" ".join),
    deep(),
    INTEGERS.map(lambda n: f"{{ subscriptions(first: {n}) {{ totalCount }} }}"),
    NASTY_TEXT.map(lambda s: "{ subscription(name: " + json.dumps(s) + ") { name } }"),
    GENERATED_DOCUMENTS.flatmap(mutated),
)


# --- the GraphQL tests ------------------------------------------------------------------------


async def post_graphql(
    client: httpx.AsyncClient, body: Any, *, ascii_only: bool = True
) -> httpx.Response:
    return await send(
        client,
        "POST",
        "/graphql",
        content=encode(body, ascii_only=ascii_only),
        headers={"content-type": "application/json"},
    )


@fuzz(ci_examples=150)
@given(data=st.data())
async def test_schema_generated_documents(http: dict[str, httpx.AsyncClient], data: Any) -> None:
    """Queries and mutations hypothesis-graphql builds from the schema, valid or not."""
    document = data.draw(GENERATED_DOCUMENTS, label="document")
    caller = data.draw(CALLERS, label="caller")
    response = await post_graphql(http[caller], {"query": document})
    check(response, (caller, document), graphql_answer=True)


@fuzz(ci_examples=200)
@given(data=st.data())
async def test_documents_with_generated_variables(
    http: dict[str, httpx.AsyncClient], world: World, data: Any
) -> None:
    """Each root field with its arguments as variables of generated values, by POST and GET."""
    _, document, variables = data.draw(operations_with_variables(world), label="operation")
    caller = data.draw(CALLERS, label="caller")
    if data.draw(st.booleans(), label="GET"):
        params = {"query": url_safe(document), "variables": json.dumps(variables)}
        response = await send(http[caller], "GET", "/graphql", params=params)
    else:
        ascii_only = data.draw(st.booleans(), label="ascii")
        body = {"query": document, "variables": variables, "operationName": "Fuzz"}
        response = await post_graphql(http[caller], body, ascii_only=ascii_only)
    check(response, (caller, document, variables), graphql_answer=True)


@fuzz(ci_examples=150)
@given(data=st.data())
async def test_garbage_documents(http: dict[str, httpx.AsyncClient], data: Any) -> None:
    """Random text, token soup, deep nesting, huge numbers, NUL and mutated documents."""
    document = data.draw(GARBAGE_DOCUMENTS, label="document")
    caller = data.draw(CALLERS, label="caller")
    # httpx refuses query strings beyond 64 KiB: longer documents go by POST.
    if data.draw(st.booleans(), label="GET") and len(document) < 8000:
        params = {"query": url_safe(document)}
        response = await send(http[caller], "GET", "/graphql", params=params)
    else:
        response = await post_graphql(http[caller], {"query": document})
    check(response, (caller, document), graphql_answer=True)


CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=latin-1",
        "application/graphql",
        "application/graphql+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "multipart/mixed; boundary=x",
        "\x00/\x00",
        "application/json; boundary=",
    ]
)
GRAPHQL_MEMBERS = st.fixed_dictionaries(
    {},
    optional={
        "query": GARBAGE_DOCUMENTS | json_values(),
        "variables": json_values(),
        "operationName": json_values(),
        "extensions": json_values(),
    },
)


@fuzz(ci_examples=150)
@given(data=st.data())
async def test_raw_graphql_bodies(http: dict[str, httpx.AsyncClient], data: Any) -> None:
    """Bodies of any shape, bytes or content type; batches; query strings of any members."""
    caller = data.draw(CALLERS, label="caller")
    shape = data.draw(st.sampled_from(["members", "json", "bytes", "batch", "get"]), label="shape")
    if shape == "get":
        params = data.draw(
            st.dictionaries(
                st.sampled_from(["query", "variables", "operationName", "extensions", "x"]),
                URL_TEXT,
                max_size=4,
            )
        )
        response = await send(http[caller], "GET", "/graphql", params=params)
        check(response, (caller, params))
        return
    body: bytes
    if shape == "members":
        body = encode(data.draw(GRAPHQL_MEMBERS, label="body"), ascii_only=data.draw(st.booleans()))
    elif shape == "json":
        body = encode(data.draw(json_values(), label="body"), ascii_only=True)
    elif shape == "batch":
        body = encode(data.draw(st.lists(GRAPHQL_MEMBERS, max_size=5)), ascii_only=True)
    else:
        body = data.draw(st.binary(max_size=300), label="body")
    content_type = data.draw(CONTENT_TYPES, label="content-type")
    headers = {"content-type": content_type} if content_type is not None else {}
    response = await send(http[caller], "POST", "/graphql", content=body, headers=headers)
    check(response, (caller, content_type, body[:300]))


# --- the REST routes --------------------------------------------------------------------------

REST_FIELDS = [
    # seat links
    "license_key",
    "billable_users_count",
    "active_users",
    "max_historical_user_count",
    "timestamp",
    "date",
    "instance_id",
    "hostname",
    "gitlab_version",
    "add_on_metrics",
    "add_on_type",
    "assigned_seats",
    "purchased_seats",
    # trials
    "trial",
    "trial_user",
    "namespace_id",
    "trial_type",
    "add_on_name",
    "namespace",
    "kind",
    "path",
    "name",
    "plan",
    "email",
    "company",
]


def rest_values(world: World) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        JSON_SCALARS,
        st.sampled_from(world.strings),
        st.sampled_from(world.gitlab_ids),
        st.sampled_from(["group", "user", "USER", "free", "ultimate", "gitlab_duo_enterprise"]),
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(REST_FIELDS) | ANY_TEXT, inner, max_size=6)
        ),
        max_leaves=16,
    )


def rest_bodies(world: World) -> st.SearchStrategy[Any]:
    """Objects with the REST fields (nested as GitLab nests them), or any JSON at all."""
    fields = st.dictionaries(st.sampled_from(REST_FIELDS), rest_values(world), max_size=10)
    return st.one_of(
        fields,
        fields.map(lambda form: {"trial_user": form}),
        fields.map(lambda form: {"trial": form}),
        json_values(),
    )


def rest_routes(app: Starlette) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.path != "/graphql":
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    found.append((method, route.path))
    return found


@fuzz(ci_examples=200)
@given(data=st.data())
async def test_rest_routes(
    http: dict[str, httpx.AsyncClient], gitlab_com_app: Starlette, world: World, data: Any
) -> None:
    """Every REST route: generated JSON and form bodies, raw bytes, content types, query
    strings, path parameters and admin-pair headers, from every kind of caller."""
    method, path = data.draw(st.sampled_from(rest_routes(gitlab_com_app)), label="route")
    caller = data.draw(CALLERS, label="caller")
    if "{license_id}" in path:
        license_id = data.draw(st.sampled_from(world.ids) | URL_TEXT)
        path = path.replace("{license_id}", quote(license_id, safe="") or "x")
    headers: dict[str, str] = {}
    if data.draw(st.integers(0, 4), label="admin pair?") == 0:
        headers["X-Admin-Email"] = data.draw(st.sampled_from([ADMIN["X-Admin-Email"], "", "a\x7f"]))
        headers["X-Admin-Token"] = data.draw(st.sampled_from([ADMIN["X-Admin-Token"], "x" * 300]))
    params = data.draw(
        st.dictionaries(
            st.sampled_from(["namespace_ids[]", "namespace_ids", "x"]),
            st.lists(
                st.sampled_from(world.gitlab_ids).map(str) | INTEGERS.map(str) | URL_TEXT,
                max_size=4,
            ),
            max_size=2,
        ),
        label="params",
    )
    kwargs: dict[str, Any] = {"params": params}
    if method == "POST":
        shape = data.draw(st.sampled_from(["json", "json", "form", "bytes"]), label="shape")
        if shape == "json":
            kwargs["content"] = encode(
                data.draw(rest_bodies(world), label="body"), ascii_only=data.draw(st.booleans())
            )
            content_type = data.draw(st.just("application/json") | CONTENT_TYPES, label="ct")
        elif shape == "form":
            kwargs["data"] = data.draw(
                st.dictionaries(st.sampled_from(REST_FIELDS) | ANY_TEXT, URL_TEXT, max_size=6),
                label="form",
            )
            content_type = None
        else:
            kwargs["content"] = data.draw(st.binary(max_size=300), label="body")
            content_type = data.draw(CONTENT_TYPES, label="ct")
        if content_type is not None:
            headers["content-type"] = content_type
    response = await send(http[caller], method, path, headers=headers, **kwargs)
    check(response, (caller, method, path, headers, kwargs))


# --- OAuth --------------------------------------------------------------------------------------

OAUTH_FIELDS = [
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "code_verifier",
    "redirect_uri",
    "refresh_token",
    "scope",
    "token",
    "token_type_hint",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "email",
    "password",
]


def oauth_values(world: World) -> st.SearchStrategy[str]:
    plausible = st.sampled_from(
        [
            world.client_id,
            world.client_secret,
            world.public_client_id,
            world.email,
            oauth_flow.PASSWORD,
            oauth_flow.REDIRECT_URI,
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "code",
            "S256",
            "plain",
            "customers:read subscriptions:read",
            "access_token",
            "a" * 43,
        ]
    )
    return st.one_of(plausible, plausible, URL_TEXT)


@st.composite
def basic_auth(draw: st.DrawFn, world: World) -> str:
    user = draw(st.sampled_from([world.client_id, world.public_client_id]) | ANY_TEXT)
    secret = draw(st.sampled_from([world.client_secret, ""]) | ANY_TEXT)
    raw = f"{user}:{secret}".encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        return "Basic " + base64.b64encode(raw).decode()
    return "Basic " + draw(st.text(alphabet=string.printable, max_size=30))


@fuzz(ci_examples=150)
@given(data=st.data())
async def test_oauth_endpoints(http: dict[str, httpx.AsyncClient], world: World, data: Any) -> None:
    """/oauth/token, /oauth/revoke and /oauth/authorize: generated forms, query strings, Basic
    credentials, raw bodies and content types."""
    method, path = data.draw(
        st.sampled_from(
            [
                ("POST", "/oauth/token"),
                ("POST", "/oauth/revoke"),
                ("GET", "/oauth/authorize"),
                ("POST", "/oauth/authorize"),
            ]
        ),
        label="route",
    )
    caller = data.draw(st.sampled_from(["anonymous", "staff", "bad_token"]), label="caller")
    fields = data.draw(
        st.dictionaries(st.sampled_from(OAUTH_FIELDS) | ANY_TEXT, oauth_values(world), max_size=9),
        label="fields",
    )
    headers: dict[str, str] = {}
    if data.draw(st.booleans(), label="basic?"):
        headers["Authorization"] = data.draw(basic_auth(world), label="basic")
    kwargs: dict[str, Any] = {}
    if method == "GET":
        kwargs["params"] = fields
    else:
        shape = data.draw(st.sampled_from(["form", "form", "json", "bytes"]), label="shape")
        if shape == "form":
            kwargs["data"] = fields
        elif shape == "json":
            kwargs["content"] = encode(fields, ascii_only=False)
            headers["content-type"] = "application/json"
        else:
            kwargs["content"] = data.draw(st.binary(max_size=300), label="bytes")
            content_type = data.draw(CONTENT_TYPES, label="ct")
            if content_type is not None:
                headers["content-type"] = content_type
    try:
        response = await send(http[caller], method, path, headers=headers, **kwargs)
    except UnicodeEncodeError:
        return  # httpx cannot send such a header: no request was made
    check(response, (caller, method, path, headers, kwargs))
