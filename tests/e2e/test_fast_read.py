"""The fast read path (api/graphql/fast_read.py) answers exactly as the usual path does.

Every query document of the suite's corpus (the string literals of tests/e2e that parse as a
GraphQL query, the portal's operations and the benchmark's queries) runs through an app with
the fast path and one without it, on the same data, for staff, a portal user, a partner and
an anonymous caller: the status and the whole body (data, errors, null propagation,
``extensions.cost``) must be equal. Documents the fast path does not compile go the usual
way in both apps, so they agree trivially; the test also checks that the fast path served
the shapes it is meant to serve (a broken compiler would otherwise pass by falling back).
"""

from __future__ import annotations

import ast
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
)
from starlette.applications import Starlette

from api.app import create_app
from api.graphql.fast_read import ENTITIES, Args, EnumColumn, FastReads, Scope, _status
from api.ids import global_id
from api.portal.documents import OPERATIONS
from api.settings import Settings
from domain.model.customer import Membership
from domain.model.enums import AddOnKind, Channel, Deployment, Role, SubscriptionStatus
from domain.model.namespace import NamespaceUsage
from domain.model.provision_event import ProvisionStatus
from domain.model.provisioning import NAMESPACE_PROVISION
from domain.model.subscription import AddOn
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from clocks import SESSION_CLOCK
from ledger_rows import record, row

E2E = Path(__file__).parent
BENCH = E2E.parent.parent / "bench"

# The benchmark's shapes, and a few the corpus may lack (aliases, cursors, page info).
EXTRA = [
    "{ subscriptions(first: 50) { edges { node { id plan seats"
    " licenses { edges { node { id expiresAt } } } } } } }",
    """query Page($first: Int, $after: String) {
         page: subscriptions(first: $first, after: $after) {
           __typename pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename }
           edges { __typename cursor node { __typename id name plan deployment channel partnerId
             status cancelAtPeriodEnd autoRenew licensingMode maxInstances
             reconciliationEnabled startDate endDate seats
             first: licenses(first: 1) { pageInfo { hasNextPage endCursor }
               edges { cursor node { id mode plan seats startsAt expiresAt trial cancelled } } }
             rest: licenses(first: 0) { pageInfo { hasNextPage startCursor }
               edges { node { id } } } } } } }""",
    "{ a: subscriptions(first: 2) { edges { node { id } } }"
    " b: subscriptions(first: 100) { pageInfo { hasNextPage } } }",
    "{ subscriptions(first: 101) { edges { node { id } } } }",
    '{ subscriptions(after: "nonsense") { edges { node { id } } } }',
    "{ subscriptions { edges { node { licenses(first: -1) { edges { node { id } } } } } } }",
    "query($f: Int) { subscriptions(first: $f) { edges { node { id } } } }",
    # A partner's (or staff's) list of customers with their subscriptions.
    """query Customers($first: Int = 5) { customers(first: $first) { totalCount
         pageInfo { hasNextPage endCursor } edges { cursor node { id company contactName
           contactEmail subscriptions(first: 2) { totalCount pageInfo { hasNextPage }
             edges { node { id name status seats customer { id company } } } } } } } }""",
    """query Filtered($status: SubscriptionStatus, $deployment: Deployment, $plan: Plan,
         $customerId: ID) {
         subscriptions(status: $status, deployment: $deployment, plan: $plan,
           customerId: $customerId) { totalCount edges { node { id status plan } } } }""",
    "{ subscriptions(status: EXPIRED) { totalCount edges { node { id status } } } }",
    '{ subscriptions(customerId: "sub_0") { edges { node { id } } } }',
]
VARIABLE_SETS: list[dict[str, Any]] = [
    {},
    {"first": 2},
    {"f": "two"},
    {"first": 3, "after": None},
    {"status": "ACTIVE", "plan": "PREMIUM", "deployment": "SELF_MANAGED"},
    {"status": "CANCELLED", "customerId": "cus_00000000000000000000000000000000"},
    {"status": "PENDING", "customerId": "nonsense"},
]


def _is_query(text: str) -> bool:
    try:
        document = parse(text)
    except GraphQLError:
        return False
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation is OperationType.QUERY
        for d in document.definitions
    )


def corpus() -> list[str]:
    """Every query document the suite sends, as literal text (f-strings are left out)."""
    found: dict[str, None] = {}
    for path in sorted(E2E.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                if text[:1] in ("{", "q") and _is_query(text):
                    found[text] = None
    for path in sorted(OPERATIONS.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        if _is_query(text):
            found[text] = None
    for text in EXTRA:
        found[text] = None
    return list(found)


CORPUS = corpus()


@pytest.fixture(scope="module")
async def usual_app(database_url: str) -> AsyncIterator[Starlette]:
    """The same app without the fast path (its signing keys are the database's, shared)."""
    application = create_app(
        Settings(database_url=database_url, pool_max=3, gc_interval=0, fast_reads=False),
        clock=SESSION_CLOCK,
    )
    async with application.router.lifespan_context(application):
        yield application


async def _alice_sandbox_ahead(
    clean_db: Database, apps: tuple[Starlette, ...], ahead: timedelta
) -> uuid.UUID:
    """Make usr_alice's customer a sandbox whose clock is ``ahead`` in every app; its id."""
    alpha: uuid.UUID = await clean_db.fetchval(
        "SELECT customer FROM membership WHERE user_subject = $1", "usr_alice"
    )
    for application in apps:
        clocks = application.state.sandbox.clocks
        assert await clocks.mark(alpha, True)
        assert await clocks.move(alpha, ahead)
    return alpha


async def _seed(db: Database) -> None:
    alpha, beta = f.customer("Alpha"), f.customer("Beta")
    subs = [
        f.subscription(alpha, seats=(5, 8)),
        f.subscription(alpha, start=f.TODAY + timedelta(days=3)),  # pending
        f.subscription(alpha, start=f.TODAY - timedelta(days=800), seats=(3, 4)),  # expired
        f.subscription(alpha, cancelled=True),
        f.subscription(beta, seats=(7, 9, 11)),
        f.subscription(beta, start=f.TODAY - timedelta(days=400), seats=(2, 6)),  # 2nd segment
    ]
    licenses = [f.license_for(s, seats=4 + i, key=f"k{i}") for i, s in enumerate(subs[:5])]
    licenses += [f.license_for(subs[0], key=f"more{i}") for i in range(3)]
    await f.store(db, alpha, beta, *subs, *licenses)
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(alpha.id, "usr_alice", Role.OWNER))
        await uow.commit()


def _callers(app: Starlette) -> dict[str, dict[str, str]]:
    return {
        "staff": bearer(token_for(app)),
        "portal user": bearer(
            token_for(app, PrincipalKind.PORTAL_USER, subject="usr_alice", email="a@x.test")
        ),
        "partner": bearer(token_for(app, PrincipalKind.PARTNER, partner="partner-a")),
        "anonymous": {},
    }


async def _post(app: Starlette, body: dict[str, Any], headers: dict[str, str]) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        response = await http.post("/graphql", json=body, headers=headers)
    return response.status_code, response.headers["content-type"], response.json()


def _fast(app: Starlette) -> FastReads:
    fast = app.state.fast_reads
    assert isinstance(fast, FastReads)
    return fast


async def test_every_query_of_the_suite_answers_alike_on_both_paths(
    app: Starlette, usual_app: Starlette, clean_db: Database
) -> None:
    await _seed(clean_db)
    callers = _callers(app)
    fast = _fast(app)
    served_before = fast.served
    served: set[str] = set()
    for query in CORPUS:
        for variables in VARIABLE_SETS:
            for caller, headers in callers.items():
                body = {"query": query, "variables": variables}
                before = fast.served
                ours = await _post(app, body, headers)
                theirs = await _post(usual_app, body, headers)
                assert ours == theirs, (caller, query, variables)
                if fast.served > before:
                    served.add(query)
                    assert caller != "anonymous"
    assert usual_app.state.fast_reads is None
    # The shapes it is built for took the fast path (a broken compiler falls back silently).
    assert {*EXTRA[:3], *EXTRA[7:10]} <= served
    subscriptions_page = (OPERATIONS / "Subscriptions.graphql").read_text(encoding="utf-8")
    assert subscriptions_page in served  # the portal's list page
    assert len(served) >= 5, sorted(served)
    assert fast.served - served_before >= 3 * len(served)


async def test_the_graphql_response_media_type_holds_on_the_fast_path(
    app: Starlette, usual_app: Starlette, clean_db: Database
) -> None:
    await _seed(clean_db)
    headers = {**_callers(app)["staff"], "accept": "application/graphql-response+json"}
    body = {"query": EXTRA[0]}
    before = _fast(app).served
    ours = await _post(app, body, headers)
    assert _fast(app).served == before + 1
    assert ours == await _post(usual_app, body, headers)
    assert ours[1].startswith("application/graphql-response+json")


SANDBOX_OFFSETS = "SELECT id, clock_offset FROM customer"


async def test_one_statement_whatever_the_page_size_and_nesting(
    app: Starlette, clean_db: Database
) -> None:
    await _seed(clean_db)
    db: Database = app.state.db
    seen: list[str] = []
    headers = _callers(app)["portal user"]
    counts = []
    for query in (
        "{ subscriptions(first: 1) { edges { node { id } } } }",
        EXTRA[0],
        EXTRA[1],
        EXTRA[2],
    ):
        db.observer = seen.append
        try:
            status, _, answer = await _post(app, {"query": query}, headers)
        finally:
            db.observer = None
        assert status == 200
        assert "errors" not in answer, answer
        # The sandbox clocks' offsets are read at most once a second for all requests
        # (persistence/sandbox_clocks.py): a refresh that falls in one of these requests (on
        # a slow machine more than a second passes between them) is not the page's.
        counts.append(len([sql for sql in seen if not sql.startswith(SANDBOX_OFFSETS)]))
        seen.clear()
    assert counts == [1, 1, 1, 1]


async def test_the_cost_limit_holds_on_the_fast_path(database_url: str, clean_db: Database) -> None:
    await _seed(clean_db)
    settings = Settings(database_url=database_url, pool_max=2, gc_interval=0, max_query_cost=100)
    for fast_reads in (True, False):
        application = create_app(
            dataclasses.replace(settings, fast_reads=fast_reads), clock=SESSION_CLOCK
        )
        async with application.router.lifespan_context(application):
            status, _, answer = await _post(
                application, {"query": EXTRA[0]}, bearer(token_for(application))
            )
        assert status == 200
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["QUERY_TOO_COMPLEX"]
        assert answer["data"] is None


# Shapes main's lists took since the fast path began: sorting, backward pages, cursors that
# carry their order. Each must answer exactly as the usual path does (today by going the usual
# way: the compiler knows only `first`/`after` and the subscriptions filters).
_PAGE = "pageInfo { hasPreviousPage hasNextPage startCursor endCursor } edges { cursor node { id"
SORTED_AND_BACKWARD = [
    "{ subscriptions(last: 2) { " + _PAGE + " startDate } } } }",
    "{ subscriptions(first: 2, sort: {field: START_DATE, direction: DESC}) { "
    + _PAGE
    + " startDate } } } }",
    "{ subscriptions(sort: {field: END_DATE}) { totalCount " + _PAGE + " endDate } } } }",
    "{ customers(last: 1) { " + _PAGE + " company } } } }",
    "{ customers(sort: {field: COMPANY, direction: DESC}) { " + _PAGE + " company } } } }",
    "{ customers { edges { node { id subscriptions(last: 1) { " + _PAGE + " } } } } } }",
    "{ subscriptions { edges { node { id licenses(sort: {field: EXPIRES_AT, direction: DESC})"
    " { " + _PAGE + " expiresAt } } } } } } }",
    "query($last: Int, $before: String) { subscriptions(last: $last, before: $before) { "
    + _PAGE
    + " } } } }",
    "query($s: SubscriptionSort) { subscriptions(first: 3, sort: $s) { " + _PAGE + " } } } }",
]
_CURSORED = (
    "query($after: String) { subscriptions(first: 2, after: $after) { " + _PAGE + " } } }"
    " customers { edges { node { subscriptions(after: $after) { " + _PAGE + " } } } } } } }"
)


async def _both(
    app: Starlette, usual_app: Starlette, body: dict[str, Any], headers: dict[str, str]
) -> tuple[Any, bool]:
    """The fast app's answer (equal to the usual app's) and whether the fast path served it."""
    fast = _fast(app)
    before = fast.served
    ours = await _post(app, body, headers)
    theirs = await _post(usual_app, body, headers)
    assert ours == theirs, (body, headers)
    return ours, fast.served > before


async def test_sorted_and_backward_pages_answer_alike_and_go_the_usual_way(
    app: Starlette, usual_app: Starlette, clean_db: Database
) -> None:
    await _seed(clean_db)
    callers = _callers(app)
    staff = callers["staff"]
    # Real cursors of the default order and of a sorted one.
    _, _, first_page = await _post(
        usual_app, {"query": "{ subscriptions(first: 2) { " + _PAGE + " } } } }"}, staff
    )
    default_cursor = first_page["data"]["subscriptions"]["pageInfo"]["endCursor"]
    _, _, sorted_page = await _post(usual_app, {"query": SORTED_AND_BACKWARD[1]}, staff)
    sorted_cursor = sorted_page["data"]["subscriptions"]["pageInfo"]["endCursor"]
    assert sorted_cursor != default_cursor
    assert len(sorted_cursor) > 39
    variable_sets: list[dict[str, Any]] = [
        {},
        {"last": 2, "before": default_cursor},
        {"last": None, "before": None},
        {"s": None},
        {"s": {"field": "START_DATE", "direction": "DESC"}},
        {"s": {"field": "CREATED_AT"}},
    ]
    for query in SORTED_AND_BACKWARD:
        for variables in variable_sets:
            for headers in callers.values():
                answer, served = await _both(
                    app, usual_app, {"query": query, "variables": variables}, headers
                )
                assert not served, (query, variables)
    # A cursor of the default order pages on the fast path with exact page info both ways
    # (hasPreviousPage says whether an item comes before the cursor, as the usual path's
    # probe does); another order's cursor goes the usual way, which refuses it.
    zero = "cursor_" + "0" * 32
    for after, fast_expected in ((None, True), (default_cursor, True), (zero, True)):
        for caller, headers in callers.items():
            answer, served = await _both(
                app, usual_app, {"query": _CURSORED, "variables": {"after": after}}, headers
            )
            assert served is (fast_expected and caller != "anonymous"), (caller, after)
    answer, served = await _both(
        app, usual_app, {"query": _CURSORED, "variables": {"after": sorted_cursor}}, staff
    )
    assert not served
    assert answer[2]["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    answer, _ = await _both(
        app, usual_app, {"query": _CURSORED, "variables": {"after": zero}}, staff
    )
    assert answer[2]["data"]["subscriptions"]["pageInfo"]["hasPreviousPage"] is False
    answer, _ = await _both(
        app, usual_app, {"query": _CURSORED, "variables": {"after": default_cursor}}, staff
    )
    assert answer[2]["data"]["subscriptions"]["pageInfo"]["hasPreviousPage"] is True


async def test_a_sandbox_tenant_reads_on_its_own_clock_on_the_fast_path(
    app: Starlette, usual_app: Starlette, clean_db: Database
) -> None:
    """A sandbox's portal user sees status and seats at the sandbox's `today`; staff see
    real time unless they name the sandbox (docs/test-clock.md), on both paths alike."""
    await _seed(clean_db)
    alpha = await _alice_sandbox_ahead(clean_db, (app, usual_app), timedelta(days=900))
    query = (
        "{ subscriptions(first: 20) { edges { node { id status seats startDate endDate"
        " customer { id } } } } }"
    )
    callers = _callers(app)
    named = {**callers["staff"], "X-Provision-Sandbox": global_id("Customer", alpha)}
    statuses = {}
    for caller, headers in (
        ("portal user", callers["portal user"]),
        ("staff", callers["staff"]),
        ("staff naming the sandbox", named),
    ):
        answer, served = await _both(app, usual_app, {"query": query}, headers)
        assert served, caller
        statuses[caller] = sorted(
            e["node"]["status"]
            for e in answer[2]["data"]["subscriptions"]["edges"]
            if e["node"]["customer"]["id"] == global_id("Customer", alpha)
        )
    # 900 days on, every one of Alpha's subscriptions has ended (or was cancelled).
    assert set(statuses["portal user"]) <= {"EXPIRED", "CANCELLED"}, statuses
    assert statuses["staff naming the sandbox"] == statuses["portal user"]
    assert {"ACTIVE", "PENDING"} <= set(statuses["staff"]), statuses


async def test_every_enum_field_renders_the_names_the_usual_path_writes(
    app: Starlette, clean_db: Database
) -> None:
    """Each enum-typed field the fast path knows writes, for every stored domain member, the
    GraphQL member the usual path writes (``api_enum``: the same name), and that name is one
    of the schema's; a new enum field must say how it maps (``EnumColumn``) to stay here."""
    schema = _fast(app)._schema
    checked = 0
    for type_name, entity in ENTITIES.items():
        object_type = schema.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        for name, expression in entity.fields.items():
            graphql_type = get_named_type(object_type.fields[name].type)
            if not isinstance(graphql_type, GraphQLEnumType):
                assert not isinstance(expression, EnumColumn), (type_name, name)
                continue
            if expression is _status:
                domain: type[Enum] = SubscriptionStatus
                assert set(graphql_type.values) == {m.name for m in SubscriptionStatus}
                continue
            assert isinstance(expression, EnumColumn), (type_name, name)
            domain = expression.domain
            for member in domain:
                sql = expression(Scope("_r", lambda: "NULL", Args()))
                rendered = await clean_db.fetchval(
                    f"SELECT {sql} FROM (SELECT $1::text AS {expression.column}) _r",
                    member.value,
                )
                assert rendered == member.name, (type_name, name, member)
                assert rendered in graphql_type.values, (type_name, name, member)
                checked += 1
    assert checked >= 10


# --- the portal's subscription page (root `subscription(id:)`, api/graphql/fast_page.py) ----

SUBSCRIPTION_PAGE = (OPERATIONS / "Subscription.graphql").read_text(encoding="utf-8")
# Shapes around it: aliases and __typename go fast; by name, a namespace's trials (a loader
# the fast path does not know) and an unknown argument go the usual way.
PAGE_SHAPES = [
    SUBSCRIPTION_PAGE,
    """query($id: ID!) { sub: subscription(id: $id) { __typename id status seats
         terms { __typename startDate segments { seats endDate } }
         addOns { name kind } who: viewerPermissions { allowed action code reason }
         usage { overage nextReconciliationDate seatsInUse reportedAt __typename }
         partner { name } namespace { plan gitlabId provisioningSteps { state description } }
         instances(first: 1) { pageInfo { hasNextPage } edges { node { id activatedAt } } }
         licenses { totalCount edges { node { createdAt } } } }
       again: subscription(id: $id) { name customer { company } } }""",
    "query($id: ID!) { subscription(id: $id) { namespace { trials { id } } } }",
    'query($id: ID!) { subscription(id: $id) { id } byName: subscription(name: "A-S1") { id } }',
    "query($id: ID, $name: String) { subscription(id: $id, name: $name) { id usage { overage } } }",
]


async def _seed_page(db: Database) -> list[str]:
    """Subscriptions with everything the page shows, a partner's and a GitLab.com one with a
    namespace on trial (usage, provisioning steps), and the ids to ask for."""
    await _seed(db)
    alpha = await db.fetchval("SELECT customer FROM membership WHERE user_subject = 'usr_alice'")
    owner = dataclasses.replace(f.customer("Alpha"), id=alpha)
    beta = f.customer("Beta")
    usage = NamespaceUsage(12, 15, 300, 10**9 + 5, f.NOW - timedelta(microseconds=123400))
    ns = dataclasses.replace(f.namespace(4242), usage=usage)
    bare_ns = f.namespace(4343)
    com = f.subscription(owner, deployment=Deployment.GITLAB_COM, namespace_id=ns.id)
    com_bare = f.subscription(beta, deployment=Deployment.GITLAB_COM, namespace_id=bare_ns.id)
    sold = dataclasses.replace(
        f.subscription(owner, seats=(5, 9), start=f.TODAY - timedelta(days=300)),
        channel=Channel.RESELLER,
        partner_id="partner-a",
        reconciliation_enabled=True,
        add_ons=(
            AddOn(AddOnKind.DUO_PRO, 5, f.TODAY - timedelta(days=10), f.TODAY + timedelta(days=90)),
            AddOn(AddOnKind.COMPUTE_MINUTES, 1000, f.TODAY, f.TODAY + timedelta(days=30)),
        ),
    )
    nameless = dataclasses.replace(
        f.subscription(beta), channel=Channel.RESELLER, partner_id="partner-z"
    )
    synced = dataclasses.replace(
        f.instance_for(sold), last_synced_at=f.NOW - timedelta(microseconds=5)
    )
    await f.store(
        db,
        beta,
        ns,
        bare_ns,
        com,
        com_bare,
        sold,
        nameless,
        f.instance_for(sold),
        synced,
        f.license_for(sold, key="s1"),
        f.license_for(sold, key="s2"),
        f.trial_on(ns),
        f.usage_for(sold, billable=7, maximum=12, days_ago=1),
        f.usage_for(sold, billable=8, maximum=11),
    )
    await db.fetch("UPDATE partner SET name = 'Partner A' WHERE id = 'partner-a'")
    await db.fetch("DELETE FROM partner WHERE id = 'partner-z'")  # a partner not on file
    steps = [
        row(NAMESPACE_PROVISION, namespace_id=ns.id, provision={"base_product": {"seats": 9}}),
        row(NAMESPACE_PROVISION, ProvisionStatus.SUCCEEDED, namespace_id=ns.id,
            age=timedelta(hours=1), provision={"compute_minutes": {
                "extra_shared_runners_minutes_limit": 500}}),
        row("TEST_STEP", namespace_id=ns.id),
    ]  # fmt: skip
    await record(db, *steps)
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(beta.id, "usr_bob", Role.VIEWER))
        await uow.commit()
    ids = [global_id("Subscription", s.id) for s in (com, com_bare, sold, nameless)]
    return [*ids, global_id("Subscription", uuid.uuid4()), global_id("Customer", alpha), "x"]


def _page_callers(app: Starlette) -> dict[str, dict[str, str]]:
    callers = _callers(app)
    callers["portal user of another customer"] = bearer(
        token_for(app, PrincipalKind.PORTAL_USER, subject="usr_bob", email="b@x.test")
    )
    callers["another partner"] = bearer(token_for(app, PrincipalKind.PARTNER, partner="partner-q"))
    return callers


async def test_the_subscription_page_answers_alike_on_both_paths_in_one_statement(
    app: Starlette, usual_app: Starlette, clean_db: Database
) -> None:
    """The portal's Subscription document (and shapes around it) for staff, the customer's
    portal user, another customer's (null, as not found), the selling partner, another
    partner and an anonymous caller; present, missing, malformed and wrong-type ids: the same
    status and body both ways, and the fast path served what it was built for, in one
    statement."""
    ids = await _seed_page(clean_db)
    callers = _page_callers(app)
    served: set[tuple[int, str, str]] = set()
    for number, query in enumerate(PAGE_SHAPES):
        for subscription_id in ids:
            for caller, headers in callers.items():
                variables = {"id": subscription_id}
                body = {"query": query, "variables": variables}
                _, fast = await _both(app, usual_app, body, headers)
                if fast:
                    served.add((number, caller, subscription_id))
                    assert caller != "anonymous"
    real = ids[:4]
    for caller in ("staff", "portal user", "partner", "portal user of another customer"):
        assert {(0, caller, i) for i in real} <= served, caller
        assert {(1, caller, i) for i in real} <= served, caller
    assert not [s for s in served if s[0] >= 2]
    # What the page shows (so that the comparison is not between two empty answers).
    status, _, page = await _post(
        app, {"query": SUBSCRIPTION_PAGE, "variables": {"id": ids[2]}}, callers["portal user"]
    )
    sold = page["data"]["subscription"]
    assert [len(t["segments"]) for t in sold["terms"]] == [2]
    assert [a["name"] for a in sold["addOns"]] == ["duo_pro", "compute_minutes"]
    assert sold["usage"]["seatsInUse"] == 8
    assert sold["usage"]["nextReconciliationDate"] is not None
    assert sold["partner"] == {"id": "partner-a", "name": "Partner A", "kind": "RESELLER"}
    assert any(p["code"] == "MANAGED_BY_PARTNER" for p in sold["viewerPermissions"])
    assert len(sold["instances"]["edges"]) == 2
    assert len(sold["licenses"]["edges"]) == 2
    _, _, page = await _post(
        app, {"query": SUBSCRIPTION_PAGE, "variables": {"id": ids[0]}}, callers["portal user"]
    )
    namespace = page["data"]["subscription"]["namespace"]
    assert namespace["plan"] != namespace["basePlan"]  # on trial
    assert [s["state"] for s in namespace["provisioningSteps"]] == ["WAITING", "DONE"]
    assert page["data"]["subscription"]["usage"]["seatsInUse"] == 12
    _, _, page = await _post(
        app, {"query": SUBSCRIPTION_PAGE, "variables": {"id": ids[2]}},
        callers["portal user of another customer"],
    )  # fmt: skip
    assert page["data"]["subscription"] is None
    # One statement, as for the lists.
    db: Database = app.state.db
    seen: list[str] = []
    db.observer = seen.append
    try:
        status, _, _ = await _post(
            app, {"query": SUBSCRIPTION_PAGE, "variables": {"id": ids[2]}}, callers["portal user"]
        )
    finally:
        db.observer = None
    assert status == 200
    assert len(seen) == 1


async def test_the_subscription_page_reads_a_sandbox_on_its_own_clock(
    app: Starlette, usual_app: Starlette, clean_db: Database
) -> None:
    """Status, seats, usage's overage and next reconciliation, the trial's plan: at the
    sandbox's `today` for its portal user (and staff naming it), on both paths alike."""
    ids = await _seed_page(clean_db)
    alpha = await _alice_sandbox_ahead(clean_db, (app, usual_app), timedelta(days=200))
    callers = _page_callers(app)
    named = {**callers["staff"], "X-Provision-Sandbox": global_id("Customer", alpha)}
    answers = {}
    for caller, headers in (
        ("portal user", callers["portal user"]),
        ("staff", callers["staff"]),
        ("staff naming the sandbox", named),
    ):
        for subscription_id in (ids[0], ids[2]):
            body = {"query": SUBSCRIPTION_PAGE, "variables": {"id": subscription_id}}
            answer, served = await _both(app, usual_app, body, headers)
            assert served, caller
            answers[caller, subscription_id] = answer[2]["data"]["subscription"]

    def dated(page: dict[str, Any]) -> tuple[Any, ...]:
        namespace = page["namespace"]
        return (page["status"], page["seats"], page["usage"], namespace and namespace["plan"])

    for subscription_id in (ids[0], ids[2]):
        assert dated(answers["portal user", subscription_id]) == dated(
            answers["staff naming the sandbox", subscription_id]
        )
    # 200 days on, the trial has ended and the ramp's second segment has begun.
    moved, real = answers["portal user", ids[0]], answers["staff", ids[0]]
    assert moved["namespace"]["plan"] != real["namespace"]["plan"]
    assert answers["portal user", ids[2]]["seats"] != answers["staff", ids[2]]["seats"]
