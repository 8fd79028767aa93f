"""uploadUsageFile end to end (issue 14 acceptance): a usage file made the way GitLab makes it,
with a license key Provision issued, is uploaded by the customer over HTTP, verified, recorded
and reflected in `usage`; its receipt verifies with the openssl CLI; tampered, duplicate and
foreign files behave as docs/usage-file.md says."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.ids import parse_global_id
from auth.licenses.keys import load_public_key, public_pem
from domain.model.customer import Membership
from domain.model.enums import Role
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer, token_for
from usage_files import usage_file

CREATE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id name customer { id } } errors { code } } }"""
ISSUE = """mutation($input: IssueOfflineLicenseInput!) { issueOfflineLicense(input: $input) {
  license { startsAt expiresAt } licenseKey errors { code } } }"""
UPLOAD = """mutation($input: UploadUsageFileInput!) { uploadUsageFile(input: $input) {
  subscription { name } license { id } rowsInFile rowsRecorded rowsKnown maxBillableUsers
  generatedAt receipt { document signature algorithm } errors { code path message } } }"""
USAGE = """query($id: ID!) { subscription(id: $id) {
  usage { seatsInUse maxSeatsUsed overage reportedAt } }
  usageReports(first: 100, subscriptionId: $id) {
    edges { node { billableUsers maxHistoricalUsers reportedAt source } } } }"""
START = date(2026, 11, 1)


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 12, 0, day, tzinfo=UTC)


ROWS = [(_at(2), 30), (_at(3), 44), (_at(4), 41)]


async def _call(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    return (await http.post("/graphql", json={"query": query, "variables": variables})).json()


async def _upload(http: httpx.AsyncClient, content: str, **fields: Any) -> Any:
    body = await _call(http, UPLOAD, {"input": {"content": content, **fields}})
    return body["data"]["uploadUsageFile"] if body.get("data") else body


def _as(app: Starlette, http: httpx.AsyncClient, subject: str) -> httpx.AsyncClient:
    token = token_for(app, PrincipalKind.PORTAL_USER, subject=subject)
    return httpx.AsyncClient(
        transport=http._transport, base_url=http.base_url, headers=bearer(token)
    )


async def _sell(staff: httpx.AsyncClient, company: str, seats: int = 40) -> dict[str, Any]:
    term = {"segments": [{"startDate": "2026-11-01", "endDate": "2027-11-01", "seats": seats}]}
    created = await _call(
        staff,
        CREATE,
        {
            "input": {
                "deployment": "SELF_MANAGED",
                "licensingMode": "OFFLINE_CLOUD",
                "plan": "PREMIUM",
                "term": term,
                "newCustomer": {
                    "company": company,
                    "contactName": "Ada",
                    "contactEmail": f"ada@{company.lower()}.test",
                },
            }
        },
    )
    sub = created["data"]["createSubscription"]["subscription"]
    issued = await _call(staff, ISSUE, {"input": {"subscriptionId": sub["id"]}})
    return {**sub, **issued["data"]["issueOfflineLicense"]}


@pytest.fixture
async def world(client: httpx.AsyncClient, clean_db: Database) -> dict[str, Any]:
    acme = await _sell(client, "Acme")
    other = await _sell(client, "Umbrella")
    async with PostgresUnitOfWork(clean_db) as uow:
        for sub, subject, role in (
            (acme, "usr_acme_admin", Role.ADMIN),
            (acme, "usr_acme_viewer", Role.VIEWER),
            (other, "usr_umbrella", Role.OWNER),
        ):
            customer_id = parse_global_id(sub["customer"]["id"])[1]
            await uow.customers.add_membership(Membership(customer_id, subject, role))
        await uow.commit()
    return {"acme": acme, "other": other}


def _file(sub: dict[str, Any], rows: list[tuple[datetime, int]], **fields: Any) -> str:
    options = {
        "starts_on": date.fromisoformat(sub["license"]["startsAt"]),
        "ends_on": date.fromisoformat(sub["license"]["expiresAt"]),
        "generated_at": f.NOW - timedelta(hours=1),
        "line_end": "\r\n",
        **fields,
    }
    return usage_file(sub["licenseKey"], rows, **options)


async def test_a_gitlab_usage_file_round_trips_into_usage_with_a_verifiable_receipt(
    app: Starlette, client: httpx.AsyncClient, world: dict[str, Any], tmp_path: Path
) -> None:
    acme = world["acme"]
    content = _file(acme, ROWS)
    async with _as(app, client, "usr_acme_admin") as admin:
        answer = await _upload(admin, content)
    assert answer["errors"] == []
    assert answer["subscription"] == {"name": acme["name"]}
    assert (answer["rowsInFile"], answer["rowsRecorded"], answer["rowsKnown"]) == (3, 3, 0)
    assert answer["maxBillableUsers"] == 44

    body = await _call(client, USAGE, {"id": acme["id"]})
    assert "errors" not in body, body
    read = body["data"]
    assert read["subscription"]["usage"] == {
        "seatsInUse": 41,
        "maxSeatsUsed": 44,
        "overage": 4,
        "reportedAt": _at(4).isoformat(),
    }
    assert [
        (e["node"]["billableUsers"], e["node"]["maxHistoricalUsers"], e["node"]["source"])
        for e in read["usageReports"]["edges"]
    ] == [(30, 30, "USAGE_FILE"), (44, 44, "USAGE_FILE"), (41, 44, "USAGE_FILE")]

    receipt = answer["receipt"]
    document = json.loads(receipt["document"])
    assert uuid.UUID(document["license_id"]) == parse_global_id(answer["license"]["id"])[1]
    assert (document["rows_recorded"], document["subscription"]) == (3, acme["name"])
    assert document["file_sha256"] == hashlib.sha256(content.encode()).hexdigest()
    async with app.state.db.pool.acquire() as connection:
        key = await load_public_key(connection)
    assert key is not None
    (tmp_path / "public.pem").write_text(public_pem(key))
    (tmp_path / "receipt.json").write_text(receipt["document"])
    (tmp_path / "receipt.sig").write_bytes(base64.b64decode(receipt["signature"]))
    verify = [
        _openssl(), "dgst", "-sha256", "-verify", str(tmp_path / "public.pem"),
        "-signature", str(tmp_path / "receipt.sig"), str(tmp_path / "receipt.json"),
    ]  # fmt: skip
    verified = await asyncio.to_thread(subprocess.run, verify, capture_output=True, check=False)
    assert verified.stdout == b"Verified OK\n"
    edited = receipt["document"].replace('"rows_recorded":3', '"rows_recorded":9')
    (tmp_path / "receipt.json").write_text(edited)
    refused = await asyncio.to_thread(subprocess.run, verify, capture_output=True, check=False)
    assert (refused.returncode, refused.stdout) == (1, b"Verification failure\n")


def _openssl() -> str:
    found = shutil.which("openssl")
    assert found, "the openssl command is needed (.ci/run installs it with apt-get)"
    return found


async def test_a_duplicate_upload_and_an_overlapping_export_record_each_row_once(
    client: httpx.AsyncClient, world: dict[str, Any], clean_db: Database
) -> None:
    acme = world["acme"]
    first = await _upload(client, _file(acme, ROWS))
    again = await _upload(client, _file(acme, ROWS))
    assert (first["rowsRecorded"], again["rowsRecorded"], again["rowsKnown"]) == (3, 0, 3)
    later = await _upload(client, _file(acme, [*ROWS, (_at(5), 39)]))
    assert (later["rowsRecorded"], later["rowsKnown"]) == (1, 3)
    count = "SELECT count(*) FROM usage_report WHERE source = 'USAGE_FILE'"
    assert await clean_db.fetchval(count) == 4


async def test_tampered_files_are_refused_and_record_nothing(
    client: httpx.AsyncClient, world: dict[str, Any], clean_db: Database
) -> None:
    acme = world["acme"]
    key: str = acme["licenseKey"]
    middle = len(key) // 2
    flipped = key[:middle] + ("A" if key[middle] != "A" else "B") + key[middle + 1 :]
    forged = await _upload(client, _file({**acme, "licenseKey": flipped}, ROWS))
    assert [(e["code"], e["path"]) for e in forged["errors"]] == [("NOT_FOUND", ["content"])]
    edited_term = await _upload(client, _file(acme, ROWS, ends_on=date(2028, 11, 1)))
    assert [e["code"] for e in edited_term["errors"]] == ["VALIDATION_FAILED"]
    assert "License End Date 2028-11-01 is not the license's" in edited_term["errors"][0]["message"]
    before_term = await _upload(client, _file(acme, [(datetime(2026, 10, 31, 12, tzinfo=UTC), 5)]))
    assert (
        "row 9: 2026-10-31 12:00:00 is outside the license term"
        in (before_term["errors"][0]["message"])
    )
    opened_in_a_spreadsheet = _file(acme, ROWS).replace("2026-11-03 12:00:03", "11/3/26 12:00")
    refused = await _upload(client, opened_in_a_spreadsheet)
    assert refused["errors"][0]["message"].startswith("row 10: '11/3/26 12:00' is not a date")
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == 0


async def test_a_file_of_another_customers_license_is_not_found(
    app: Starlette, client: httpx.AsyncClient, world: dict[str, Any], clean_db: Database
) -> None:
    acme_file = _file(world["acme"], ROWS)
    async with _as(app, client, "usr_umbrella") as stranger:
        foreign = await _upload(stranger, acme_file)
    unknown = await _upload(client, _file({**world["acme"], "licenseKey": "bm90IGEga2V5\n"}, ROWS))
    assert foreign["errors"] == unknown["errors"]  # foreign reads exactly as missing
    assert [e["code"] for e in foreign["errors"]] == ["NOT_FOUND"]
    other_customer = world["other"]["customer"]["id"]
    as_staff = await _upload(client, acme_file, customerId=other_customer)
    assert as_staff["errors"] == foreign["errors"]
    async with _as(app, client, "usr_acme_viewer") as viewer:
        body = await _call(viewer, UPLOAD, {"input": {"content": acme_file}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") == 0
