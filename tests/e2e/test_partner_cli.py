"""``provision partner create`` and ``partner list`` as processes of their own, and partner
clients and people (``user create --partner``) that must act for a registered partner."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from persistence.database import Database

from oauth_flow import claims

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)


def _run(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", *args],
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )


async def test_partner_create_then_list_and_clients_for_registered_partners_only(
    clean_db: Database, database_url: str
) -> None:
    created = _run(
        database_url, "partner", "create", "--id", "northwind", "--name", "Northwind Resellers",
        "--kind", "RESELLER",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr.decode()
    assert json.loads(created.stdout) == {
        "id": "northwind",
        "name": "Northwind Resellers",
        "kind": "RESELLER",
    }
    unknown = _run(
        database_url, "client", "create", "--kind", "partner", "--name", "R", "--partner", "nope",
    )  # fmt: skip
    assert unknown.returncode == 2
    assert b"no partner 'nope'" in unknown.stderr
    client = _run(
        database_url, "client", "create", "--kind", "partner", "--name", "R",
        "--partner", "northwind",
    )  # fmt: skip
    assert client.returncode == 0, client.stderr.decode()
    person = _run(
        database_url, "user", "create", "--email", "pat@northwind.test", "--partner", "northwind",
        env={"PROVISION_USER_PASSWORD": "a long enough password"},
    )  # fmt: skip
    assert person.returncode == 0, person.stderr.decode()
    assert json.loads(person.stdout)["partner"] == "northwind"
    minted = _run(database_url, "token", "issue", "--user", "pat@northwind.test")
    assert minted.returncode == 0, minted.stderr.decode()
    token = claims(minted.stdout.decode().strip())
    assert (token["provision_kind"], token["provision_partner"]) == ("PARTNER", "northwind")
    listed = _run(database_url, "partner", "list", "--json")
    assert listed.returncode == 0, listed.stderr.decode()
    [row] = json.loads(listed.stdout)
    assert row | {"created_at": None} == {
        "id": "northwind",
        "name": "Northwind Resellers",
        "kind": "RESELLER",
        "clients": 1,
        "created_at": None,
    }
    assert await clean_db.fetchval("SELECT count(*) FROM audit_entry") == 1  # the creation
