"""`provision client create`, `client list`, `client revoke`, `user create`, `keys rotate`
and `token issue --client/--user` against DATABASE_URL; what they make works over HTTP, and
what they end stops working (at once, or from the servers' next key reload)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from persistence.database import Database

import factories as f
from oauth_flow import (
    claims,
    code_for,
    exchange,
    pkce,
    portal_client,
    refresh,
    user,
    viewer,
)

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

PROVISION = [sys.executable, "-m", "api.cli.main"]


@pytest.fixture(scope="module")
async def system_app(database_url: str) -> AsyncIterator[Starlette]:
    """An app on the system clock: the CLI is a process of its own and stamps its tokens with
    the real time, so the app that checks them reads the same clock."""
    application = create_app(Settings(database_url=database_url, pool_max=2, gc_interval=0))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def on_system_clock(
    system_app: Starlette, clean_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=system_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        yield http


def _run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url, **env)
    return subprocess.run(
        [*PROVISION, *args], env=environment, capture_output=True, timeout=60, check=False
    )


async def _partner(db: Database, partner_id: str) -> None:
    """A registered partner: partner clients act for one (``provision partner create``)."""
    await db.fetch(
        "INSERT INTO partner (id, name, kind, created_at) VALUES ($1, $1, 'RESELLER', now())",
        partner_id,
    )


async def test_client_create_prints_credentials_that_work(
    client: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
    await _partner(clean_db, "p-7")
    created = _run(
        database_url,
        "client", "create", "--kind", "partner", "--name", "Reseller", "--partner", "p-7",
        "--scope", "subscriptions:read", "--scope", "customers:read",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr.decode()
    credentials = json.loads(created.stdout)
    assert set(credentials) == {"client_id", "client_secret"}
    token = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "customers:read subscriptions:read"
    assert claims(token.json()["access_token"])["provision_partner"] == "p-7"
    stored = await clean_db.fetchval("SELECT secret_hash FROM auth_client")
    assert stored != credentials["client_secret"]

    minted = _run(
        database_url, "token", "issue", "--client", credentials["client_id"],
        "--scope", "customers:read",
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr.decode()
    cli_token = claims(minted.stdout.decode().strip())
    assert cli_token["sub"] == credentials["client_id"]
    assert cli_token["scope"] == "customers:read"
    assert cli_token["provision_kind"] == "PARTNER"

    refused = _run(database_url, "client", "create", "--kind", "partner", "--name", "No id")
    assert refused.returncode == 2
    assert b"partner id is required" in refused.stderr


async def test_user_create_with_a_membership_then_a_token_for_the_user(
    on_system_clock: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
    customer_id = uuid.uuid4()
    await clean_db.fetch(
        "INSERT INTO customer (id, company, contact_name, contact_email, created_at)"
        " VALUES ($1, 'Acme', 'Ada', 'ada@acme.example', now())",
        customer_id,
    )
    created = _run(
        database_url,
        "user", "create", "--email", "Ada@Acme.example",
        "--customer", str(customer_id), "--role", "OWNER",
        PROVISION_USER_PASSWORD="a long enough password",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr.decode()
    made = json.loads(created.stdout)
    assert made["email"] == "ada@acme.example"
    assert made["subject"].startswith("usr_")
    assert len(made["subject"]) == 36
    row = await clean_db.fetchrow(
        "SELECT customer, role FROM membership WHERE user_subject = $1", made["subject"]
    )
    assert row is not None
    assert (row["customer"], row["role"]) == (customer_id, "OWNER")
    stored = await clean_db.fetchval("SELECT password_hash FROM auth_user")
    assert stored.startswith("scrypt$")

    again = _run(
        database_url, "user", "create", "--email", "ada@ACME.example",
        PROVISION_USER_PASSWORD="a long enough password",
    )  # fmt: skip
    assert again.returncode == 2
    assert b"exists" in again.stderr

    minted = _run(database_url, "token", "issue", "--user", "ada@acme.example")
    assert minted.returncode == 0, minted.stderr.decode()
    me = (await viewer(on_system_clock, minted.stdout.decode().strip())).json()["data"]["viewer"]
    assert me["kind"] == "PORTAL_USER"
    assert me["subject"] == made["subject"]


async def test_keys_rotate_prints_the_new_current_key(
    clean_db: Database, database_url: str, app: Starlette
) -> None:
    before = await clean_db.fetchval(
        "SELECT kid FROM auth_signing_key WHERE retired_at IS NULL ORDER BY created_at DESC"
    )
    rotated = _run(database_url, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr.decode()
    kid = rotated.stdout.decode().strip()
    rows = await clean_db.fetch("SELECT kid, retired_at FROM auth_signing_key")
    active = [row["kid"] for row in rows if row["retired_at"] is None]
    assert active == [kid]
    assert kid != before
    assert before in {row["kid"] for row in rows}  # kept, retired, to verify older tokens
    await app.state.keys.reload()  # the session's app must know the key the CLI now signs with


async def test_token_issue_for_an_instance_names_its_subscription(database_url: str) -> None:
    subscription = uuid.uuid4()
    minted = _run(
        database_url, "token", "issue", "--kind", "INSTANCE", "--subject", "instance-1",
        "--subscription", str(subscription),
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr.decode()
    token = claims(minted.stdout.decode().strip())
    assert token["provision_subscription"] == str(subscription)
    assert set(token["scope"].split()) == {
        "subscriptions:read", "licenses:read", "instances:read", "usage:read", "usage:write"
    }  # fmt: skip


async def test_trials_expire_runs_the_job_once_on_demand(
    clean_db: Database, database_url: str
) -> None:
    group = f.namespace(77)
    ended = f.trial_on(group, days_left=-1)  # ended yesterday, never reverted
    await f.store(clean_db, group, ended)
    ran = _run(database_url, "trials", "expire")
    assert ran.returncode == 0, ran.stderr.decode()
    assert ran.stdout.decode().strip() == "1 ended trial(s) reverted"
    assert await clean_db.fetchval("SELECT count(*) FROM provision_event") == 1
    again = _run(database_url, "trials", "expire")
    assert again.stdout.decode().strip() == "0 ended trial(s) reverted"


def _machine(database_url: str, name: str = "Robot") -> dict[str, str]:
    created = _run(database_url, "client", "create", "--kind", "staff", "--name", name)
    assert created.returncode == 0, created.stderr.decode()
    credentials: dict[str, str] = json.loads(created.stdout)
    return credentials


async def _client_credentials(
    http: httpx.AsyncClient, credentials: dict[str, str]
) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
    )


async def test_client_revoke_ends_its_tokens_from_the_next_key_reload(
    on_system_clock: httpx.AsyncClient, system_app: Starlette, database_url: str
) -> None:
    robot = _machine(database_url)
    bystander = _machine(database_url, "Other robot")
    issued = await _client_credentials(on_system_clock, robot)
    assert issued.status_code == 200, issued.text
    endpoint_token = issued.json()["access_token"]
    minted = _run(database_url, "token", "issue", "--client", robot["client_id"])
    assert minted.returncode == 0, minted.stderr.decode()
    cli_token = minted.stdout.decode().strip()
    other_token = (await _client_credentials(on_system_clock, bystander)).json()["access_token"]
    for token in (endpoint_token, cli_token, other_token):
        assert (await viewer(on_system_clock, token)).status_code == 200  # verified, remembered

    revoked = _run(database_url, "client", "revoke", robot["client_id"])
    assert revoked.returncode == 0, revoked.stderr.decode()
    assert b"revoked" in revoked.stdout
    # No new tokens, from the token endpoint or the CLI.
    again = await _client_credentials(on_system_clock, robot)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
    refused = _run(database_url, "token", "issue", "--client", robot["client_id"])
    assert refused.returncode == 1
    # The servers' next reload of the key ring (every PROVISION_KEY_REFRESH seconds).
    await system_app.state.keys.reload()
    for token in (endpoint_token, cli_token):
        answer = await viewer(on_system_clock, token)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert (await viewer(on_system_clock, other_token)).status_code == 200

    twice = _run(database_url, "client", "revoke", robot["client_id"])
    assert twice.returncode == 0, twice.stderr.decode()
    assert b"already revoked" in twice.stdout
    unknown = _run(database_url, "client", "revoke", "cl_nobody")
    assert unknown.returncode == 1
    assert b"no such client: 'cl_nobody'" in unknown.stderr


async def test_client_revoke_ends_a_portal_sign_in_at_once(
    client: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    verifier, challenge = pkce()
    code = await code_for(client, portal.client_id, challenge)
    body = (await exchange(client, portal.client_id, code, verifier)).json()
    assert (await viewer(client, body["access_token"])).status_code == 200

    revoked = _run(database_url, "client", "revoke", portal.client_id)
    assert revoked.returncode == 0, revoked.stderr.decode()
    # Its sign-ins end at once, no reload needed: the family (sid) is asked on each request.
    assert (await viewer(client, body["access_token"])).status_code == 401
    renewed = await refresh(client, portal.client_id, body["refresh_token"])
    assert renewed.status_code == 400, renewed.text  # a public client: no Basic challenge
    assert renewed.json()["error"] == "invalid_client"
    left = await clean_db.fetch(
        "SELECT revoked_at FROM auth_refresh_token UNION ALL"
        " SELECT revoked_at FROM auth_token_family"
    )
    assert left
    assert all(row["revoked_at"] is not None for row in left)


async def test_client_list_shows_every_client_revoked_ones_too_in_pages(
    clean_db: Database, database_url: str
) -> None:
    first = _machine(database_url, "First")
    await _partner(clean_db, "p-7")
    partner = _run(
        database_url, "client", "create", "--kind", "partner", "--name", "Reseller",
        "--partner", "p-7", "--scope", "customers:read",
    )  # fmt: skip
    second = json.loads(partner.stdout)
    assert _run(database_url, "client", "revoke", first["client_id"]).returncode == 0

    listed = _run(database_url, "client", "list", "--json")
    assert listed.returncode == 0, listed.stderr.decode()
    rows = {row["client_id"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {first["client_id"], second["client_id"]}
    assert rows[first["client_id"]]["revoked_at"] is not None
    assert rows[first["client_id"]]["kind"] == "STAFF"
    assert rows[second["client_id"]] | {"created_at": None} == {
        "client_id": second["client_id"],
        "kind": "PARTNER",
        "name": "Reseller",
        "partner": "p-7",
        "scopes": ["customers:read"],
        "created_at": None,
        "revoked_at": None,
    }
    assert "secret" not in listed.stdout.decode()

    page = _run(database_url, "client", "list", "--limit", "1")
    assert page.returncode == 0, page.stderr.decode()
    lines = page.stdout.decode().splitlines()
    assert lines[0].split()[:2] == ["CLIENT", "ID"]
    assert len(lines) == 2
    assert lines[1].startswith(first["client_id"])
    assert f"--after {first['client_id']}".encode() in page.stderr
    rest = _run(database_url, "client", "list", "--after", first["client_id"])
    assert [line.split()[0] for line in rest.stdout.decode().splitlines()[1:]] == [
        second["client_id"]
    ]
    assert b"more clients" not in rest.stderr
    bad = _run(database_url, "client", "list", "--limit", "0")
    assert bad.returncode == 2
    assert b"--limit is 1 to 1000" in bad.stderr


async def test_keys_rotate_revoke_old_ends_every_older_token_from_the_next_reload(
    on_system_clock: httpx.AsyncClient, system_app: Starlette, database_url: str, app: Starlette
) -> None:
    robot = _machine(database_url)
    old = (await _client_credentials(on_system_clock, robot)).json()["access_token"]
    assert (await viewer(on_system_clock, old)).status_code == 200
    old_kid = system_app.state.keys().current.kid

    rotated = _run(database_url, "keys", "rotate", "--revoke-old")
    assert rotated.returncode == 0, rotated.stderr.decode()
    kid = rotated.stdout.decode().strip()
    assert b"old key(s) revoked" in rotated.stderr
    await system_app.state.keys.reload()  # what every server does within PROVISION_KEY_REFRESH
    refused = await viewer(on_system_clock, old)
    assert refused.status_code == 401, refused.text
    published = {key["kid"] for key in (await on_system_clock.get("/oauth/jwks")).json()["keys"]}
    assert published == {kid}
    assert old_kid not in published
    new = (await _client_credentials(on_system_clock, robot)).json()["access_token"]
    assert (await viewer(on_system_clock, new)).status_code == 200
    await app.state.keys.reload()  # the session's app must sign with a key that exists
