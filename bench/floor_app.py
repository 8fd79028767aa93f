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
import uuid

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

# The portal's subscription page (api/portal/operations/Subscription.graphql) for the portal
# user: one subscription by id with its customer, partner, terms and segments, add-ons, the
# latest seat-link usage (and its overage), the namespace with its newest provisioning
# steps, the first 20 instances and licenses. Left to Python on both sides' behalf:
# viewerPermissions (the channel policy's decisions; the floor reads the caller's role they
# start from), the add-ons' display names and nextReconciliationDate.
HEAVY_PAGE = 20
_SEATS = current_seats("s", "$1")
HEAVY_SQL = f"""
SELECT convert_to(json_build_object(
    'id', s.id, 'name', s.name, 'plan', s.plan, 'deployment', s.deployment,
    'status', CASE {_STATUS} END, 'channel', s.channel, 'seats', {_SEATS},
    'startDate', s.start_date, 'endDate', s.end_date, 'autoRenew', s.auto_renew,
    'cancelAtPeriodEnd', s.cancel_at_period_end, 'licensingMode', s.licensing_mode,
    'maxInstances', s.max_instances, 'reconciliationEnabled', s.reconciliation_enabled,
    'customer', (SELECT json_build_object('id', c.id, 'company', c.company)
                 FROM customer c WHERE c.id = s.customer),
    'partner', (SELECT json_build_object('id', p.id, 'name', p.name, 'kind', p.kind)
                FROM partner p WHERE p.id = s.partner_id),
    'role', (SELECT m.role FROM membership m WHERE m.customer = s.customer
             AND m.user_subject = $2),
    'terms', (SELECT json_agg(json_build_object('startDate', t.start_date,
                                                'endDate', t.end_date, 'segments', t.segments)
                              ORDER BY t.term_index)
              FROM (SELECT g.term_index, min(g.start_date) AS start_date,
                           max(g.end_date) AS end_date,
                           json_agg(json_build_object('startDate', g.start_date,
                                                      'endDate', g.end_date, 'seats', g.seats)
                                    ORDER BY g.start_date) AS segments
                    FROM subscription_segment g WHERE g.subscription = s.id
                    GROUP BY g.term_index) t),
    'addOns', (SELECT coalesce(json_agg(json_build_object('kind', a.kind,
                   'quantity', a.quantity, 'startDate', a.start_date, 'endDate', a.end_date)
                   ORDER BY a.start_date, a.id), '[]')
               FROM subscription_add_on a WHERE a.subscription = s.id),
    'usage', (SELECT json_build_object('seatsInUse', u.billable_users,
                  'maxSeatsUsed', u.max_historical_users,
                  'overage', greatest(0, u.max_historical_users - {_SEATS}),
                  'reportedAt', u.reported_at)
              FROM usage_report u WHERE u.subscription = s.id
              ORDER BY u.reported_at DESC, u.id DESC LIMIT 1),
    'namespace', (SELECT json_build_object('id', n.id, 'gitlabId', n.gitlab_id,
                      'path', n.path, 'name', n.name, 'basePlan', n.base_plan,
                      'billableMembers', n.billable_members, 'maxSeatsUsed', n.max_seats_used,
                      'computeMinutesUsed', n.compute_minutes_used,
                      'storageUsedBytes', n.storage_used_bytes,
                      'usageReportedAt', n.usage_reported_at,
                      'provisioningSteps', (
                          SELECT coalesce(json_agg(json_build_object('payload', e.payload,
                              'state', e.status, 'attempts', e.attempts,
                              'createdAt', e.created_at, 'updatedAt', e.updated_at)
                              ORDER BY e.created_at DESC, e.id DESC), '[]')
                          FROM (SELECT * FROM provision_event e WHERE e.namespace_id = n.id
                                AND e.kind = 'NAMESPACE_PROVISION'
                                ORDER BY e.created_at DESC, e.id DESC LIMIT 20) e))
                  FROM namespace n WHERE n.id = s.namespace),
    'instances', (SELECT coalesce(json_agg(json_build_object('id', i.id,
                      'instanceIdentifier', i.instance_identifier, 'hostname', i.hostname,
                      'gitlabVersion', i.gitlab_version, 'activatedAt', i.activated_at,
                      'lastSyncedAt', i.last_synced_at) ORDER BY i.id), '[]')
                  FROM (SELECT * FROM instance i WHERE i.subscription = s.id
                        ORDER BY i.id LIMIT {HEAVY_PAGE}) i),
    'licenses', (SELECT coalesce(json_agg(json_build_object('id', k.id, 'mode', k.mode,
                     'plan', k.plan, 'seats', k.seats, 'startsAt', k.starts_at,
                     'expiresAt', k.expires_at, 'trial', k.trial, 'cancelled', k.cancelled,
                     'createdAt', k.created_at) ORDER BY k.id), '[]')
                 FROM (SELECT id, mode, plan, seats, starts_at, expires_at, trial, cancelled,
                              created_at FROM license k WHERE k.subscription = s.id
                       ORDER BY k.id LIMIT {HEAVY_PAGE}) k)
)::text, 'UTF8')
FROM subscription s WHERE s.id = $3 AND {_MEMBER}
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


async def heavy_floor(request: Request) -> Response:
    subscription = uuid.UUID(request.query_params["id"])
    return await _one_statement(request, HEAVY_SQL, PORTAL_USER, subscription)


def with_floor(app: Starlette) -> Starlette:
    """Add ``GET /floor`` to an app built by ``create_app`` (it reads ``app.state.db`` and
    ``app.state.clock``)."""
    app.router.routes.append(Route("/floor", floor, methods=["GET"]))
    app.router.routes.append(Route("/floor/portal", portal_floor, methods=["GET"]))
    app.router.routes.append(Route("/floor/portal-list", portal_list_floor, methods=["GET"]))
    app.router.routes.append(Route("/floor/partner", partner_floor, methods=["GET"]))
    app.router.routes.append(Route("/floor/subscription", heavy_floor, methods=["GET"]))
    return app


def create_bench_app() -> Starlette:
    """uvicorn factory: workers are fresh processes, so the DSN comes from the environment."""
    dsn = os.environ.get(DSN_VARIABLE)
    if not dsn:
        raise RuntimeError(f"{DSN_VARIABLE} is not set; run bench/read_throughput.py")
    # The PROVISION_* variables apply as in production; the database is the benchmark's.
    settings = dataclasses.replace(Settings.from_env(), database_url=dsn, graphiql=False)
    return with_floor(create_app(settings))
