"""``provision webhooks list|create|disable|enable|deliveries|resend`` on the session database:
the ids the API shows, the same use cases (audited as the CLI), clear errors for bad input.
The commands run in a thread of this process (each does what ``provision`` does after parsing);
one runs as a real ``provision`` process, for the wiring."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
from typing import Any

import pytest

from api.cli.webhooks import add_webhooks_parser, webhooks_cli
from api.ids import global_id, parse_typed_id
from api.settings import Settings
from domain.model.webhook import WebhookEventType, delivery_row, message
from persistence.database import Database

import factories as f
from ledger_peer import PROVISION
from ledger_rows import record


async def _cli(
    capsys: pytest.CaptureFixture[str], database_url: str, *argv: str
) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    add_webhooks_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["webhooks", *argv])
    status = await asyncio.to_thread(webhooks_cli, Settings(database_url=database_url), args)
    out = capsys.readouterr()
    return status, out.out, out.err


async def test_staff_manage_endpoints_and_deliveries_from_the_command_line(
    clean_db: Database, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = f.customer()
    await f.store(clean_db, owner)
    status, out, _ = await _cli(
        capsys,
        database_url,
        "create",
        "--url",
        "https://hooks.example.test/in",
        "--event",
        "subscription.created",
        "--event",
        "TRIAL_STARTED",
        "--customer",
        global_id("Customer", owner.id),
    )
    assert status == 0
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    endpoint = lines["id"]
    assert endpoint.startswith("whe_")
    assert lines["secret"].startswith("whsec_")

    status, out, _ = await _cli(capsys, database_url, "list", "--json")
    [listed] = json.loads(out)
    assert listed["id"] == endpoint
    assert listed["owner"] == global_id("Customer", owner.id)
    assert listed["eventTypes"] == ["subscription.created", "trial.started"]
    assert listed["enabled"] is True

    assert (await _cli(capsys, database_url, "disable", endpoint))[:2] == (
        0,
        f"{endpoint} disabled\n",
    )
    endpoint_id = parse_typed_id(endpoint, "WebhookEndpoint", path=("id",))
    assert (
        await clean_db.fetchval("SELECT enabled FROM webhook_endpoint WHERE id = $1", endpoint_id)
        is False
    )
    assert (
        await clean_db.fetchval(
            "SELECT count(*) FROM audit_entry WHERE object_id = $1"
            " AND actor_subject = 'cli:webhooks'",
            endpoint_id,
        )
        == 2
    )  # created and disabled
    assert (await _cli(capsys, database_url, "enable", endpoint))[:2] == (
        0,
        f"{endpoint} enabled\n",
    )

    created = WebhookEventType.SUBSCRIPTION_CREATED
    row = delivery_row(endpoint_id, created, message(created, f.NOW, {"n": 1}), f.NOW, 3)
    await record(clean_db, row)
    status, out, _ = await _cli(capsys, database_url, "deliveries", endpoint, "--json")
    [delivery] = json.loads(out)
    assert delivery["id"] == global_id("WebhookDelivery", row.id)
    assert delivery["status"] == "PENDING"
    assert delivery["eventId"] == f"msg_{row.id.hex}"
    status, out, _ = await _cli(capsys, database_url, "resend", delivery["id"])
    assert status == 0
    assert f"(webhook-id msg_{row.id.hex})" in out
    assert (
        await clean_db.fetchval(
            "SELECT count(*) FROM provision_event WHERE payload->>'webhook_id' = $1",
            f"msg_{row.id.hex}",
        )
        == 1
    )

    # The real command, for the wiring: the table with its header.
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url, PROVISION_LOG_LEVEL="warning")
    shown = await asyncio.to_thread(
        subprocess.run,
        [*PROVISION, "webhooks", "deliveries", endpoint, "--status", "PENDING"],
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.decode().splitlines()
    assert header.split() == ["id", "status", "responseCode", "attempts", "eventType", "createdAt"]
    assert len(rows) == 2  # the delivery and its re-send


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("disable", "whe_nope"), "is not"),
        (("disable", f"sub_{'0' * 32}"), "not"),
        (("enable", f"whe_{'0' * 32}"), "no such webhook endpoint"),
        (("resend", f"whd_{'0' * 32}"), "no such webhook delivery"),
        (("create", "--url", "https://h.test/in", "--event", "sale.made"), "unknown event type"),
        (("create", "--url", "ftp://h.test/in", "--event", "trial.started"), "https"),
    ],
)
async def test_bad_input_is_refused_with_the_reason(
    clean_db: Database,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    says: Any,
) -> None:
    status, out, err = await _cli(capsys, database_url, *argv)
    assert status == 2
    assert out == ""
    assert says in err
    assert await clean_db.fetchval("SELECT count(*) FROM webhook_endpoint") == 0
