"""NAMESPACE_PROVISION rows reach a fake GitLab.com on a real socket, sent by `provision
worker` processes. The fake verifies each JWT through our discovery document and JWKS, served
by our API on a socket of its own: linking a group sends the right body; 500s are retried
with backoff; a failed section is retried alone; a worker killed after the call was received
is followed by the same body again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.ids import global_id
from domain.model.enums import Deployment
from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from domain.model.provisioning import NAMESPACE_PROVISION
from integrations.clock import SystemClock
from persistence.database import Database

import factories as f
from gitlab_com_peer import FakeGitLab, serving_api, serving_gitlab
from ledger_peer import SHORT_LEASE, workers
from ledger_wait import eventually, record, settled

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

BODY = {
    "base_product": {
        "plan_code": "ultimate",
        "start_date": "2026-01-01",
        "end_date": "2027-01-01",
        "seats": 50,
        "trial": False,
        "auto_renew": True,
    },
    "compute_minutes": {"extra_shared_runners_minutes_limit": 1000},
    "storage": {
        "additional_purchased_storage_size": 10240,
        "additional_purchased_storage_ends_on": "2027-01-01",
    },
    "add_on_purchases": {
        "duo_pro": [
            {
                "started_on": "2026-01-01",
                "expires_on": "2027-01-01",
                "quantity": 5,
                "purchase_xid": "A-S00000042",
                "trial": False,
            }
        ]
    },
}


@pytest.fixture(scope="module")
def portal(database_url: str) -> Iterator[str]:
    with serving_api(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def module_gitlab(portal: str) -> Iterator[FakeGitLab]:
    with serving_gitlab(portal) as fake:
        yield fake


@pytest.fixture
def gitlab(module_gitlab: FakeGitLab) -> FakeGitLab:
    module_gitlab.reset()
    return module_gitlab


def _env(gitlab: FakeGitLab) -> dict[str, str]:
    return {"GITLAB_COM_URL": gitlab.url, "PROVISION_ISSUER": gitlab.portal}


def _event(namespace: int = 42, max_attempts: int = 5) -> ProvisionEvent:
    return ProvisionEvent.new(
        NAMESPACE_PROVISION,
        {"namespace": namespace, "provision": BODY},
        now=SystemClock().now(),
        max_attempts=max_attempts,
    )


async def test_linking_a_group_provisions_it_on_gitlab_com(
    client: httpx.AsyncClient, clean_db: Database, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    acme = f.customer("Acme")
    group = f.namespace(4242)
    saas = f.subscription(acme, deployment=Deployment.GITLAB_COM)
    await f.store(clean_db, acme, group, saas)
    link = """mutation($input: LinkNamespaceInput!) { linkNamespace(input: $input) {
      errors { code } } }"""
    fields = {
        "subscriptionId": global_id("Subscription", saas.id),
        "namespaceId": global_id("Namespace", group.id),
    }
    answer = await client.post("/graphql", json={"query": link, "variables": {"input": fields}})
    assert answer.json()["data"]["linkNamespace"]["errors"] == []
    row = await clean_db.fetchrow("SELECT id, payload FROM provision_event")
    assert row is not None
    recorded = json.loads(row["payload"])

    with workers(clean_db.dsn, tmp_path, 1, **_env(gitlab)):
        stored = await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    [call] = gitlab.calls
    assert call.namespace == "4242"
    assert call.body == {"provision": recorded["provision"]}
    assert call.body["provision"]["base_product"]["plan_code"] == "premium"
    assert call.claims["iss"] == gitlab.portal
    assert call.claims["exp"] - call.claims["iat"] == 300  # short-lived, one per call
    assert gitlab.refusals == []
    [result] = stored.payload["results"]
    assert result["status"] == 200
    assert set(result["sections"]) == set(recorded["provision"])
    assert {s["status"] for s in result["sections"].values()} == {"success"}


async def test_three_500s_then_success_on_the_fourth_attempt(
    clean_db: Database, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    gitlab.fail_times = 3
    event = _event()
    with workers(clean_db.dsn, tmp_path, 1, **_env(gitlab)):
        await record(clean_db, [event])
        stored = await settled(clean_db, event.id, ProvisionStatus.SUCCEEDED)
    assert stored.attempts == 4
    assert (
        stored.last_error == "GitLabComRefused: GitLab.com answered 500: 500 Internal Server Error"
    )
    assert stored.next_attempt_at > stored.created_at  # moved by the backoff
    assert [c.body for c in gitlab.calls] == [{"provision": BODY}] * 4
    assert len({c.claims["jti"] for c in gitlab.calls}) == 4  # a fresh token per call
    assert [r["attempt"] for r in stored.payload["results"]] == [4]


async def test_a_failed_section_is_retried_alone(
    clean_db: Database, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    gitlab.failing_sections["storage"] = 1
    event = _event()
    with workers(clean_db.dsn, tmp_path, 1, **_env(gitlab)):
        await record(clean_db, [event])
        stored = await settled(clean_db, event.id, ProvisionStatus.SUCCEEDED)
    first, second = gitlab.calls
    assert first.body == {"provision": BODY}
    assert second.body == {"provision": {"storage": BODY["storage"]}}
    assert stored.attempts == 2
    assert stored.payload["provision"] == BODY  # what was asked stays as recorded
    one, two = stored.payload["results"]
    assert (one["status"], one["sections"]["storage"]) == (
        422,
        {"status": "error", "message": "storage could not be saved"},
    )
    assert one["sections"]["base_product"] == {"status": "success"}
    assert (two["status"], two["sections"]) == (200, {"storage": {"status": "success"}})
    assert stored.last_error is not None
    assert stored.last_error.startswith("SectionsFailed: GitLab.com refused storage")


async def test_a_worker_killed_after_sending_is_followed_by_the_same_body(
    clean_db: Database, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    gitlab.hang_first = True
    event = _event()
    with workers(clean_db.dsn, tmp_path / "a", 1, **_env(gitlab), **SHORT_LEASE) as [doomed]:
        await record(clean_db, [event])

        async def received() -> bool:
            return len(gitlab.calls) == 1

        await eventually(received, 10, "GitLab.com receives the call")
        doomed.process.kill()  # after the peer got the call, before anything was recorded
        doomed.process.wait(timeout=10)
    with workers(clean_db.dsn, tmp_path / "b", 1, **_env(gitlab)):
        stored = await settled(clean_db, event.id, ProvisionStatus.SUCCEEDED)
    first, second = gitlab.calls
    assert second.body == first.body == {"provision": BODY}
    purchase = second.body["provision"]["add_on_purchases"]["duo_pro"][0]
    assert (purchase["purchase_xid"], purchase["started_on"]) == ("A-S00000042", "2026-01-01")
    assert stored.attempts == 2
    assert [r["attempt"] for r in stored.payload["results"]] == [2]


async def test_a_token_from_another_issuer_is_refused(
    clean_db: Database, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    event = _event(max_attempts=1)
    env: dict[str, Any] = {**_env(gitlab), "PROVISION_ISSUER": "https://impostor.test"}
    with workers(clean_db.dsn, tmp_path, 1, **env):
        await record(clean_db, [event])
        stored = await settled(clean_db, event.id, ProvisionStatus.DEAD)
    assert gitlab.calls == []
    assert gitlab.refusals == ["InvalidClaimError"]
    assert stored.last_error == "GitLabComRefused: GitLab.com answered 401: 401 Unauthorized"
