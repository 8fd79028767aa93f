"""Dates follow the app's Clock across midnight UTC, not the database's ``CURRENT_DATE``: at
23:59:59.999 and at 00:00:00 the next day, the status filters, the derived status, the current
segment's seats, a trial's status and the trial expiry job each answer for the Clock's date
(the database's calendar is another day altogether)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from domain.model.subscription import Segment, Term
from domain.use_cases.trials import Trials
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from fakes import FixedClock

MIDNIGHT = f.TODAY + timedelta(days=1)  # the day every boundary below falls on
LAST_MS = datetime.combine(f.TODAY, time(23, 59, 59, 999_000), tzinfo=UTC)
FIRST_INSTANT = datetime.combine(MIDNIGHT, time(0, 0), tzinfo=UTC)

SUBSCRIPTIONS = """query($status: SubscriptionStatus) {
  subscriptions(status: $status, first: 10) {
    totalCount edges { node { name status seats } } } }"""
TRIALS = "{ trials(first: 10) { edges { node { status endsOn } } } }"


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock(LAST_MS)


@pytest.fixture(scope="module")
async def timed_app(database_url: str, clock: FixedClock) -> AsyncIterator[Starlette]:
    app = create_app(Settings(database_url=database_url, pool_max=3, gc_interval=0), clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def http(timed_app: Starlette, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=timed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as client:
        yield client


def one_term(sub: Any, *segments: tuple[date, date, int]) -> Any:
    return dataclasses.replace(sub, terms=(Term(tuple(Segment(*s) for s in segments)),))


async def world(db: Database) -> dict[str, str]:
    acme = f.customer()
    year = timedelta(days=365)
    ending = one_term(f.subscription(acme), (MIDNIGHT - year, MIDNIGHT, 10))
    starting = one_term(f.subscription(acme), (MIDNIGHT, MIDNIGHT + year, 10))
    ramp = one_term(
        f.subscription(acme), (MIDNIGHT - year, MIDNIGHT, 10), (MIDNIGHT, MIDNIGHT + year, 20)
    )
    group = f.namespace(9001)
    trial = dataclasses.replace(
        f.trial_on(group), starts_on=MIDNIGHT - timedelta(days=30), ends_on=MIDNIGHT
    )
    await f.store(db, acme, ending, starting, ramp, group, trial)
    return {"ending": ending.name, "starting": starting.name, "ramp": ramp.name}


async def read(http: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    body = (await http.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "errors" not in body, body
    return body["data"]


async def listed(http: httpx.AsyncClient, status: str | None = None) -> dict[str, Any]:
    found = (await read(http, SUBSCRIPTIONS, status=status))["subscriptions"]
    nodes = {edge["node"]["name"]: edge["node"] for edge in found["edges"]}
    assert found["totalCount"] == len(nodes)
    return nodes


async def test_reads_and_the_expiry_job_turn_over_at_the_clocks_midnight(
    http: httpx.AsyncClient, timed_app: Starlette, clock: FixedClock, clean_db: Database
) -> None:
    names = await world(clean_db)
    ending, starting, ramp = names["ending"], names["starting"], names["ramp"]
    expire = Trials(lambda: PostgresUnitOfWork(clean_db), clock).expire
    database_day = await clean_db.fetchval("SELECT CURRENT_DATE")
    assert database_day not in (f.TODAY, MIDNIGHT), "the database's calendar is another day"

    clock.set(f.TODAY, LAST_MS.time())
    http.headers.update(bearer(token_for(timed_app, now=clock.now())))
    assert set(await listed(http, "ACTIVE")) == {ending, ramp}
    assert set(await listed(http, "PENDING")) == {starting}
    assert await listed(http, "EXPIRED") == {}
    every = await listed(http)
    assert {name: node["status"] for name, node in every.items()} == {
        ending: "ACTIVE",
        starting: "PENDING",
        ramp: "ACTIVE",
    }
    assert every[ramp]["seats"] == 10
    assert (await read(http, TRIALS))["trials"]["edges"][0]["node"]["status"] == "ACTIVE"
    assert await expire(clock.today()) == []

    clock.advance(FIRST_INSTANT - clock.now())  # one millisecond later: the next day
    assert clock.today() == MIDNIGHT
    assert set(await listed(http, "ACTIVE")) == {starting, ramp}
    assert set(await listed(http, "EXPIRED")) == {ending}
    assert await listed(http, "PENDING") == {}
    every = await listed(http)
    assert {name: node["status"] for name, node in every.items()} == {
        ending: "EXPIRED",
        starting: "ACTIVE",
        ramp: "ACTIVE",
    }
    assert every[ramp]["seats"] == 20
    assert (await read(http, TRIALS))["trials"]["edges"][0]["node"]["status"] == "EXPIRED"
    assert [t.ends_on for t in await expire(clock.today())] == [MIDNIGHT]
