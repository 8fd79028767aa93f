"""`provision license public-key | decode | verify` against DATABASE_URL, or with a PEM file
and no database at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from auth.licenses.envelope import encode
from auth.licenses.keys import LicenseSigningKey, load_or_create, public_pem
from domain.model.enums import LicensingMode, Plan
from domain.model.license import License, Licensee
from domain.model.license_attributes import license_attributes
from persistence.database import Database

import factories as f

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

PROVISION = [sys.executable, "-m", "api.cli.main"]
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/nothing"  # refuses connections


def _run(
    database_url: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    environment.update(DATABASE_URL=database_url)
    return subprocess.run(
        [*PROVISION, *args],
        env=environment,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _attributes() -> dict[str, object]:
    license_ = License(
        subscription_id=uuid.uuid4(),
        mode=LicensingMode.OFFLINE_CLOUD,
        plan=Plan.PREMIUM,
        seats=30,
        starts_at=date(2026, 1, 1),
        expires_at=date(2027, 1, 1),
        licensee=Licensee("Ada Admin", "ada@example.com", "Acme"),
        license_key="",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return license_attributes(license_, subscription_name="A-S00000031")


@pytest.fixture
async def stored_key(db: Database) -> LicenseSigningKey:
    async with db.pool.acquire() as connection:
        return await load_or_create(connection, f.NOW)


@pytest.fixture(scope="module")
def stranger() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_public_key_prints_the_stored_key(stored_key: LicenseSigningKey, database_url: str) -> None:
    printed = _run(database_url, "license", "public-key")
    assert printed.returncode == 0, printed.stderr.decode()
    assert printed.stdout.decode() == stored_key.public_pem
    assert printed.stdout.startswith(b"-----BEGIN PUBLIC KEY-----\n")


def test_decode_prints_the_attributes_from_a_file_or_stdin(
    stored_key: LicenseSigningKey, database_url: str, tmp_path: Path
) -> None:
    attributes = _attributes()
    license_key = encode(attributes, stored_key.private_key)
    (tmp_path / "acme.gitlab-license").write_text(license_key)

    from_file = _run(database_url, "license", "decode", str(tmp_path / "acme.gitlab-license"))
    assert from_file.returncode == 0, from_file.stderr.decode()
    assert json.loads(from_file.stdout) == attributes
    assert from_file.stdout.startswith(b'{\n  "version": 1,')

    from_stdin = _run(database_url, "license", "decode", "-", stdin=license_key.encode())
    assert from_stdin.returncode == 0, from_stdin.stderr.decode()
    assert json.loads(from_stdin.stdout) == attributes


def test_verify_says_valid_or_why_not(
    stored_key: LicenseSigningKey,
    stranger: rsa.RSAPrivateKey,
    database_url: str,
    tmp_path: Path,
) -> None:
    good = tmp_path / "good"
    good.write_text(encode(_attributes(), stored_key.private_key))
    verified = _run(database_url, "license", "verify", str(good))
    assert (verified.returncode, verified.stdout) == (0, b"valid\n"), verified.stderr.decode()

    foreign = tmp_path / "foreign"
    foreign.write_text(encode(_attributes(), stranger))
    refused = _run(database_url, "license", "verify", str(foreign))
    assert (refused.returncode, refused.stdout) == (1, b"")
    assert refused.stderr.startswith(b"invalid: License data could not be decrypted")

    garbage = _run(database_url, "license", "verify", "-", stdin=b"hello, license")
    assert garbage.returncode == 1
    assert b"invalid: the license key is not base64" in garbage.stderr

    newer = tmp_path / "newer"
    newer.write_text(encode({**_attributes(), "version": 2}, stored_key.private_key))
    too_new = _run(database_url, "license", "verify", str(newer))
    assert too_new.returncode == 1
    assert b"GitLab would refuse it: version 2 is not 1" in too_new.stderr

    missing = _run(database_url, "license", "verify", str(tmp_path / "absent"))
    assert missing.returncode == 1
    assert b"invalid: cannot read" in missing.stderr


def test_a_public_key_file_needs_no_database(stranger: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    attributes = _attributes()
    (tmp_path / "key").write_text(encode(attributes, stranger))
    (tmp_path / "stranger.pem").write_text(public_pem(stranger.public_key()))
    pem = str(tmp_path / "stranger.pem")

    decoded = _run(NO_DATABASE, "license", "decode", "--public-key", pem, str(tmp_path / "key"))
    assert decoded.returncode == 0, decoded.stderr.decode()
    assert json.loads(decoded.stdout) == attributes
    verified = _run(NO_DATABASE, "license", "verify", "--public-key", pem, str(tmp_path / "key"))
    assert (verified.returncode, verified.stdout) == (0, b"valid\n"), verified.stderr.decode()

    (tmp_path / "not.pem").write_text("not a key")
    bad_pem = _run(
        NO_DATABASE, "license", "decode", "--public-key", str(tmp_path / "not.pem"), "-",
        stdin=b"x",
    )  # fmt: skip
    assert bad_pem.returncode == 1
    assert b"cannot use" in bad_pem.stderr
