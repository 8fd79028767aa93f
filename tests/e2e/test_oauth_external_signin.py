"""Signing in through an external OpenID provider: the real app (over ASGI) with a fake
provider on a real socket (oidc_peer.py). The browser's part is walked by hand: the sign-in
page's button posts to /oauth/external/start, the provider redirects back to the callback, the
callback continues the portal client's authorization request, and the client exchanges ITS
code for Provision's token as after a password sign-in. Every refusal is a readable page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings, SettingsError
from auth.backend import KIND_CLAIM
from auth.external_signin import (
    COOKIE_NAME,
    EXPIRED,
    NOT_TRUSTED,
    UNAVAILABLE,
    ExternalSignIn,
    ExternalSignInSettings,
    SignInRefused,
)
from auth.external_signin_endpoints import DENIED, UNVERIFIED
from auth.keys import KeyRing, new_key
from persistence.database import Database

import factories as f
from clocks import TickingClock
from ledger_peer import free_port
from oauth_flow import (
    REDIRECT_URI,
    authorize_params,
    claims,
    exchange,
    pkce,
    portal_client,
    query_of,
    user,
    viewer,
)
from oidc_peer import CLIENT_ID, CLIENT_SECRET, OpenIDPeer, serving_openid_provider

BASE = "http://127.0.0.1:8000"  # authlib accepts http on loopback only
EMAIL = "wile@acme.example"
CLOCK = TickingClock(f.NOW)


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIDPeer]:
    with serving_openid_provider(CLOCK.now) as peer:
        yield peer


@pytest.fixture(scope="module")
async def federated_app(database_url: str, provider: OpenIDPeer) -> AsyncIterator[Starlette]:
    settings = Settings(
        database_url=database_url,
        pool_max=2,
        gc_interval=0,
        issuer=BASE,
        external_signin_issuer=provider.url,
        external_signin_client_id=CLIENT_ID,
        external_signin_client_secret=CLIENT_SECRET,
        external_signin_name="Acme SSO",
    )
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def browser(
    federated_app: Starlette, clean_db: Database, provider: OpenIDPeer
) -> AsyncIterator[httpx.AsyncClient]:
    """The person's browser toward Provision (its cookie jar included)."""
    provider.reset()
    transport = httpx.ASGITransport(app=federated_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def _at_provider(location: str) -> str:
    """The browser at the provider: where it is sent back to."""
    async with httpx.AsyncClient() as outside:
        answer = await outside.get(location)
    assert answer.status_code == 302, answer.text
    back: str = answer.headers["location"]
    assert back.startswith(f"{BASE}/oauth/external/callback?")
    return back


async def _start(browser: httpx.AsyncClient, client_id: str, challenge: str) -> httpx.Response:
    started = await browser.post(
        "/oauth/external/start", data=authorize_params(client_id, challenge)
    )
    assert started.status_code == 303, started.text
    return started


async def _through_provider(
    browser: httpx.AsyncClient, client_id: str, challenge: str
) -> httpx.Response:
    started = await _start(browser, client_id, challenge)
    return await browser.get(await _at_provider(started.headers["location"]))


async def _refused(response: httpx.Response, message: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert "Traceback" not in response.text
    assert message.split(",")[0] in response.text.replace("&#x27;", "'")
    # The state is spent: the cookie is cleared whatever happened.
    assert f'{COOKIE_NAME}=""' in response.headers.get("set-cookie", "")


async def test_the_sign_in_page_offers_the_provider_and_the_portal_gets_its_own_token(
    browser: httpx.AsyncClient, clean_db: Database, provider: OpenIDPeer
) -> None:
    portal = await portal_client(clean_db)
    wile = await user(clean_db, EMAIL)
    verifier, challenge = pkce()

    page = await browser.get(
        "/oauth/authorize", params=authorize_params(portal.client_id, challenge)
    )
    assert page.status_code == 200
    assert 'action="/oauth/external/start"' in page.text
    assert "Sign in with Acme SSO" in page.text

    started = await _start(browser, portal.client_id, challenge)
    cookie = started.headers["set-cookie"].lower()
    for flag in ("httponly", "path=/oauth/external/callback", "samesite=lax", "max-age=600"):
        assert flag in cookie
    back = await _at_provider(started.headers["location"])
    at_provider = provider.authorize_calls[0]
    assert at_provider["client_id"] == CLIENT_ID
    assert at_provider["code_challenge_method"] == "S256"
    assert at_provider["code_challenge"]
    assert at_provider["nonce"]
    assert at_provider["state"]
    assert at_provider["scope"] == "openid email"
    assert at_provider["redirect_uri"] == f"{BASE}/oauth/external/callback"

    done = await browser.get(back)
    assert done.status_code == 302, done.text
    assert done.headers["location"].startswith(REDIRECT_URI + "?")
    returned = query_of(done.headers["location"])
    assert returned["state"] == "state-123"  # the portal's own state, untouched
    # The provider checked the PKCE verifier and the client secret (else no ID token).
    assert provider.token_calls[0]["code_verifier"]

    token = await exchange(browser, portal.client_id, returned["code"], verifier)
    assert token.status_code == 200, token.text
    access = claims(token.json()["access_token"])
    assert access["sub"] == wile.subject
    assert access["email"] == EMAIL
    assert access[KIND_CLAIM] == "PORTAL_USER"
    me = await viewer(browser, token.json()["access_token"])
    assert me.json()["data"]["viewer"]["subject"] == wile.subject


async def test_without_the_setting_there_is_no_button_and_no_route(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    _, challenge = pkce()
    page = await anonymous.get(
        "/oauth/authorize", params=authorize_params(portal.client_id, challenge)
    )
    assert page.status_code == 200
    assert "/oauth/external/start" not in page.text
    started = await anonymous.post(
        "/oauth/external/start", data=authorize_params(portal.client_id, challenge)
    )
    assert started.status_code in (404, 405)


SPOILED = {
    "wrong nonce": {"nonce": "not-the-one-we-sent"},
    "wrong audience": {"aud": "someone-else"},
    "expired": {
        "exp": int((f.NOW - timedelta(minutes=10)).timestamp()),
        "iat": int((f.NOW - timedelta(minutes=15)).timestamp()),
    },
    "another issuer": {"iss": "https://evil.example"},
}


@pytest.mark.parametrize("case", [*SPOILED, "bad signature"])
async def test_an_id_token_that_cannot_be_trusted_signs_no_one_in(
    case: str, browser: httpx.AsyncClient, clean_db: Database, provider: OpenIDPeer
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db, EMAIL)
    _, challenge = pkce()
    if case == "bad signature":
        provider.forge = True
    else:
        provider.claims.update(SPOILED[case])
    done = await _through_provider(browser, portal.client_id, challenge)
    await _refused(done, NOT_TRUSTED)
    assert "Back to the sign-in page" in done.text  # the pending request is known


async def test_a_forged_or_missing_state_is_refused(
    browser: httpx.AsyncClient, clean_db: Database, provider: OpenIDPeer, federated_app: Starlette
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db, EMAIL)
    _, challenge = pkce()
    started = await _start(browser, portal.client_id, challenge)
    back = await _at_provider(started.headers["location"])
    code = query_of(back)["code"]

    forged = await browser.get(
        "/oauth/external/callback", params={"code": code, "state": "attacker-state"}
    )
    await _refused(forged, EXPIRED)
    # Another browser (no cookie: a login-CSRF attempt) with the genuine state and code.
    transport = httpx.ASGITransport(app=federated_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as other:
        stolen = await other.get(back)
    await _refused(stolen, EXPIRED)
    # A forged cookie: same shape, not signed by Provision.
    browser.cookies.set(COOKIE_NAME, "e30.e30.c2ln", path="/oauth/external/callback")
    tampered = await browser.get(back)
    await _refused(tampered, EXPIRED)
    assert provider.token_calls == []  # the code was never exchanged


async def test_denied_at_the_provider(
    browser: httpx.AsyncClient, clean_db: Database, provider: OpenIDPeer
) -> None:
    portal = await portal_client(clean_db)
    _, challenge = pkce()
    provider.deny = True
    done = await _through_provider(browser, portal.client_id, challenge)
    await _refused(done, DENIED)


async def test_the_provider_down_at_the_exchange_is_a_readable_page(
    browser: httpx.AsyncClient, clean_db: Database, provider: OpenIDPeer
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db, EMAIL)
    _, challenge = pkce()
    started = await _start(browser, portal.client_id, challenge)
    back = await _at_provider(started.headers["location"])
    provider.down = True
    done = await browser.get(back)
    await _refused(done, UNAVAILABLE, 502)


async def test_a_provider_that_does_not_answer_discovery() -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ring = KeyRing((new_key(f.NOW),))
    signin = ExternalSignIn(
        ExternalSignInSettings(issuer=dead, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        keys=lambda: ring,
        issuer=BASE,
        now=CLOCK.now,
    )
    try:
        with pytest.raises(SignInRefused) as refused:
            await signin.start([("client_id", "x")])
    finally:
        await signin.close()
    assert refused.value.status == 502
    assert refused.value.message == UNAVAILABLE


async def test_the_provider_down_at_discovery_through_the_app(
    database_url: str, clean_db: Database
) -> None:
    settings = Settings(
        database_url=database_url,
        pool_max=2,
        gc_interval=0,
        issuer=BASE,
        external_signin_issuer=f"http://127.0.0.1:{free_port()}",
        external_signin_client_id=CLIENT_ID,
        external_signin_client_secret=CLIENT_SECRET,
    )
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        portal = await portal_client(clean_db)
        _, challenge = pkce()
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            started = await http.post(
                "/oauth/external/start", data=authorize_params(portal.client_id, challenge)
            )
    assert started.status_code == 502
    assert "cannot be reached" in started.text
    assert "location" not in started.headers


@pytest.mark.parametrize("case", ["unknown email", "unverified email", "staff user"])
async def test_only_an_existing_portal_user_with_a_verified_email_signs_in(
    case: str, browser: httpx.AsyncClient, clean_db: Database, provider: OpenIDPeer
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db, EMAIL, staff=case == "staff user")
    _, challenge = pkce()
    if case == "unknown email":
        provider.email = "roadrunner@elsewhere.example"
    if case == "unverified email":
        provider.email_verified = False
    done = await _through_provider(browser, portal.client_id, challenge)
    if case == "unverified email":
        await _refused(done, UNVERIFIED)
    else:
        await _refused(done, "No Provision customer account uses the email address", 403)


async def test_an_authorization_request_refused_before_the_provider_is_asked(
    browser: httpx.AsyncClient, clean_db: Database, provider: OpenIDPeer
) -> None:
    portal = await portal_client(clean_db)
    _, challenge = pkce()
    unknown = await browser.post(
        "/oauth/external/start", data=authorize_params("cl_unknown", challenge)
    )
    assert unknown.status_code == 400
    assert "not registered" in unknown.text
    no_pkce = await browser.post(
        "/oauth/external/start", data=authorize_params(portal.client_id, None)
    )
    assert no_pkce.status_code == 302  # an error the client may hear: back to its redirect URI
    assert query_of(no_pkce.headers["location"])["error"] == "invalid_request"
    cross_site = await browser.post(
        "/oauth/external/start",
        data=authorize_params(portal.client_id, challenge),
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert "started from another site" in cross_site.text
    assert provider.authorize_calls == []


async def test_nothing_secret_is_logged(
    browser: httpx.AsyncClient,
    clean_db: Database,
    provider: OpenIDPeer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db, EMAIL)
    _, challenge = pkce()
    with caplog.at_level(logging.DEBUG):
        started = await _start(browser, portal.client_id, challenge)
        back = await _at_provider(started.headers["location"])
        done = await browser.get(back)
    assert done.status_code == 302
    cookie = browser.cookies.get(COOKIE_NAME) or started.headers["set-cookie"].split(";")[0]
    secrets_seen = [
        query_of(back)["code"],
        query_of(done.headers["location"])["code"],
        cookie.split("=", 1)[-1],
        CLIENT_SECRET,
        provider.authorize_calls[0]["nonce"],
    ]
    # The test's own HTTP client (the browser) logs the URLs it visits; Provision's lines:
    ours = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "external sign-in of" in ours
    for secret in secrets_seen:
        assert secret not in ours


def test_the_settings_go_together_and_the_secret_is_masked() -> None:
    with pytest.raises(SettingsError, match="together"):
        Settings.from_env({"PROVISION_EXTERNAL_SIGNIN_ISSUER": "https://sso.example"})
    with pytest.raises(SettingsError, match="PROVISION_EXTERNAL_SIGNIN_ISSUER"):
        Settings.from_env({"PROVISION_EXTERNAL_SIGNIN_ISSUER": "sso.example"})
    env = {
        "PROVISION_EXTERNAL_SIGNIN_ISSUER": "https://sso.example",
        "PROVISION_EXTERNAL_SIGNIN_CLIENT_ID": "provision",
        "PROVISION_EXTERNAL_SIGNIN_CLIENT_SECRET": "s3cret-value",
    }
    settings = Settings.from_env(env)
    shown = {name: value for name, value, _ in settings.effective(env)}
    assert shown["PROVISION_EXTERNAL_SIGNIN_CLIENT_SECRET"] == "********"
    assert "s3cret-value" not in repr(settings.external_signin_settings)
    assert settings.external_signin_settings is not None
    assert settings.external_signin_settings.name == "sso.example"
