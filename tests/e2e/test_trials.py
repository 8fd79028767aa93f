"""Namespace trials over HTTP with real tokens: applyTrial and its rules, trialEligibility,
extendTrial and reactivateTrial (staff, once), 50 racing applications, and the expiry job
reverting groups to exactly their base plan, once, with the clock moved past the end."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.ids import global_id
from api.settings import Settings
from domain.model.customer import Membership
from domain.model.enums import Deployment, NamespacePlan, Plan, Role
from domain.principal import PrincipalKind
from domain.use_cases.trials import Trials
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from oauth_flow import MovableClock

APPLY = """mutation($input: ApplyTrialInput!) { applyTrial(input: $input) {
  trial { id type status revertsTo endsOn } namespace { plan basePlan } errors { code } } }"""
EXTEND = """mutation($input: TrialInput!) { extendTrial(input: $input) {
  trial { endsOn extended } errors { code } } }"""
REACTIVATE = """mutation($input: TrialInput!) { reactivateTrial(input: $input) {
  trial { status startsOn } errors { code } } }"""
ELIGIBILITY = """query($ids: [ID!]!) { trialEligibility(namespaceIds: $ids) {
  namespace { gitlabId } type eligible reason } }"""
OWNER = {"kind": PrincipalKind.PORTAL_USER, "subject": "usr_ada", "email": "ada@acme.test"}


@pytest.fixture(scope="module")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="module")
async def timed_app(database_url: str, clock: MovableClock) -> AsyncIterator[Starlette]:
    app = create_app(Settings(database_url=database_url, pool_max=3, gc_interval=0), clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def http(timed_app: Starlette, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=timed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as client:
        yield client


async def _world(db: Database) -> dict[str, Any]:
    acme = f.customer("Acme")
    owned = {"owner_emails": ("ada@acme.test",)}
    free = dataclasses.replace(f.namespace(100), **owned)
    premium = dataclasses.replace(f.namespace(200), base_plan=NamespacePlan.PREMIUM, **owned)
    ultimate = dataclasses.replace(f.namespace(300), base_plan=NamespacePlan.ULTIMATE, **owned)
    subgroup = dataclasses.replace(f.namespace(101, parent=100), **owned)
    stranger = f.namespace(400)
    paid = f.subscription(
        acme, deployment=Deployment.GITLAB_COM, plan=Plan.PREMIUM, namespace_id=premium.id
    )
    await f.store(db, acme, free, premium, ultimate, subgroup, stranger, paid)
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(acme.id, "usr_ada", Role.OWNER))
        await uow.commit()
    return {
        "free": free,
        "premium": premium,
        "ultimate": ultimate,
        "subgroup": subgroup,
        "stranger": stranger,
    }


def _as(http: httpx.AsyncClient, app: Starlette, clock: MovableClock, **who: Any) -> None:
    http.headers.update(bearer(token_for(app, now=clock.now(), **who)))


async def _gql(http: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    body = (await http.post("/graphql", json={"query": query, "variables": variables})).json()
    return body


async def _apply(http: httpx.AsyncClient, namespace: Any, trial_type: str, **more: Any) -> Any:
    body = await _gql(
        http,
        APPLY,
        input={"namespaceId": global_id("Namespace", namespace.id), "type": trial_type, **more},
    )
    return body["data"]["applyTrial"] if body.get("data") else body


async def _events(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT payload FROM provision_event WHERE kind = 'NAMESPACE_PROVISION' ORDER BY id"
    )
    return [json.loads(row["payload"]) for row in rows]


async def test_an_owner_starts_an_ultimate_trial_once(
    http: httpx.AsyncClient, timed_app: Starlette, clock: MovableClock, clean_db: Database
) -> None:
    world = await _world(clean_db)
    _as(http, timed_app, clock, **OWNER)
    started = await _apply(http, world["free"], "ULTIMATE")
    assert started["errors"] == []
    assert started["trial"]["status"] == "ACTIVE"
    assert started["trial"]["revertsTo"] == "FREE"
    assert started["namespace"]["plan"] == "ULTIMATE_TRIAL"
    [event] = await _events(clean_db)
    base = event["provision"]["base_product"]
    assert (base["plan_code"], base["trial"]) == ("ultimate_trial", True)
    again = await _apply(http, world["free"], "ULTIMATE")
    assert [e["code"] for e in again["errors"]] == ["TRIAL_ALREADY_USED"]
    assert len(await _events(clean_db)) == 1


@pytest.mark.parametrize(
    ("namespace", "trial_type", "code"),
    [
        ("premium", "ULTIMATE", "TRIAL_REQUIRES_FREE_PLAN"),
        ("free", "ULTIMATE_ON_PREMIUM", "TRIAL_REQUIRES_PREMIUM_PLAN"),
        ("ultimate", "ULTIMATE_ON_PREMIUM", "ALREADY_ULTIMATE"),
        ("subgroup", "ULTIMATE", "NAMESPACE_NOT_TOP_LEVEL"),
        ("stranger", "ULTIMATE", "NOT_FOUND"),  # a group out of reach does not exist either
    ],
)
async def test_each_rule_refuses_with_its_code(
    namespace: str,
    trial_type: str,
    code: str,
    http: httpx.AsyncClient,
    timed_app: Starlette,
    clock: MovableClock,
    clean_db: Database,
) -> None:
    world = await _world(clean_db)
    _as(http, timed_app, clock, **OWNER)
    answer = await _apply(http, world[namespace], trial_type)
    assert [e["code"] for e in answer["errors"]] == [code]
    assert await _events(clean_db) == []


async def test_eligibility_answers_per_namespace_and_type(
    http: httpx.AsyncClient, timed_app: Starlette, clock: MovableClock, clean_db: Database
) -> None:
    world = await _world(clean_db)
    _as(http, timed_app, clock, kind=PrincipalKind.GITLAB_COM, subject="gitlab")
    ids = [global_id("Namespace", world[n].id) for n in ("free", "premium")]
    body = await _gql(http, ELIGIBILITY, ids=ids)
    answers = {
        (a["namespace"]["gitlabId"], a["type"]): (a["eligible"], a["reason"])
        for a in body["data"]["trialEligibility"]
    }
    assert answers[(100, "ULTIMATE")] == (True, None)
    assert answers[(100, "ULTIMATE_ON_PREMIUM")] == (False, "TRIAL_REQUIRES_PREMIUM_PLAN")
    assert answers[(200, "ULTIMATE")] == (False, "TRIAL_REQUIRES_FREE_PLAN")
    assert answers[(200, "ULTIMATE_ON_PREMIUM")] == (True, None)
    assert answers[(200, "DUO_ENTERPRISE")] == (True, None)
    stranger = await _gql(http, ELIGIBILITY, ids=[global_id("Namespace", world["stranger"].id)])
    assert (
        stranger["data"]["trialEligibility"][0]["eligible"] is True
    )  # GitLab.com asks for its owner
    _as(http, timed_app, clock, **OWNER)
    mine = await _gql(http, ELIGIBILITY, ids=[global_id("Namespace", world["stranger"].id)])
    assert mine["data"]["trialEligibility"] == []  # not visible to this portal user at all


async def test_who_may_apply(
    http: httpx.AsyncClient, timed_app: Starlette, clock: MovableClock, clean_db: Database
) -> None:
    world = await _world(clean_db)
    for who in (
        {"kind": PrincipalKind.PARTNER, "subject": "p", "partner": "p"},
        {"kind": PrincipalKind.INSTANCE, "subject": "i"},
    ):
        _as(http, timed_app, clock, **who)
        answer = await _apply(http, world["free"], "ULTIMATE")
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]
    _as(http, timed_app, clock, kind=PrincipalKind.GITLAB_COM, subject="gitlab")
    assert (await _apply(http, world["free"], "DUO_ENTERPRISE"))["errors"] == []


async def test_fifty_applications_on_one_group_make_one_trial(
    http: httpx.AsyncClient, timed_app: Starlette, clock: MovableClock, clean_db: Database
) -> None:
    world = await _world(clean_db)
    _as(http, timed_app, clock, **OWNER)
    answers = await asyncio.gather(*(_apply(http, world["free"], "ULTIMATE") for _ in range(50)))
    assert sum(1 for a in answers if not a["errors"]) == 1
    assert {e["code"] for a in answers for e in a["errors"]} == {"TRIAL_ALREADY_USED"}
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 1
    assert len(await _events(clean_db)) == 1


async def test_staff_extend_once_and_reactivate_once(
    http: httpx.AsyncClient, timed_app: Starlette, clock: MovableClock, clean_db: Database
) -> None:
    world = await _world(clean_db)
    _as(http, timed_app, clock, **OWNER)
    trial = (await _apply(http, world["free"], "ULTIMATE"))["trial"]
    duo = (await _apply(http, world["free"], "DUO_ENTERPRISE"))["trial"]

    async def staff(query: str, trial_id: str, name: str) -> Any:
        _as(http, timed_app, clock)
        return (await _gql(http, query, input={"trialId": trial_id}))["data"][name]

    refused = await _gql(http, EXTEND, input={"trialId": trial["id"]})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    extended = await staff(EXTEND, trial["id"], "extendTrial")
    assert extended["trial"]["extended"] is True
    twice = await staff(EXTEND, trial["id"], "extendTrial")
    assert [e["code"] for e in twice["errors"]] == ["TRIAL_ALREADY_EXTENDED"]
    early = await staff(REACTIVATE, duo["id"], "reactivateTrial")
    assert [e["code"] for e in early["errors"]] == ["TRIAL_NOT_EXPIRED"]
    clock.advance(timedelta(days=61))
    try:
        # GitLab's rule: a trial is extended or reactivated, once, not both.
        both = await staff(REACTIVATE, trial["id"], "reactivateTrial")
        assert [e["code"] for e in both["errors"]] == ["TRIAL_ALREADY_EXTENDED"]
        again = await staff(REACTIVATE, duo["id"], "reactivateTrial")
        assert again["errors"] == []
        assert again["trial"] == {"status": "ACTIVE", "startsOn": clock.today().isoformat()}
        clock.advance(timedelta(days=61))
        once = await staff(REACTIVATE, duo["id"], "reactivateTrial")
        assert [e["code"] for e in once["errors"]] == ["TRIAL_ALREADY_REACTIVATED"]
    finally:
        clock.advance(-timedelta(days=122))


async def test_a_trial_that_has_not_started_is_not_reactivated(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    group = f.namespace(500)
    starts_on = f.TODAY + timedelta(days=10)  # not active, and not ended either
    trial = dataclasses.replace(
        f.trial_on(group), starts_on=starts_on, ends_on=starts_on + timedelta(days=30)
    )
    await f.store(clean_db, group, trial)
    body = await _gql(client, REACTIVATE, input={"trialId": global_id("Trial", trial.id)})
    assert [e["code"] for e in body["data"]["reactivateTrial"]["errors"]] == ["TRIAL_NOT_EXPIRED"]
    row = await clean_db.fetchrow("SELECT starts_on, reactivated FROM trial")
    assert (row["starts_on"], row["reactivated"]) == (starts_on, False)


async def test_the_expiry_job_reverts_each_group_to_its_base_plan_once(
    http: httpx.AsyncClient, timed_app: Starlette, clock: MovableClock, clean_db: Database
) -> None:
    world = await _world(clean_db)
    _as(http, timed_app, clock, **OWNER)
    assert (await _apply(http, world["free"], "ULTIMATE"))["errors"] == []
    on_premium = await _apply(http, world["premium"], "ULTIMATE_ON_PREMIUM")
    assert on_premium["namespace"]["plan"] == "ULTIMATE_TRIAL_PAID_CUSTOMER"
    assert on_premium["trial"]["revertsTo"] == "PREMIUM"
    before = len(await _events(clean_db))
    clock.advance(timedelta(days=31))
    try:
        # Two workers run the job at the same moment: each trial is reverted once.
        workers = [Trials(lambda: PostgresUnitOfWork(clean_db), clock) for _ in range(2)]
        reverted = await asyncio.gather(*(w.expire(clock.today()) for w in workers))
        assert sorted(len(r) for r in reverted) in ([0, 2], [1, 1])
        reverts = (await _events(clean_db))[before:]
        plans = sorted(
            (e["namespace"], e["provision"]["base_product"]["plan_code"]) for e in reverts
        )
        assert plans == [(100, "free"), (200, "premium")]  # never Premium to Free
        assert await Trials(lambda: PostgresUnitOfWork(clean_db), clock).expire(clock.today()) == []
        _as(http, timed_app, clock, **OWNER)
        query = "query($id: ID!) { node(id: $id) { ... on Namespace { plan } } }"
        for name, plan in (("free", "FREE"), ("premium", "PREMIUM")):
            body = await _gql(http, query, id=global_id("Namespace", world[name].id))
            assert body["data"]["node"]["plan"] == plan
    finally:
        clock.advance(-timedelta(days=31))
