"""GitLab's license key envelope (protocol §3.1), byte-compatible with the ``gitlab-license`` gem.

The attributes, as compact JSON, are encrypted with AES-128-CBC under a random key and IV; the
AES key is protected with our RSA private key (PKCS#1 v1.5 type 1, OpenSSL's
``private_encrypt``); ``{"data", "key", "iv"}`` holds the three in Ruby's ``encode64`` base64
(60-character lines, each ending in a newline), and that JSON is base64-encoded the same way.

Anyone with the public key can read a license; only the private key's holder can protect a
new AES key. The format has no MAC: "it decodes" is all a verifier learns (docs/licenses.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from auth.licenses.rsa_raw import RawRSAError, private_encrypt, public_decrypt

AES_KEY_BYTES = 16
BLOCK_BYTES = 16
_LINE_BYTES = 45  # Ruby's encode64 ("m" pack) writes 60 characters, 45 bytes, per line
_MAX_CHARS = 1_000_000  # a license key is a few kilobytes; refuse megabytes of garbage early
_BOUNDARY_LINE = re.compile(r"^-*(BEGIN|END) .+? LICENSE-*$")
_WHITESPACE = re.compile(r"\s+")


class LicenseKeyInvalid(ValueError):
    """The text is not a license key our public key opens; the message says why."""


def encode64(raw: bytes) -> str:
    """Ruby's ``Base64.encode64``: standard alphabet, a newline after every 60 characters and
    at the end (nothing at all for empty input)."""
    return "".join(
        base64.b64encode(raw[start : start + _LINE_BYTES]).decode("ascii") + "\n"
        for start in range(0, len(raw), _LINE_BYTES)
    )


def _decode64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError) as error:
        raise LicenseKeyInvalid(f"{what} is not base64") from error


def _dump_json(value: Mapping[str, Any]) -> str:
    # Ruby's JSON.dump: no spaces, UTF-8 left as it is.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(attributes: Mapping[str, Any], private_key: RSAPrivateKey) -> str:
    """The license key for ``attributes`` (JSON-ready values), protected with ``private_key``.

    Each call draws a new AES key and IV: store the result and hand out the same text while
    nothing in the license changes (GitLab compares keys as strings).
    """
    aes_key, iv = os.urandom(AES_KEY_BYTES), os.urandom(BLOCK_BYTES)
    padder = padding.PKCS7(BLOCK_BYTES * 8).padder()
    plaintext = padder.update(_dump_json(attributes).encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    envelope = {
        "data": encode64(ciphertext),
        "key": encode64(private_encrypt(aes_key, private_key)),
        "iv": encode64(iv),
    }
    return encode64(_dump_json(envelope).encode("utf-8"))


def strip_boundary(license_key: str) -> str:
    """The payload without the optional ``----BEGIN <PRODUCT> LICENSE----`` lines."""
    lines = license_key.replace("\r\n", "\n").split("\n")
    return "\n".join(line for line in lines if not _BOUNDARY_LINE.match(line.strip()))


def _envelope(license_key: str) -> tuple[bytes, bytes, bytes]:
    if not isinstance(license_key, str):
        raise LicenseKeyInvalid("the license key is not text")
    if not license_key.strip():
        raise LicenseKeyInvalid("the license key is empty")
    if len(license_key) > _MAX_CHARS:
        raise LicenseKeyInvalid("the license key is far too long")
    outer = _decode64(strip_boundary(license_key), "the license key")
    try:
        envelope = json.loads(outer.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise LicenseKeyInvalid("the license key does not hold JSON") from error
    if not isinstance(envelope, dict) or not all(
        isinstance(envelope.get(field), str) for field in ("data", "key", "iv")
    ):
        raise LicenseKeyInvalid("Required field missing from encryption data.")
    return (
        _decode64(envelope["data"], "data"),
        _decode64(envelope["key"], "key"),
        _decode64(envelope["iv"], "iv"),
    )


def decode(license_key: str, public_key: RSAPublicKey) -> dict[str, Any]:
    """The attributes inside ``license_key``; :class:`LicenseKeyInvalid` for anything else."""
    data, protected_key, iv = _envelope(license_key)
    if len(iv) != BLOCK_BYTES:
        raise LicenseKeyInvalid(f"the IV has {len(iv)} bytes, not {BLOCK_BYTES}")
    if not data or len(data) % BLOCK_BYTES:
        raise LicenseKeyInvalid("the data is not whole AES blocks (truncated?)")
    try:
        aes_key = public_decrypt(protected_key, public_key)
    except RawRSAError as error:
        raise LicenseKeyInvalid(f"License data could not be decrypted: {error}") from error
    if len(aes_key) != AES_KEY_BYTES:
        raise LicenseKeyInvalid("License data could not be decrypted: not an AES-128 key")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(BLOCK_BYTES * 8).unpadder()
    try:
        padded = decryptor.update(data) + decryptor.finalize()
        plaintext = unpadder.update(padded) + unpadder.finalize()
        attributes = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise LicenseKeyInvalid("the license data does not decrypt to JSON (tampered?)") from error
    if not isinstance(attributes, dict):
        raise LicenseKeyInvalid("the license data is not a JSON object")
    return attributes
