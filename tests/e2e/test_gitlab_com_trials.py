"""GitLab.com's REST trial endpoints (protocol §2.2 C1, C2, C4, C5): the admin header pair
(no defaults: refused when not configured), GitLab's 422 contract, and the trial provisioned
through the ledger."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from persistence.database import Database

import factories as f
from clocks import TickingClock

ADMIN = {"X-Admin-Email": "gl_com_api@gitlab.test", "X-Admin-Token": "s3cret-portal-token"}
TRIAL = {
    "uid": 7,
    "trial_user": {
        "namespace_id": 9001,
        "namespace": {"id": 9001, "name": "Acme", "path": "acme", "kind": "group", "plan": "free"},
        "gitlab_com_trial": True,
        "sync_to_gl": True,
        "add_on_name": "duo_enterprise",
        "trial_type": "ultimate_with_gitlab_duo_enterprise",
    },
}


@pytest.fixture(scope="module")
async def configured_app(database_url: str) -> AsyncIterator[Starlette]:
    settings = Settings(
        database_url=database_url,
        pool_max=2,
        gc_interval=0,
        gitlab_com_admin_email=ADMIN["X-Admin-Email"],
        gitlab_com_admin_token=ADMIN["X-Admin-Token"],
    )
    app = create_app(settings, clock=TickingClock(f.NOW))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def gitlab(configured_app: Starlette, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=configured_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://provision.test", headers=ADMIN
    ) as http:
        yield http


async def test_a_trial_request_starts_the_trial_and_its_add_on(
    gitlab: httpx.AsyncClient, clean_db: Database
) -> None:
    response = await gitlab.post("/trials/gitlab_com/ultimates", json=TRIAL)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    types = {r["type"] for r in await clean_db.fetch("SELECT type FROM trial")}
    assert types == {"ULTIMATE", "DUO_ENTERPRISE"}
    bodies = [
        json.loads(r["payload"])["provision"]
        for r in await clean_db.fetch("SELECT payload FROM provision_event ORDER BY id")
    ]
    assert bodies[0]["base_product"]["plan_code"] == "ultimate_trial"
    assert bodies[1]["add_on_purchases"]["duo_enterprise"][0]["trial"] is True
    again = await gitlab.post("/trials", json=TRIAL)
    assert again.status_code == 422
    assert again.json()["errors"]


async def test_eligibility_and_trial_types(gitlab: httpx.AsyncClient, clean_db: Database) -> None:
    await f.store(clean_db, f.namespace(501), f.namespace(502, parent=501))
    answer = await gitlab.get(
        "/api/v1/gitlab/namespaces/trials/eligibility",
        params=[("namespace_ids[]", "501"), ("namespace_ids[]", "502"), ("namespace_ids[]", "999")],
    )
    assert answer.status_code == 200
    namespaces = answer.json()["namespaces"]
    assert "ultimate_with_gitlab_duo_enterprise" in namespaces["501"]
    assert "ultimate_on_premium_with_gitlab_duo_enterprise" not in namespaces["501"]
    assert namespaces["502"] == []  # a subgroup
    # never seen: a free top-level group with no trial history (test_gitlab_com_namespaces.py)
    assert "ultimate_with_gitlab_duo_enterprise" in namespaces["999"]
    types = (await gitlab.get("/api/v1/gitlab/namespaces/trials/trial_types")).json()["trial_types"]
    assert types["ultimate_with_gitlab_duo_enterprise"] == {"duration_days": 30}
    assert types["gitlab_duo_enterprise"] == {"duration_days": 60}
    bad = await gitlab.get(
        "/api/v1/gitlab/namespaces/trials/eligibility", params={"namespace_ids[]": "x"}
    )
    assert bad.status_code == 422


async def test_bad_bodies_are_422(gitlab: httpx.AsyncClient, clean_db: Database) -> None:
    for body in (
        {"trial_user": {"namespace_id": "abc"}},
        {"trial_user": {"namespace_id": 5, "trial_type": "nope"}},
        {"trial_user": {"namespace_id": 5, "trial_type": "gitlab_duo_enterprise"}},
    ):
        response = await gitlab.post("/trials", json=body)
        assert response.status_code == 422, body
        assert response.json()["errors"]
    assert (await gitlab.post("/trials", content=b"garbage")).status_code == 422
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 0


async def test_the_admin_pair_is_required(
    configured_app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    transport = httpx.ASGITransport(app=configured_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        assert (await http.post("/trials", json=TRIAL)).status_code == 401
        wrong = {**ADMIN, "X-Admin-Token": "customer_admin_token"}  # GitLab's public default
        assert (await http.post("/trials", json=TRIAL, headers=wrong)).status_code == 401
    # The session's app has no pair configured: everything is refused, even GitLab's defaults.
    defaults = {"X-Admin-Email": "gl_com_api@gitlab.com", "X-Admin-Token": "customer_admin_token"}
    assert (await anonymous.post("/trials", json=TRIAL, headers=defaults)).status_code == 403
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 0
