"""GitLab's Cloud Connector sync (issue 11 item 10, protocols-next §2): ``cloudConnectorAccess``
as GitLab sends it, answered with a service token that verifies through our JWKS (fetched
over HTTP as the AI gateway does) and the services the license's plan and add-ons unlock."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette

from domain.model.enums import AddOnKind, LicensingMode, Plan
from domain.model.subscription import AddOn
from persistence.database import Database

import factories as f
from bearer import bearer
from graphql_client import codes

# GitLab's query (ee/lib/gitlab/subscription_portal/clients/graphql.rb), newest shape less the
# catalog, which is served as null.
CLOUD_CONNECTOR_ACCESS = """query cloudConnectorAccess($licenseKey: String!,
  $gitlabVersion: String!) {
  cloudConnectorAccess(licenseKey: $licenseKey, gitlabVersion: $gitlabVersion) {
    serviceToken { token expiresAt }
    availableServices { name serviceStartTime bundledWith }
    catalog
  }
}"""
INSTANCE = "5d2b7c1e-8f4a-4c1b-9a53-2f8e6d0c4b71"
HEADERS = {"User-Agent": "GitLab/18.6.0", "x-gitlab-instance-id": INSTANCE,
           "x-gitlab-realm": "self-managed", "x-gitlab-version": "18.6.0",
           "x-gitlab-host-name": "gitlab.example.com"}  # fmt: skip


async def _licensed(db: Database, key: str, **changes: Any) -> None:
    customer = f.customer()
    sub = f.subscription(customer, plan=Plan.ULTIMATE)
    duo = AddOn(AddOnKind.DUO_PRO, 5, sub.start_date, sub.end_date)
    license_ = dataclasses.replace(f.license_for(sub, key=key), add_ons=(duo,), **changes)
    await f.store(db, customer, sub, license_)


async def _sync(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    answer = await http.post(
        "/graphql",
        json={
            "query": CLOUD_CONNECTOR_ACCESS,
            "variables": {"licenseKey": key, "gitlabVersion": "18.6.0"},
        },
        headers=HEADERS,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_online_cloud_license_gets_a_verifiable_token_and_its_services(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    await _licensed(clean_db, "ONLINE-KEY")
    body = await _sync(anonymous, "ONLINE-KEY")
    assert "errors" not in body, body
    access = body["data"]["cloudConnectorAccess"]
    services = {s["name"]: s for s in access["availableServices"]}
    assert services["code_suggestions"] == {
        "name": "code_suggestions",
        "serviceStartTime": "2024-02-15T00:00:00Z",
        "bundledWith": ["duo_pro"],
    }
    assert services["duo_chat"]["bundledWith"] == ["duo_pro"]
    assert services["include_file_context"]["serviceStartTime"] is None  # free
    assert "generate_description" not in services  # Duo Enterprise only
    assert access["catalog"] is None

    # The AI gateway's way: discovery, then its jwks_uri, then RS256 only.
    discovery = (await anonymous.get("/.well-known/openid-configuration")).json()
    jwks = (await anonymous.get(httpx.URL(discovery["jwks_uri"]).path)).json()
    token = access["serviceToken"]["token"]
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = decoded.claims
    jwt.JWTClaimsRegistry(
        now=int(app.state.clock.now().timestamp()) + 1,
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": "gitlab-ai-gateway"},
        sub={"essential": True, "value": INSTANCE},
        exp={"essential": True},
        nbf={"essential": True},
    ).validate(claims)
    # Issued on the app's clock (anchored at the factories' now), never the system's.
    assert f.NOW.timestamp() <= claims["iat"] <= app.state.clock.now().timestamp()
    assert claims["exp"] - claims["iat"] == timedelta(days=3).total_seconds()
    assert claims["nbf"] == claims["iat"] - 5
    assert access["serviceToken"]["expiresAt"] == claims["exp"]
    assert uuid.UUID(claims["jti"])
    assert claims["gitlab_realm"] == "self-managed"
    assert claims["gitlab_instance_id"] == INSTANCE
    assert claims["duo_seat_count"] == 5
    assert {"code_suggestions", "duo_chat", "explain_code"} <= set(claims["scopes"])
    assert "ask_build" not in claims["scopes"]  # a Duo Enterprise primitive

    # A service token is no access token here.
    refused = await anonymous.post("/graphql", json={"query": "{ viewer { kind } }"},
                                   headers=bearer(token))  # fmt: skip
    assert refused.status_code == 401


async def test_unknown_offline_and_long_expired_keys_get_a_top_level_error(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    await _licensed(clean_db, "OFFLINE-KEY", mode=LicensingMode.OFFLINE_CLOUD)
    await _licensed(clean_db, "LEGACY-KEY", mode=LicensingMode.LEGACY)
    await _licensed(clean_db, "CANCELLED-KEY", cancelled=True)
    await _licensed(clean_db, "EXPIRED-KEY", expires_at=f.TODAY - timedelta(days=15))
    await _licensed(clean_db, "IN-GRACE-KEY", expires_at=f.TODAY - timedelta(days=10))
    expected = {
        "NO-SUCH-KEY": "NOT_FOUND",
        "OFFLINE-KEY": "LICENSE_NOT_ONLINE_CLOUD",
        "LEGACY-KEY": "LICENSE_NOT_ONLINE_CLOUD",
        "CANCELLED-KEY": "LICENSE_NOT_ONLINE_CLOUD",
        "EXPIRED-KEY": "LICENSE_EXPIRED",
    }
    for key, code in expected.items():
        body = await _sync(anonymous, key)
        assert body["data"] == {"cloudConnectorAccess": None}, key
        assert codes(body) == [code], key
    assert "errors" not in await _sync(anonymous, "IN-GRACE-KEY")
