"""An issued license key opened with the ``openssl`` command-line tool alone: base64, RSA public
decrypt of the AES key (``pkeyutl -verifyrecover``), AES-128-CBC. Nothing of ours decodes, so
this checks the format against OpenSSL itself, as GitLab's ``public_decrypt`` would read it.

Not skipped when ``openssl`` is missing: ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from auth.licenses.envelope import encode
from domain.model.enums import AddOnKind, LicensingMode, Plan
from domain.model.license import License, Licensee
from domain.model.license_attributes import license_attributes
from domain.model.subscription import AddOn


@pytest.fixture(scope="module")
def openssl() -> str:
    found = shutil.which("openssl")
    assert found, "the openssl command is needed (.ci/run installs it with apt-get)"
    return found


def run(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(args, input=stdin, capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def public_pem(private_key: RSAPrivateKey, path: Path) -> Path:
    path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def issued_attributes() -> dict[str, object]:
    license_ = License(
        subscription_id=uuid.uuid4(),
        mode=LicensingMode.ONLINE_CLOUD,
        plan=Plan.ULTIMATE,
        seats=500,
        starts_at=date(2026, 1, 15),
        expires_at=date(2029, 1, 15),
        licensee=Licensee("Renée Admin", "renee@example.com", "Acme Ünlimited"),
        license_key="",
        created_at=datetime(2026, 1, 15, tzinfo=UTC),
        add_ons=(AddOn(AddOnKind.DUO_ENTERPRISE, 50, date(2026, 1, 15), date(2029, 1, 15)),),
    )
    return license_attributes(license_, subscription_name="A-S00000777")


def openssl_open(openssl: str, license_key: str, public_key: Path, work: Path) -> bytes:
    """The plaintext of ``license_key``, by the openssl CLI only (JSON parsing aside)."""
    (work / "license.txt").write_text(license_key)
    envelope = json.loads(run(openssl, "base64", "-d", "-in", str(work / "license.txt")))
    for field in ("data", "key", "iv"):
        (work / f"{field}.b64").write_text(envelope[field])
        run(openssl, "base64", "-d", "-in", str(work / f"{field}.b64"),
            "-out", str(work / f"{field}.bin"))  # fmt: skip
    aes_key = run(
        openssl, "pkeyutl", "-verifyrecover", "-pubin", "-inkey", str(public_key),
        "-pkeyopt", "rsa_padding_mode:pkcs1", "-in", str(work / "key.bin"),
    )  # fmt: skip
    assert len(aes_key) == 16
    iv = (work / "iv.bin").read_bytes()
    return run(
        openssl, "enc", "-d", "-aes-128-cbc", "-K", aes_key.hex(), "-iv", iv.hex(),
        "-in", str(work / "data.bin"),
    )  # fmt: skip


def test_openssl_reads_an_issued_key(
    openssl: str, license_private_key: RSAPrivateKey, tmp_path: Path
) -> None:
    attributes = issued_attributes()
    license_key = encode(attributes, license_private_key)
    public_key = public_pem(license_private_key, tmp_path / "public.pem")
    plaintext = openssl_open(openssl, license_key, public_key, tmp_path)
    assert json.loads(plaintext) == attributes
    assert plaintext == json.dumps(attributes, separators=(",", ":"), ensure_ascii=False).encode()


def test_openssl_refuses_the_key_with_another_public_key(
    openssl: str,
    license_private_key: RSAPrivateKey,
    other_private_key: RSAPrivateKey,
    tmp_path: Path,
) -> None:
    license_key = encode(issued_attributes(), license_private_key)
    openssl_open(
        openssl, license_key, public_pem(license_private_key, tmp_path / "ok.pem"), tmp_path
    )
    recovered = subprocess.run(
        [openssl, "pkeyutl", "-verifyrecover", "-pubin", "-inkey",
         str(public_pem(other_private_key, tmp_path / "other.pem")),
         "-pkeyopt", "rsa_padding_mode:pkcs1", "-in", str(tmp_path / "key.bin")],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert recovered.returncode != 0
    assert recovered.stdout == b""
