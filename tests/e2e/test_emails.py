"""EMAIL rows sent by `provision worker` processes to a local SMTP server on a real socket: the
activation code after createSubscription (staff never see it, and the row forgets it once
sent), the license after an activation (attached), the same Message-ID when a worker killed
mid-send is followed by another, and `.eml` files when no SMTP_URL is set."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.model.provision_event import ProvisionStatus
from persistence.database import Database

from ledger_peer import SHORT_LEASE, workers
from ledger_wait import eventually, settled
from mail_peer import MailPeer, serving_smtp

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

CREATE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  subscription { id } activationCode errors { code } } }"""
ACTIVATE = """mutation($input: ActivateSubscriptionInput!) { activateSubscription(input: $input) {
  licenseKey errors { code } } }"""
EVENTS = """{ provisionEvents(first: 10, kind: EMAIL) { edges { node { payload } } } }"""


@pytest.fixture(scope="module")
def module_smtp() -> Iterator[MailPeer]:
    with serving_smtp() as peer:
        yield peer


@pytest.fixture
def smtp(module_smtp: MailPeer) -> MailPeer:
    module_smtp.reset()
    return module_smtp


async def _sell(staff: httpx.AsyncClient) -> str:
    fields = {
        "deployment": "SELF_MANAGED",
        "plan": "ULTIMATE",
        "term": {"segments": [{"startDate": "2026-01-01", "endDate": "2029-01-01", "seats": 25}]},
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": "ada@acme.test"},
    }
    body = (
        await staff.post("/graphql", json={"query": CREATE, "variables": {"input": fields}})
    ).json()
    created = body["data"]["createSubscription"]
    assert created["errors"] == []
    code: str = created["activationCode"]
    return code


async def _email_rows(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, payload::text AS payload FROM provision_event WHERE kind = 'EMAIL' ORDER BY id"
    )
    return [{"id": r["id"], "payload": json.loads(r["payload"])} for r in rows]


async def test_the_activation_code_is_emailed_once_and_then_forgotten(
    client: httpx.AsyncClient, clean_db: Database, smtp: MailPeer, tmp_path: Path
) -> None:
    code = await _sell(client)
    [row] = await _email_rows(clean_db)
    assert row["payload"]["secrets"] == {"activation_code": code}  # until it is sent
    shown = (await client.post("/graphql", json={"query": EVENTS})).json()
    [edge] = shown["data"]["provisionEvents"]["edges"]
    assert edge["node"]["payload"]["secrets"] == {"activation_code": "[redacted]"}
    assert code not in json.dumps(shown)

    with workers(clean_db.dsn, tmp_path, 1, SMTP_URL=smtp.url) as [worker]:
        stored = await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    [message] = smtp.messages
    assert smtp.recipients == [["ada@acme.test"]]
    assert message["To"] == "ada@acme.test"
    assert message["Message-ID"] == f"<{row['id']}@provision.localhost>"
    assert "Your activation code for A-S" in message["Subject"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert f"Activation code: {code}" in text.get_content()
    assert code in html.get_content()
    assert stored.payload["secrets"] == {"activation_code": "[redacted]"}
    assert stored.payload["sent_at"]
    assert code not in json.dumps(stored.payload)
    assert code not in worker.output()


async def test_a_new_license_is_emailed_as_an_attachment(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    clean_db: Database,
    smtp: MailPeer,
    tmp_path: Path,
) -> None:
    code = await _sell(client)
    fields = {"activationCode": code, "instanceIdentifier": str(uuid.uuid4())}
    answer = await anonymous.post(
        "/graphql", json={"query": ACTIVATE, "variables": {"input": fields}}
    )
    activated = answer.json()["data"]["activateSubscription"]
    assert activated["errors"] == []
    _, license_row = await _email_rows(clean_db)
    assert activated["licenseKey"] not in json.dumps(license_row["payload"])  # by id only

    with workers(clean_db.dsn, tmp_path, 1, SMTP_URL=smtp.url):
        await settled(clean_db, license_row["id"], ProvisionStatus.SUCCEEDED)

        async def both() -> bool:
            return len(smtp.messages) >= 2

        await eventually(both, 10, "both emails arrive")
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 2, subjects
    [message] = [m for m in smtp.messages if m["Subject"].startswith("Your license for")]
    [attachment] = list(message.iter_attachments())
    filename = attachment.get_filename()
    assert filename is not None
    assert filename.endswith(".gitlab-license")
    assert attachment.get_content().decode() == activated["licenseKey"]


async def test_a_resend_after_a_crash_carries_the_same_message_id(
    client: httpx.AsyncClient, clean_db: Database, smtp: MailPeer, tmp_path: Path
) -> None:
    smtp.hang_first = True
    code = await _sell(client)
    [row] = await _email_rows(clean_db)
    with workers(clean_db.dsn, tmp_path / "a", 1, SMTP_URL=smtp.url, **SHORT_LEASE) as [doomed]:

        async def received() -> bool:
            return len(smtp.messages) == 1

        await eventually(received, 10, "the server has the message")
        doomed.process.kill()  # after the server got it, before the row was marked sent
        doomed.process.wait(timeout=10)
    with workers(clean_db.dsn, tmp_path / "b", 1, SMTP_URL=smtp.url):
        stored = await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    first, second = smtp.messages
    assert first["Message-ID"] == second["Message-ID"] == f"<{row['id']}@provision.localhost>"
    assert first["Date"] == second["Date"]
    for message in (first, second):
        text = message.get_body(("plain",))
        assert text is not None
        assert code in text.get_content()
    assert stored.attempts == 2


async def test_without_smtp_the_email_is_written_as_an_eml_file(
    client: httpx.AsyncClient, clean_db: Database, tmp_path: Path
) -> None:
    code = await _sell(client)
    [row] = await _email_rows(clean_db)
    folder = tmp_path / "mail"
    with workers(clean_db.dsn, tmp_path, 1, PROVISION_MAIL_DIR=str(folder)):
        await settled(clean_db, row["id"], ProvisionStatus.SUCCEEDED)
    [written] = list(folder.iterdir())
    assert written.name == f"{row['id']}.eml"
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["Message-ID"] == f"<{row['id']}@provision.localhost>"
    assert code in written.read_text()
