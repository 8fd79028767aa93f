"""Client credentials over HTTP: both ways to send the secret, refusals with RFC 6749 errors,
scopes narrowed to what the client and its kind may hold, the partner claim; and bad input
never gets a 500."""

from __future__ import annotations

import httpx
import pytest

from domain.policy import ALL_SCOPES
from domain.principal import PrincipalKind
from persistence.database import Database

from oauth_flow import claims, machine_client, portal_client, viewer

GRANT = {"grant_type": "client_credentials"}


async def test_basic_and_post_authentication(client: httpx.AsyncClient, clean_db: Database) -> None:
    robot = await machine_client(clean_db, PrincipalKind.STAFF, scopes=["audit:read"])
    assert robot.client_secret
    basic = await client.post(
        "/oauth/token", data=GRANT, auth=(robot.client_id, robot.client_secret)
    )
    post = await client.post(
        "/oauth/token",
        data={**GRANT, "client_id": robot.client_id, "client_secret": robot.client_secret},
    )
    for response in (basic, post):
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert "refresh_token" not in body
        assert body["scope"] == "audit:read"
        token = claims(body["access_token"])
        assert token["sub"] == robot.client_id
        assert token["client_id"] == robot.client_id
        assert token["provision_kind"] == "STAFF"
        assert "sid" not in token
    me = await viewer(client, basic.json()["access_token"])
    assert me.json()["data"]["viewer"] == {
        "kind": "STAFF",
        "subject": robot.client_id,
        "scopes": ["audit:read"],
    }


async def test_a_wrong_secret_or_unknown_client_is_invalid_client(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    robot = await machine_client(clean_db, PrincipalKind.GITLAB_COM)
    for auth in ((robot.client_id, "wrong"), ("cl_nobody", "secret")):
        response = await client.post("/oauth/token", data=GRANT, auth=auth)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")
    posted = await client.post(
        "/oauth/token", data={**GRANT, "client_id": robot.client_id, "client_secret": "wrong"}
    )
    assert posted.status_code == 401
    assert posted.json()["error"] == "invalid_client"
    public = await portal_client(clean_db)
    assert (
        await client.post("/oauth/token", data={**GRANT, "client_id": public.client_id})
    ).json()["error"] == "invalid_client"


async def test_scopes_are_narrowed_to_the_client_and_its_kind(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    gitlab = await machine_client(clean_db, PrincipalKind.GITLAB_COM)
    assert gitlab.client_secret
    auth = (gitlab.client_id, gitlab.client_secret)
    everything = (await client.post("/oauth/token", data=GRANT, auth=auth)).json()
    assert everything["scope"] == "namespaces:read namespaces:write trials:read trials:write"
    narrowed = await client.post(
        "/oauth/token", data={**GRANT, "scope": "trials:read audit:read"}, auth=auth
    )
    assert narrowed.json()["scope"] == "trials:read"
    assert claims(narrowed.json()["access_token"])["scope"] == "trials:read"
    beyond = await client.post("/oauth/token", data={**GRANT, "scope": "audit:read"}, auth=auth)
    assert beyond.status_code == 400
    assert beyond.json()["error"] == "invalid_scope"
    unknown = await client.post("/oauth/token", data={**GRANT, "scope": "root"}, auth=auth)
    assert unknown.json()["error"] == "invalid_scope"


async def test_a_partner_token_names_the_partner(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    partner = await machine_client(clean_db, PrincipalKind.PARTNER, partner_id="partner-42")
    assert partner.client_secret
    body = (
        await client.post(
            "/oauth/token", data=GRANT, auth=(partner.client_id, partner.client_secret)
        )
    ).json()
    token = claims(body["access_token"])
    assert token["provision_kind"] == "PARTNER"
    assert token["provision_partner"] == "partner-42"


async def test_unknown_and_unauthorized_grant_types(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    robot = await machine_client(clean_db, PrincipalKind.STAFF)
    assert robot.client_secret
    auth = (robot.client_id, robot.client_secret)
    unknown = await client.post("/oauth/token", data={"grant_type": "password"}, auth=auth)
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unsupported_grant_type"
    missing = await client.post("/oauth/token", data={"scope": "audit:read"}, auth=auth)
    assert missing.json()["error"] == "unsupported_grant_type"
    empty = await client.post("/oauth/token", auth=auth)
    assert empty.json()["error"] == "invalid_request"
    code = await client.post(
        "/oauth/token", data={"grant_type": "authorization_code", "code": "x"}, auth=auth
    )
    assert code.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"json": {"grant_type": "client_credentials"}}, 400, "invalid_request"),
        (
            {
                "content": b"grant_type=\xff\xfe",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            400,
            "invalid_request",
        ),
        (
            {
                "content": b"grant_type=%ff",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            400,
            "invalid_request",
        ),
        (
            {"data": {"grant_type": "client_credentials", "scope": "x" * 100_000}},
            400,
            "invalid_request",
        ),
        (
            {
                "content": b"&".join([b"a=b"] * 500),
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            400,
            "invalid_request",
        ),
        (
            {
                "content": b"grant_type=client_credentials&grant_type=password",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            400,
            "invalid_request",
        ),
        (
            {
                "data": {
                    "grant_type": "client_credentials",
                    "client_id": "a\x00b",
                    "client_secret": "s",
                }
            },
            400,
            "invalid_request",
        ),
        (
            {"data": GRANT, "headers": {"authorization": "Basic !!!notbase64"}},
            401,
            "invalid_client",
        ),
        ({"data": GRANT, "headers": {"authorization": "Basic /w=="}}, 401, "invalid_client"),
        # Credentials in the form: authlib answers 400 (401 is for the Authorization header).
        ({"data": {**GRANT, "client_id": "x" * 4000, "client_secret": "y"}}, 400, "invalid_client"),
        (
            {"data": {"grant_type": "authorization_code", "client_id": "c", "code": '\u00e9"x'}},
            400,
            "invalid_client",
        ),
    ],
)
async def test_garbage_is_a_400_or_401_never_a_500(
    client: httpx.AsyncClient,
    clean_db: Database,
    kwargs: dict[str, object],
    status: int,
    error: str,
) -> None:
    response = await client.post("/oauth/token", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


async def test_discovery_names_the_endpoints(client: httpx.AsyncClient) -> None:
    discovery = (await client.get("/.well-known/openid-configuration")).json()
    assert discovery["token_endpoint"].endswith("/oauth/token")
    assert discovery["authorization_endpoint"].endswith("/oauth/authorize")
    assert discovery["revocation_endpoint"].endswith("/oauth/revoke")
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    assert set(discovery["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "refresh_token",
    }
    assert set(discovery["scopes_supported"]) == ALL_SCOPES
