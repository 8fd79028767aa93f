"""POST /trials/self_managed/ultimates: one trial per email and type, an activation code that
activates a 30-day Ultimate trial license at once, and GitLab's 422 contract."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from auth.licenses.envelope import decode
from auth.licenses.keys import load_public_key
from persistence.database import Database

import factories as f

PATH = "/trials/self_managed/ultimates"
ACTIVATE = """mutation($input: CloudActivationActivateInput!) {
  cloudActivationActivate(input: $input) { licenseKey errors } }"""


def _trial(email: str = "ada@acme.test", **overrides: Any) -> dict[str, Any]:
    return {
        "trial": {
            "name": "Ada",
            "email": email,
            "company": "Acme",
            "country": "US",
            "consent_to_marketing": False,
            **overrides,
        }
    }


async def test_a_trial_code_activates_a_thirty_day_ultimate_trial_license(
    anonymous: httpx.AsyncClient, clean_db: Database, database_url: str
) -> None:
    started = await anonymous.post(PATH, json=_trial())
    assert started.status_code == 200, started.text
    code = started.json()["activation_code"]
    variables = {
        "input": {
            "activationCode": code,
            "instanceIdentifier": "3f1c0c4e-0c0e-4c6a-9f0e-2b1f5c1d7a10",
        }
    }
    answer = (
        await anonymous.post("/graphql", json={"query": ACTIVATE, "variables": variables})
    ).json()
    key = answer["data"]["cloudActivationActivate"]["licenseKey"]
    assert answer["data"]["cloudActivationActivate"]["errors"] == []
    connection = await asyncpg.connect(database_url)
    try:
        public = await load_public_key(connection)
    finally:
        await connection.close()
    assert public is not None
    attributes = decode(key, public)
    today = f.TODAY  # the app's clock reads the factories' now
    assert attributes["restrictions"]["trial"] is True
    assert attributes["restrictions"]["plan"] == "ultimate"
    assert attributes["issued_at"] == today.isoformat()
    assert attributes["expires_at"] == (today + timedelta(days=30)).isoformat()
    assert "block_changes_at" not in attributes
    assert attributes["cloud_licensing_enabled"] is True


async def test_one_trial_per_email_in_any_case(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    assert (await anonymous.post(PATH, json=_trial())).status_code == 200
    again = await anonymous.post(PATH, json=_trial("ADA@acme.test"))
    assert again.status_code == 422
    assert again.json()["error_attribute_map"] == {"base": ["only_one_trial_per_email_and_type"]}
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 1


async def test_racing_first_trials_of_one_email_make_one(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    answers = await asyncio.gather(*(anonymous.post(PATH, json=_trial()) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [422] * 7
    assert await clean_db.fetchval("SELECT count(*) FROM trial") == 1
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 1


async def test_bad_input_is_a_422_with_the_fields_named(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    blank = await anonymous.post(PATH, json=_trial(name="", company=None))
    assert blank.status_code == 422
    assert blank.json()["error_attribute_map"] == {"name": ["blank"], "company": ["blank"]}
    invalid = await anonymous.post(PATH, json=_trial("not-an-email"))
    assert invalid.status_code == 422
    assert invalid.json()["error_attribute_map"] == {"email": ["invalid"]}
    for garbage in (b"not json", b"[]", b'{"trial": 3}'):
        response = await anonymous.post(
            PATH, content=garbage, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 0


async def test_trials_from_one_address_are_limited(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    for n in range(10):
        assert (await anonymous.post(PATH, json=_trial(f"user{n}@acme.test"))).status_code == 200
    limited = await anonymous.post(PATH, json=_trial("one-more@acme.test"))
    assert limited.status_code == 429
