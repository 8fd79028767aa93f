"""issueOfflineLicense and the license download, over HTTP with real tokens."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from domain.principal import PrincipalKind
from persistence.database import Database

from bearer import bearer, token_for

CREATE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id name } errors { code } } }"""
ISSUE = """mutation($input: IssueOfflineLicenseInput!) { issueOfflineLicense(input: $input) {
  license { seats expiresAt mode } licenseKey downloadPath errors { code path } } }"""


async def _sell(staff: httpx.AsyncClient, **overrides: Any) -> dict[str, str]:
    fields = {
        "deployment": "DEDICATED",
        "plan": "ULTIMATE",
        "term": {"segments": [{"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": 40}]},
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": "ada@acme.test"},
        **overrides,
    }
    body = (
        await staff.post("/graphql", json={"query": CREATE, "variables": {"input": fields}})
    ).json()
    created = body["data"]["createSubscription"]
    assert created["errors"] == []
    return created["subscription"]


async def _issue(http: httpx.AsyncClient, subscription_id: str) -> Any:
    variables = {"input": {"subscriptionId": subscription_id}}
    body = (await http.post("/graphql", json={"query": ISSUE, "variables": variables})).json()
    return body["data"]["issueOfflineLicense"] if body.get("data") else body


async def test_a_dedicated_subscription_gets_a_stable_license_file(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    sub = await _sell(client)
    first = await _issue(client, sub["id"])
    assert first["errors"] == []
    assert first["license"] == {"seats": 40, "expiresAt": "2027-11-01", "mode": "OFFLINE_CLOUD"}
    again = await _issue(client, sub["id"])
    assert again["licenseKey"] == first["licenseKey"]  # nothing changed: the same bytes
    assert await clean_db.fetchval("SELECT count(*) FROM license") == 1
    download = await client.get(first["downloadPath"])
    assert download.status_code == 200
    assert download.content.decode() == first["licenseKey"]
    assert (
        download.headers["content-disposition"]
        == f'attachment; filename="{sub["name"]}.gitlab-license"'
    )


async def test_online_cloud_and_saas_subscriptions_get_no_file(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    online = await _sell(client, deployment="SELF_MANAGED")
    saas = await _sell(client, deployment="GITLAB_COM", plan="PREMIUM")
    for sub in (online, saas):
        answer = await _issue(client, sub["id"])
        assert [e["code"] for e in answer["errors"]] == ["VALIDATION_FAILED"]
    legacy = await _sell(client, deployment="SELF_MANAGED", licensingMode="LEGACY")
    assert (await _issue(client, legacy["id"]))["errors"] == []


async def test_the_download_is_tenant_scoped(
    app: Starlette, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    sub = await _sell(client)
    path = (await _issue(client, sub["id"]))["downloadPath"]
    assert (await anonymous.get(path)).status_code == 401
    stranger = token_for(app, PrincipalKind.PORTAL_USER, subject="usr_stranger")
    assert (await anonymous.get(path, headers=bearer(stranger))).status_code == 404
    gitlab = token_for(app, PrincipalKind.GITLAB_COM, subject="gitlab")
    assert (await anonymous.get(path, headers=bearer(gitlab))).status_code == 403
    assert (await client.get("/api/v1/licenses/lic_nonsense/download")).status_code == 404
    anonymous.headers.update(bearer(stranger))
    refused = await _issue(anonymous, sub["id"])
    assert [e["code"] for e in refused["errors"]] == ["NOT_FOUND"]  # not theirs: not found
