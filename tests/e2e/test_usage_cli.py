"""``provision usage upload`` as a process of its own: staff record a customer's usage file
(and are refused another customer's with ``--customer``), with the same rules as
``uploadUsageFile``. The command runs on the system clock, so this test's data is dated from it
(the factories' "now" would be in its future on a shifted-date run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from api.ids import global_id
from integrations.clock import SystemClock
from persistence.database import Database

import factories as f
from usage_files import usage_file


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", *args],
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )


async def test_staff_upload_a_usage_file_from_the_command_line(
    clean_db: Database, database_url: str, tmp_path: Path
) -> None:
    now = SystemClock().now()
    acme, other = f.customer("Acme"), f.customer("Umbrella")
    sub = f.subscription(acme, start=now.date() - timedelta(days=30))
    lic = f.license_for(sub, key="a-key-provision-issued\n")
    await f.store(clean_db, acme, other, sub, lic)
    csv_file = tmp_path / "license_usage.csv"
    csv_file.write_bytes(
        usage_file(
            lic.license_key,
            [(now - timedelta(days=2), 12), (now - timedelta(days=1), 14)],
            starts_on=lic.starts_at,
            ends_on=lic.expires_at,
            generated_at=now,
            line_end="\r\n",
        ).encode()
    )

    refused = _run(
        database_url, "usage", "upload", "--file", str(csv_file),
        "--customer", global_id("Customer", other.id),
    )  # fmt: skip
    assert (refused.returncode, refused.stdout) == (2, b"")
    assert b"usage file not recorded: no license Provision issued" in refused.stderr

    done = _run(
        database_url, "usage", "upload", "--file", str(csv_file),
        "--customer", global_id("Customer", acme.id),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    printed = json.loads(done.stdout)
    assert {k: printed[k] for k in ("subscription", "license", "rows_recorded", "rows_known")} == {
        "subscription": sub.name,
        "license": global_id("License", lic.id),
        "rows_recorded": 2,
        "rows_known": 0,
    }
    assert json.loads(printed["receipt"])["rows_in_file"] == 2
    again = _run(database_url, "usage", "upload", "--file", str(csv_file))
    assert json.loads(again.stdout)["rows_known"] == 2
    stored = await clean_db.fetch(
        "SELECT billable_users, source, license FROM usage_report ORDER BY reported_at"
    )
    assert [tuple(r) for r in stored] == [(12, "USAGE_FILE", lic.id), (14, "USAGE_FILE", lic.id)]
    missing = _run(database_url, "usage", "upload", "--file", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1
    assert b"cannot read" in missing.stderr
