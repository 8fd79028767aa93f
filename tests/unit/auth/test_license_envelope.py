"""GitLab's license envelope: the round trip, the exact text layout, and every refusal."""

from __future__ import annotations

import base64
import json
import os
import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from auth.licenses.envelope import LicenseKeyInvalid, decode, encode, encode64
from auth.licenses.rsa_raw import RawRSAError, private_encrypt, public_decrypt
from domain.model.enums import LicensingMode, Plan
from domain.model.license import License, Licensee
from domain.model.license_attributes import license_attributes


def attributes() -> dict[str, object]:
    license_ = License(
        id=uuid.UUID("018f0000-0000-7000-8000-0000000000aa"),
        subscription_id=uuid.UUID("018f0000-0000-7000-8000-0000000000cc"),
        mode=LicensingMode.OFFLINE_CLOUD,
        plan=Plan.PREMIUM,
        seats=42,
        starts_at=date(2026, 1, 1),
        expires_at=date(2027, 1, 1),
        licensee=Licensee("Zoë Ærøskøbing", "zoe@example.com", "Ünïcode GmbH"),
        license_key="",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return license_attributes(license_, subscription_name="A-S00000042")


def lines(text: str) -> list[str]:
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_round_trip(license_private_key: RSAPrivateKey) -> None:
    key = encode(attributes(), license_private_key)
    assert decode(key, license_private_key.public_key()) == attributes()


def test_the_text_is_laid_out_like_rubys_encode64_of_compact_json(
    license_private_key: RSAPrivateKey,
) -> None:
    key = encode(attributes(), license_private_key)
    outer = lines(key)
    assert all(len(line) == 60 for line in outer[:-1])
    assert 0 < len(outer[-1]) <= 60
    envelope_text = base64.b64decode(key).decode()
    assert envelope_text.startswith('{"data":"')
    envelope = json.loads(envelope_text)
    assert list(envelope) == ["data", "key", "iv"]
    assert envelope_text == json.dumps(envelope, separators=(",", ":"))
    for value in envelope.values():
        assert all(len(line) == 60 for line in lines(value)[:-1])
    assert len(base64.b64decode(envelope["key"])) == 256  # RSA-2048
    assert len(base64.b64decode(envelope["iv"])) == 16
    assert len(base64.b64decode(envelope["data"])) % 16 == 0


def test_encode64_is_rubys() -> None:
    # The example of Ruby's Base64.encode64 documentation.
    assert encode64(b"Now is the time for all good coders\nto learn Ruby") == (
        "Tm93IGlzIHRoZSB0aW1lIGZvciBhbGwgZ29vZCBjb2RlcnMKdG8gbGVhcm4g\nUnVieQ==\n"
    )
    assert encode64(b"") == ""
    assert encode64(b"a" * 45) == "YWFh" * 15 + "\n"


def test_the_attributes_are_utf8_json_without_spaces(license_private_key: RSAPrivateKey) -> None:
    key = encode({"licensee": {"Name": "Zoë"}, "version": 1}, license_private_key)
    envelope = json.loads(base64.b64decode(key))
    aes_key = public_decrypt(base64.b64decode(envelope["key"]), license_private_key.public_key())
    decryptor = Cipher(
        algorithms.AES(aes_key), modes.CBC(base64.b64decode(envelope["iv"]))
    ).decryptor()
    padded = decryptor.update(base64.b64decode(envelope["data"])) + decryptor.finalize()
    assert padded[: -padded[-1]] == '{"licensee":{"Name":"Zoë"},"version":1}'.encode()


def test_every_key_is_a_new_envelope(license_private_key: RSAPrivateKey) -> None:
    first, second = (encode(attributes(), license_private_key) for _ in range(2))
    assert first != second
    public = license_private_key.public_key()
    assert decode(first, public) == decode(second, public)


def test_a_boundary_and_crlf_line_ends_are_accepted(license_private_key: RSAPrivateKey) -> None:
    key = encode(attributes(), license_private_key)
    framed = (
        "----------------BEGIN GITLAB LICENSE----------------\r\n"
        + key.replace("\n", "\r\n")
        + "-----------------END GITLAB LICENSE-----------------\r\n"
    )
    assert decode(framed, license_private_key.public_key()) == attributes()


def test_the_rsa_block_is_pkcs1_type_1(license_private_key: RSAPrivateKey) -> None:
    blob = private_encrypt(b"k" * 16, license_private_key)
    numbers = license_private_key.public_key().public_numbers()
    block = pow(int.from_bytes(blob, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    assert block == b"\x00\x01" + b"\xff" * 237 + b"\x00" + b"k" * 16
    with pytest.raises(RawRSAError, match="at most 245 bytes"):
        private_encrypt(b"x" * 246, license_private_key)


# --- refusals ------------------------------------------------------------------------------


def envelope_of(key: str) -> dict[str, str]:
    envelope: dict[str, str] = json.loads(base64.b64decode(key))
    return envelope


def pack(envelope: dict[str, Any]) -> str:
    return encode64(json.dumps(envelope, separators=(",", ":")).encode())


def flip(value: str, index: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index] ^= 0x01
    return encode64(bytes(raw))


def with_plaintext(plaintext: bytes, private_key: RSAPrivateKey) -> str:
    """An envelope made right around ``plaintext`` (to reach the checks after decryption)."""
    aes_key, iv = os.urandom(16), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    data = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    return pack(
        {
            "data": encode64(data),
            "key": encode64(private_encrypt(aes_key, private_key)),
            "iv": encode64(iv),
        }
    )


BLOCK, IV = encode64(b"x" * 16), encode64(b"i" * 16)


def refused(key: Any, private_key: RSAPrivateKey) -> str:
    with pytest.raises(LicenseKeyInvalid) as raised:
        decode(key, private_key.public_key())
    return str(raised.value)


def test_a_key_made_with_another_private_key_is_refused(
    license_private_key: RSAPrivateKey, other_private_key: RSAPrivateKey
) -> None:
    key = encode(attributes(), other_private_key)
    assert "License data could not be decrypted" in refused(key, license_private_key)


@pytest.mark.parametrize(
    ("field", "index", "reason"),
    [
        ("data", 0, "does not decrypt to JSON"),  # first block garbled
        ("iv", 0, "does not decrypt to JSON"),  # '{' becomes 'z'
        ("key", 100, "could not be decrypted"),
        ("key", 0, "could not be decrypted"),
    ],
)
def test_tampering_is_refused(
    license_private_key: RSAPrivateKey, field: str, index: int, reason: str
) -> None:
    envelope = envelope_of(encode(attributes(), license_private_key))
    envelope[field] = flip(envelope[field], index)
    assert reason in refused(pack(envelope), license_private_key)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        (b"bytes", "not text"),
        (None, "not text"),
        ("not base64 at all!", "not base64"),
        ("A" * 2_000_000, "far too long"),
        (encode64(b"\xff\xfe not utf-8"), "does not hold JSON"),
        (encode64(b"{not json"), "does not hold JSON"),
        (pack([1, 2]), "Required field missing"),  # type: ignore[arg-type]
        (pack({"data": "", "key": ""}), "Required field missing"),
        (pack({"data": 1, "key": "", "iv": ""}), "Required field missing"),
        (pack({"data": "%%%", "key": "", "iv": ""}), "data is not base64"),
        (pack({"data": "", "key": "", "iv": encode64(b"short")}), "IV has 5 bytes"),
        (pack({"data": encode64(b"x" * 17), "key": "", "iv": encode64(b"i" * 16)}), "AES blocks"),
        (pack({"data": "", "key": "", "iv": encode64(b"i" * 16)}), "AES blocks"),
        (
            pack({"data": BLOCK, "key": encode64(b"k" * 12), "iv": IV}),
            "12 bytes, the key needs 256",
        ),
        (
            pack({"data": BLOCK, "key": encode64(b"\xff" * 256), "iv": IV}),
            "larger than the key's modulus",
        ),
    ],
)  # fmt: skip
def test_garbage_is_refused_with_a_reason(
    license_private_key: RSAPrivateKey, key: Any, reason: str
) -> None:
    assert reason in refused(key, license_private_key)


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9, 0.99])
def test_a_truncated_key_is_refused(license_private_key: RSAPrivateKey, keep: float) -> None:
    key = encode(attributes(), license_private_key)
    refused(key[: int(len(key) * keep)], license_private_key)


def test_a_truncated_data_field_is_refused(license_private_key: RSAPrivateKey) -> None:
    envelope = envelope_of(encode(attributes(), license_private_key))
    envelope["data"] = encode64(base64.b64decode(envelope["data"])[:-16])
    assert "does not decrypt to JSON" in refused(pack(envelope), license_private_key)


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"[1, 2, 3]", "not a JSON object"),
        (b"\xff\xfe\xfd", "does not decrypt to JSON"),
        (b"", "does not decrypt to JSON"),
    ],
)
def test_what_decrypts_must_be_a_json_object(
    license_private_key: RSAPrivateKey, plaintext: bytes, reason: str
) -> None:
    assert reason in refused(with_plaintext(plaintext, license_private_key), license_private_key)


def test_a_key_protected_with_another_aes_key_size_is_refused(
    license_private_key: RSAPrivateKey,
) -> None:
    envelope = envelope_of(encode(attributes(), license_private_key))
    envelope["key"] = encode64(private_encrypt(b"k" * 32, license_private_key))
    assert "not an AES-128 key" in refused(pack(envelope), license_private_key)


def test_random_damage_never_escapes_as_another_exception(
    license_private_key: RSAPrivateKey,
) -> None:
    key = encode(attributes(), license_private_key)
    shuffle = random.Random(1234)  # deterministic: the same damage on every run
    alphabet = 'ABCxyz019+/=\n{}"-'
    for _ in range(300):
        damaged = list(key)
        for _ in range(shuffle.randint(1, 4)):
            damaged[shuffle.randrange(len(damaged))] = shuffle.choice(alphabet)
        try:
            decode("".join(damaged), license_private_key.public_key())
        except LicenseKeyInvalid:
            continue
