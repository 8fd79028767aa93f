"""`provision client create`, `user create` and `token issue --client/--user` against
DATABASE_URL; what they make works over HTTP."""

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
from oauth_flow import claims, viewer

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


async def test_client_create_prints_credentials_that_work(
    client: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
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
