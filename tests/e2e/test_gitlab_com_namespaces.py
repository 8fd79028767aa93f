"""What GitLab.com tells about namespaces on its trial calls (issue 11 item 14): a group never
sent here is a free top-level group with no trial history, and the facts sent with a trial
request (name, path, kind, plan) are recorded. This app has no GITLAB_COM_URL: a trial it
starts is answered "not provisioned yet" (test_gitlab_com_trials.py covers GitLab.com)."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from api.worker.in_request import TRIAL_NOT_PROVISIONED
from domain.model.enums import Deployment, NamespacePlan
from persistence.database import Database

import factories as f

FREE_GROUP_TRIALS = ["ultimate_with_gitlab_duo_enterprise", "ultimate_with_dap",
                     "gitlab_duo_enterprise"]  # fmt: skip


STARTED_NOT_PROVISIONED = {"errors": [TRIAL_NOT_PROVISIONED]}


async def _trial_types(db: Database, gitlab_id: int) -> set[str]:
    rows = await db.fetch(
        "SELECT t.type FROM trial t JOIN namespace n ON n.id = t.namespace WHERE n.gitlab_id = $1",
        gitlab_id,
    )
    return {r["type"] for r in rows}


def _trial(gitlab_id: int, trial_type: str, **namespace: Any) -> dict[str, Any]:
    described = {"id": gitlab_id, "kind": "group", "trial_ends_on": None, **namespace}
    return {"uid": 7, "trial_user": {"namespace_id": gitlab_id, "namespace": described,
            "gitlab_com_trial": True, "sync_to_gl": True, "add_on_name": "duo_enterprise",
            "trial_type": trial_type}}  # fmt: skip


async def test_a_namespace_never_seen_is_a_free_group_without_trials(
    gitlab_com: httpx.AsyncClient, clean_db: Database
) -> None:
    await f.store(clean_db, f.namespace(501), f.namespace(502, parent=501))
    answer = await gitlab_com.get(
        "/api/v1/gitlab/namespaces/trials/eligibility",
        params=[("namespace_ids[]", "4242"), ("namespace_ids[]", "502")],
    )
    assert answer.status_code == 200
    assert answer.json() == {"namespaces": {"4242": FREE_GROUP_TRIALS, "502": []}}
    assert await clean_db.fetchval("SELECT count(*) FROM namespace") == 2  # nothing recorded


async def test_a_trial_request_records_what_gitlab_com_says_of_the_group(
    gitlab_com: httpx.AsyncClient, clean_db: Database
) -> None:
    # A Premium group paid for elsewhere, never sent here: its Ultimate-on-Premium trial works
    # because its plan is recorded with it.
    premium = _trial(9001, "ultimate_on_premium_with_gitlab_duo_enterprise",
                     name="Acme", path="acme", plan="premium")  # fmt: skip
    answer = await gitlab_com.post("/trials/gitlab_com/ultimates", json=premium)
    assert answer.json() == STARTED_NOT_PROVISIONED, answer.text
    assert await _trial_types(clean_db, 9001) == {"ULTIMATE_ON_PREMIUM", "DUO_ENTERPRISE"}
    row = await clean_db.fetchrow(
        "SELECT name, path, kind, base_plan FROM namespace WHERE gitlab_id = 9001"
    )
    assert dict(row) == {"name": "Acme", "path": "acme", "kind": "GROUP", "base_plan": "PREMIUM"}

    # A known group renamed on GitLab.com since: brought up to date.
    stale = f.namespace(9002)
    await f.store(clean_db, stale)
    renamed = _trial(9002, "ultimate_with_gitlab_duo_enterprise",
                     name="Beta Renamed", path="beta-renamed", plan="free")  # fmt: skip
    assert (await gitlab_com.post("/trials", json=renamed)).json() == STARTED_NOT_PROVISIONED
    assert await _trial_types(clean_db, 9002) == {"ULTIMATE", "DUO_ENTERPRISE"}
    row = await clean_db.fetchrow("SELECT name, path FROM namespace WHERE gitlab_id = 9002")
    assert dict(row) == {"name": "Beta Renamed", "path": "beta-renamed"}


async def test_a_group_linked_here_keeps_the_plan_given_here(
    gitlab_com: httpx.AsyncClient, clean_db: Database
) -> None:
    group, acme = f.namespace(9003), f.customer()
    group = dataclasses.replace(group, base_plan=NamespacePlan.PREMIUM)
    linked = f.subscription(acme, deployment=Deployment.GITLAB_COM, namespace_id=group.id)
    await f.store(clean_db, group, acme, linked)
    stale_view = _trial(9003, "ultimate_on_premium_with_gitlab_duo_enterprise",
                        name="Gamma", path="gamma", plan="free")  # fmt: skip
    answer = await gitlab_com.post("/trials", json=stale_view)
    assert answer.json() == STARTED_NOT_PROVISIONED, answer.text
    assert await _trial_types(clean_db, 9003) == {"ULTIMATE_ON_PREMIUM", "DUO_ENTERPRISE"}
    assert await clean_db.fetchval("SELECT base_plan FROM namespace") == "PREMIUM"
