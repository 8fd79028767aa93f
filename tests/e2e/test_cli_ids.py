"""Every command that takes an id takes the one the API shows (``sub_…``, ``cus_…``): run as
processes against DATABASE_URL, what they make names the object the ID stands for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from api.ids import global_id
from persistence.database import Database

from oauth_flow import claims

PROVISION = [sys.executable, "-m", "api.cli.main"]


def _run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url, **env)
    return subprocess.run(
        [*PROVISION, *args], env=environment, capture_output=True, timeout=60, check=False
    )


async def test_token_issue_takes_the_subscriptions_api_id(database_url: str) -> None:
    subscription = uuid.uuid4()
    minted = _run(
        database_url, "token", "issue", "--kind", "INSTANCE", "--subject", "instance-7",
        "--subscription", global_id("Subscription", subscription),
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr.decode()
    assert claims(minted.stdout.decode().strip())["provision_subscription"] == str(subscription)


async def test_user_create_takes_the_customers_api_id(
    clean_db: Database, database_url: str
) -> None:
    customer = uuid.uuid4()
    await clean_db.fetch(
        "INSERT INTO customer (id, company, contact_name, contact_email, created_at)"
        " VALUES ($1, 'Acme', 'Ada', 'ada@acme.example', now())",
        customer,
    )
    created = _run(
        database_url, "user", "create", "--email", "grace@acme.example",
        "--customer", global_id("Customer", customer), "--role", "VIEWER",
        PROVISION_USER_PASSWORD="a long enough password",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr.decode()
    subject = json.loads(created.stdout)["subject"]
    row = await clean_db.fetchrow(
        "SELECT customer FROM membership WHERE user_subject = $1", subject
    )
    assert row is not None
    assert row["customer"] == customer
