"""The app the benchmark's uvicorn workers serve: Provision's own app plus a ``GET /floor`` route.

``/floor`` returns the data of the benchmark's GraphQL query (the first 50 subscriptions by id,
their plan, the seats of the current segment, and their licenses' id and expiry) as JSON built
by PostgreSQL in one statement and handed to the client as bytes: the cost of HTTP, one pool
checkout and one round trip, with no GraphQL and no Python-side JSON. GraphQL's throughput is
read as a fraction of it.
"""

from __future__ import annotations

import dataclasses
import os

from seed import PARTNER, PORTAL_USER
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from api.settings import Settings
from domain.model.enums import SubscriptionStatus
from persistence.derived import current_seats, status_condition

DSN_VARIABLE = "PROVISION_BENCH_DSN"
PAGE_SIZE = 50
LICENSES_PER_PAGE = 20  # the default `first` of Subscription.licenses

# The seats are Subscription.seats(today) in SQL (persistence.derived, held to the domain's
# rule by tests/integration/test_rule_contract.py); today ($1) is the app's Clock's, as the
# GraphQL side reads it, not the database's CURRENT_DATE.
_FLOOR_SQL = f"""
SELECT convert_to(coalesce(json_agg(json_build_object(
           'id', s.id, 'plan', s.plan, 'seats', {current_seats("s", "$1")},
           'licenses', l.licenses
       ) ORDER BY s.id), '[]')::text, 'UTF8')
FROM (SELECT id, plan FROM subscription {{where}} ORDER BY id LIMIT {PAGE_SIZE}) s
LEFT JOIN LATERAL (
    SELECT coalesce(json_agg(json_build_object('id', k.id, 'expiresAt', k.expires_at)
                             ORDER BY k.id), '[]') AS licenses
    FROM (SELECT id, expires_at FROM license WHERE subscription = s.id
          ORDER BY id LIMIT {LICENSES_PER_PAGE}) k
) l ON TRUE
"""
FLOOR_SQL = _FLOOR_SQL.format(where="")
# The portal user's page: the subscriptions of the customers the user is a member of,
# written by hand as one would (the licenses of a visible subscription are visible).
PORTAL_FLOOR_SQL = _FLOOR_SQL.format(
    where="WHERE customer IN (SELECT customer FROM membership WHERE user_subject = $2)"
)


# The portal's list page (api/portal/operations/Subscriptions.graphql, first 10) for the
# portal user: the count, whether more follow, and each subscription with its customer.
LIST_SIZE = 10
_STATUS = " ".join(
    f"WHEN {status_condition(status, 's', lambda: '$1')} THEN '{status.name}'"
    for status in SubscriptionStatus
)
_MEMBER = "s.customer IN (SELECT customer FROM membership WHERE user_subject = $2)"
PORTAL_LIST_SQL = f"""
SELECT convert_to(json_build_object(
    'total', (SELECT count(*) FROM subscription s WHERE {_MEMBER}),
    'more', count(*) > {LIST_SIZE},
    'items', coalesce(json_agg(json_build_object(
        'id', s.id, 'name', s.name, 'plan', s.plan, 'deployment', s.deployment,
        'status', CASE {_STATUS} END, 'seats', {current_seats("s", "$1")},
        'startDate', s.start_date, 'endDate', s.end_date, 'autoRenew', s.auto_renew,
        'company', (SELECT c.company FROM customer c WHERE c.id = s.customer)
    ) ORDER BY s.id) FILTER (WHERE s.n <= {LIST_SIZE}), '[]'))::text, 'UTF8')
FROM (SELECT s.*, row_number() OVER (ORDER BY s.id) AS n FROM subscription s
      WHERE {_MEMBER} ORDER BY s.id LIMIT {LIST_SIZE + 1}) s
"""
# A partner's customers (those it sold to), each with its first subscriptions it sold.
PARTNER_CUSTOMERS = 20
PARTNER_SUBSCRIPTIONS = 5
PARTNER_SQL = f"""
SELECT convert_to(coalesce(json_agg(json_build_object(
           'id', c.id, 'company', c.company, 'subscriptions', x.subscriptions
       ) ORDER BY c.id), '[]')::text, 'UTF8')
FROM (SELECT id, company FROM customer c WHERE EXISTS (
          SELECT 1 FROM subscription s WHERE s.customer = c.id AND s.partner_id = $2)
      ORDER BY id LIMIT {PARTNER_CUSTOMERS}) c
LEFT JOIN LATERAL (
    SELECT coalesce(json_agg(json_build_object(
               'id', s.id, 'name', s.name, 'plan', s.plan, 'seats', {current_seats("s", "$1")}
           ) ORDER BY s.id), '[]') AS subscriptions
    FROM (SELECT id, name, plan FROM subscription s WHERE s.customer = c.id
          AND s.partner_id = $2 ORDER BY id LIMIT {PARTNER_SUBSCRIPTIONS}) s
) x ON TRUE
"""


async def _one_statement(request: Request, sql: str, *args: object) -> Response:
    pool = request.app.state.db.pool
    today = request.app.state.clock.today()
    async with pool.acquire() as connection:
        body: bytes = await connection.fetchval(sql, today, *args)
    return Response(body, media_type="application/json")


async def portal_list_floor(request: Request) -> Response:
    return await _one_statement(request, PORTAL_LIST_SQL, PORTAL_USER)


async def partner_floor(request: Request) -> Response:
    return await _one_statement(request, PARTNER_SQL, PARTNER)


async def floor(request: Request) -> Response:
    """The page as JSON bytes straight from PostgreSQL (``convert_to`` makes it ``bytea``)."""
    pool = request.app.state.db.pool
    today = request.app.state.clock.today()
    async with pool.acquire() as connection:
        body: bytes = await connection.fetchval(FLOOR_SQL, today)
    return Response(body, media_type="application/json")


async def portal_floor(request: Request) -> Response:
    """The portal user's page, the same way (the user is fixed: the floor reads no token)."""
    pool = request.app.state.db.pool
    today = request.app.state.clock.today()
    async with pool.acquire() as connection:
        body: bytes = await connection.fetchval(PORTAL_FLOOR_SQL, today, PORTAL_USER)
    return Response(body, media_type="application/json")


def with_floor(app: Starlette) -> Starlette:
    """Add ``GET /floor`` to an app built by ``create_app`` (it reads ``app.state.db`` and
    ``app.state.clock``)."""
    app.router.routes.append(Route("/floor", floor, methods=["GET"]))
    app.router.routes.append(Route("/floor/portal", portal_floor, methods=["GET"]))
    app.router.routes.append(Route("/floor/portal-list", portal_list_floor, methods=["GET"]))
    app.router.routes.append(Route("/floor/partner", partner_floor, methods=["GET"]))
    return app


def create_bench_app() -> Starlette:
    """uvicorn factory: workers are fresh processes, so the DSN comes from the environment."""
    dsn = os.environ.get(DSN_VARIABLE)
    if not dsn:
        raise RuntimeError(f"{DSN_VARIABLE} is not set; run bench/read_throughput.py")
    # The PROVISION_* variables apply as in production; the database is the benchmark's.
    settings = dataclasses.replace(Settings.from_env(), database_url=dsn, graphiql=False)
    return with_floor(create_app(settings))
