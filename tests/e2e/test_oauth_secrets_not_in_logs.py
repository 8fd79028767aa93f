"""No password, client secret, code, refresh token or access token reaches a log record,
authlib's debug records included (it logs issued tokens with ``%r``)."""

from __future__ import annotations

import logging

import httpx
import pytest

from domain.principal import PrincipalKind
from persistence.database import Database

from oauth_flow import (
    PASSWORD,
    code_for,
    exchange,
    machine_client,
    pkce,
    portal_client,
    refresh,
    sign_in,
    user,
    viewer,
)


async def test_the_flows_log_no_secret(
    client: httpx.AsyncClient, clean_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = [PASSWORD, "a-wrong-password"]
    portal = await portal_client(clean_db, confidential=True)
    assert portal.client_secret
    secrets.append(portal.client_secret)
    await user(clean_db)
    robot = await machine_client(clean_db, PrincipalKind.PARTNER, partner_id="p-1")
    assert robot.client_secret
    secrets.append(robot.client_secret)

    verifier, challenge = pkce()
    secrets.append(verifier)
    await sign_in(client, portal.client_id, challenge, password="a-wrong-password")
    code = await code_for(client, portal.client_id, challenge)
    secrets.append(code)
    auth = (portal.client_id, portal.client_secret)
    first = (
        await client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "https://portal.example/callback",
                "code_verifier": verifier,
            },
            auth=auth,
        )
    ).json()
    assert "refresh_token" in first, first
    secrets += [first["access_token"], first["refresh_token"]]
    await viewer(client, first["access_token"])
    second = (
        await client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=auth,
        )
    ).json()
    secrets += [second.get("access_token", "-"), second.get("refresh_token", "-")]
    await refresh(client, portal.client_id, first["refresh_token"])
    await client.post("/oauth/revoke", data={"token": second["refresh_token"]}, auth=auth)
    await exchange(client, portal.client_id, code, verifier, client_secret=portal.client_secret)
    for body in (
        {"grant_type": "client_credentials"},
        {
            "grant_type": "client_credentials",
            "client_id": robot.client_id,
            "client_secret": robot.client_secret,
        },
    ):
        kwargs = {"auth": (robot.client_id, robot.client_secret)} if len(body) == 1 else {}
        issued = (await client.post("/oauth/token", data=body, **kwargs)).json()  # type: ignore[arg-type]
        secrets.append(issued["access_token"])
    await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(robot.client_id, "nope")
    )

    records = caplog.records
    assert any(r.name.startswith("authlib") for r in records), "authlib's debug logs not seen"
    assert any("Issue token" in r.getMessage() for r in records)
    for record in records:
        text = f"{record.getMessage()} {record.args!r} {record.msg!r}"
        for secret in secrets:
            assert secret not in text, f"{record.name} logged a secret"
