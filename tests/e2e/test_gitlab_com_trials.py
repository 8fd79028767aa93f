"""GitLab.com's REST trial endpoints (protocol §2.2 C1, C2, C4, C5): the admin header pair
(no defaults: refused when not configured), GitLab's 422 contract, and the trial provisioned
on GitLab.com before the answer: through its ledger rows, run in the request against a fake
GitLab.com on a real socket (no worker running), a 422 GitLab shows when that could not be
done, the rows left for the workers, and GitLab asking again finishing the same trial."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from api.worker.in_request import TRIAL_NOT_PROVISIONED
from domain.model.provision_event import ProvisionStatus
from persistence.database import Database

import factories as f
from clocks import TickingClock
from gitlab_com_peer import FakeGitLab, serving_api, serving_gitlab
from ledger_peer import free_port, workers
from ledger_wait import settled

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

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


STEPS = (
    "SELECT id, status, attempts, last_error, payload::text, next_attempt_at, created_at"
    " FROM provision_event WHERE kind = 'NAMESPACE_PROVISION' ORDER BY created_at, id"
)


async def test_without_gitlab_com_configured_a_trial_is_a_422_and_waits_on_the_ledger(
    gitlab: httpx.AsyncClient, clean_db: Database
) -> None:
    """GITLAB_COM_URL unset: nothing can provision the trial, so GitLab must not be told it
    started (it would look for the Duo add-on at once); the rows wait for a worker that can."""
    response = await gitlab.post("/trials/gitlab_com/ultimates", json=TRIAL)
    assert response.status_code == 422, response.text
    assert response.json() == {"errors": [TRIAL_NOT_PROVISIONED]}
    types = {r["type"] for r in await clean_db.fetch("SELECT type FROM trial")}
    assert types == {"ULTIMATE", "DUO_ENTERPRISE"}
    steps = await clean_db.fetch(STEPS)
    assert [(r["status"], r["attempts"]) for r in steps] == [("PENDING", 0)] * 2
    bodies = [json.loads(r["payload"])["provision"] for r in steps]
    assert bodies[0]["base_product"]["plan_code"] == "ultimate_trial"
    assert bodies[1]["add_on_purchases"]["duo_enterprise"][0]["trial"] is True
    # Asked again: the same trial (not "had a trial already"), still not provisioned.
    again = await gitlab.post("/trials", json=TRIAL)
    assert again.json() == {"errors": [TRIAL_NOT_PROVISIONED]}
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 2
    assert len(await clean_db.fetch(STEPS)) == 2


# --- against a fake GitLab.com on a real socket ---------------------------------------------

TIMEOUT = 4.0  # PROVISION_TRIAL_PROVISION_TIMEOUT of the API the fake GitLab.com talks to


@pytest.fixture(scope="module")
def synced(database_url: str) -> Iterator[tuple[str, FakeGitLab]]:
    """Our API on a socket with GITLAB_COM_URL set to a fake GitLab.com, which verifies each
    internal token through that API's discovery document and JWKS."""
    port = free_port()
    with (
        serving_gitlab(f"http://127.0.0.1:{port}") as fake,
        serving_api(
            database_url,
            port,
            gitlab_com_url=fake.url,
            gitlab_com_admin_email=ADMIN["X-Admin-Email"],
            gitlab_com_admin_token=ADMIN["X-Admin-Token"],
            trial_provision_timeout_seconds=TIMEOUT,
            ledger_backoff_base_seconds=0.1,
            ledger_backoff_max_seconds=0.5,
        ) as url,
    ):
        yield url, fake


@pytest.fixture
async def com(
    synced: tuple[str, FakeGitLab], clean_db: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeGitLab]]:
    url, fake = synced
    fake.reset()
    async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=60) as http:
        yield http, fake


def _sent(fake: FakeGitLab) -> tuple[dict[str, object], dict[str, object]]:
    """The plan and the add-on GitLab.com was sent for the trial (the last call of each)."""
    bodies = [c.body["provision"] for c in fake.calls]
    [*_, plan] = [b["base_product"] for b in bodies if "base_product" in b]
    [*_, add_on] = [
        b["add_on_purchases"]["duo_enterprise"][0] for b in bodies if "add_on_purchases" in b
    ]
    return plan, add_on


async def test_the_trial_is_on_gitlab_com_before_the_answer(
    com: tuple[httpx.AsyncClient, FakeGitLab], clean_db: Database
) -> None:
    http, fake = com
    response = await http.post("/trials", json=TRIAL)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    # No worker runs: the answer came after GitLab.com acknowledged the plan and the add-on.
    assert [c.namespace for c in fake.calls] == ["9001", "9001"]
    plan, add_on = _sent(fake)
    assert (plan["plan_code"], plan["trial"], add_on["trial"]) == ("ultimate_trial", True, True)
    starts, ends = (date.fromisoformat(str(plan[k])) for k in ("trial_starts_on", "trial_ends_on"))
    assert ends - starts == timedelta(days=30)
    # The add-on of the combined trial runs with the Ultimate trial (not its own 60 days).
    assert (add_on["started_on"], add_on["expires_on"]) == (
        plan["trial_starts_on"],
        plan["trial_ends_on"],
    )
    steps = await clean_db.fetch(STEPS)
    assert [(r["status"], r["attempts"]) for r in steps] == [("SUCCEEDED", 1)] * 2
    # GitLab asking again (its answer was lost, say): the same trial, nothing sent twice.
    again = await http.post("/trials", json=TRIAL)
    assert again.json() == {"success": True}
    assert len(fake.calls) == 2
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 2


async def test_gitlab_com_failing_is_a_422_the_workers_retry_and_asking_again_finishes(
    com: tuple[httpx.AsyncClient, FakeGitLab], clean_db: Database
) -> None:
    http, fake = com
    fake.fail_times = 1  # the plan's first call answers 500
    response = await http.post("/trials", json=TRIAL)
    assert response.status_code == 422, response.text
    assert response.json() == {"errors": [TRIAL_NOT_PROVISIONED]}
    plan, add_on = await clean_db.fetch(STEPS)
    # Tracked: the plan failed once and backs off, the add-on waits; both for the workers.
    assert (plan["status"], plan["attempts"], add_on["status"], add_on["attempts"]) == (
        "FAILED",
        1,
        "PENDING",
        0,
    )
    assert plan["last_error"] == (
        "GitLabComRefused: GitLab.com answered 500: 500 Internal Server Error"
    )
    assert plan["next_attempt_at"] > plan["created_at"]
    assert len(fake.calls) == 1
    # GitLab asks again: the same trial, provisioned now (ahead of the backoff), then a 2xx.
    again = await http.post("/trials", json=TRIAL)
    assert again.status_code == 200, again.text
    steps = await clean_db.fetch(STEPS)
    assert [(r["status"], r["attempts"]) for r in steps] == [("SUCCEEDED", 2), ("SUCCEEDED", 1)]
    assert len(fake.calls) == 3
    assert fake.calls[1].body == fake.calls[0].body
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 2


async def test_a_hanging_gitlab_com_is_answered_within_the_bound_and_a_worker_finishes(
    com: tuple[httpx.AsyncClient, FakeGitLab], clean_db: Database, tmp_path: Path
) -> None:
    http, fake = com
    fake.hang_first = True  # the plan's first call is never answered
    started = time.monotonic()
    response = await http.post("/trials", json=TRIAL)
    waited = time.monotonic() - started
    assert response.status_code == 422, response.text
    assert response.json() == {"errors": [TRIAL_NOT_PROVISIONED]}
    assert waited < TIMEOUT + 3, waited  # bounded by the setting, not by GitLab.com
    plan, add_on = await clean_db.fetch(STEPS)
    assert (plan["status"], plan["attempts"]) == ("FAILED", 1)
    assert plan["last_error"].startswith("StepTimedOut: no outcome within")
    assert add_on["status"] == "PENDING"
    # The worker path (a `provision worker` process) finishes both.
    env = {"GITLAB_COM_URL": fake.url, "PROVISION_ISSUER": str(http.base_url).rstrip("/")}
    with workers(clean_db.dsn, tmp_path, 1, **env):
        done = [await settled(clean_db, r["id"], ProvisionStatus.SUCCEEDED) for r in (plan, add_on)]
    assert [e.attempts for e in done] == [2, 1]
    first, again = [c.body for c in fake.calls if "base_product" in c.body["provision"]]
    assert again == first  # the plan sent again as recorded; the add-on once
    assert len(fake.calls) == 3


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
