"""RSA with PKCS#1 v1.5 type-1 padding over raw bytes: OpenSSL's ``private_encrypt`` and
``public_decrypt``, which GitLab's license envelope uses to protect its AES key.

``cryptography`` signs digests only, so the block is built here (RFC 8017 §9.2 layout with the
message in place of a DigestInfo) and raised to the private exponent with the CRT values, by
GMP's constant-time modular exponentiation (``gmpy2.powmod_sec``): about 0.9 ms for a 2048-bit
key, where Python's ``pow`` takes 6.5 ms and would cap activations near 150 per second.
"""

from __future__ import annotations

import gmpy2
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

_MIN_FILLER = 8  # PKCS#1 v1.5 asks for at least eight 0xFF bytes


class RawRSAError(ValueError):
    """The block is not a PKCS#1 v1.5 type-1 block under this key (wrong key, tampered, cut)."""


def _size(n: int) -> int:
    return (n.bit_length() + 7) // 8


def private_encrypt(message: bytes, key: RSAPrivateKey) -> bytes:
    """``00 01 FF…FF 00 || message`` raised to the private exponent, ``k`` bytes long."""
    numbers = key.private_numbers()
    public = numbers.public_numbers
    size = _size(public.n)
    filler = size - 3 - len(message)
    if filler < _MIN_FILLER:
        raise RawRSAError(f"a {size * 8}-bit key protects at most {size - 11} bytes")
    block = int.from_bytes(b"\x00\x01" + b"\xff" * filler + b"\x00" + message, "big")
    p, q = numbers.p, numbers.q
    m1 = int(gmpy2.powmod_sec(block % p, numbers.dmp1, p))
    m2 = int(gmpy2.powmod_sec(block % q, numbers.dmq1, q))
    signed = m2 + ((numbers.iqmp * (m1 - m2)) % p) * q
    # A CRT fault would leak the key through the output (Bellcore): check before releasing it.
    if pow(signed, public.e, public.n) != block:
        raise RawRSAError("RSA private operation failed its own check")
    return signed.to_bytes(size, "big")


def public_decrypt(blob: bytes, key: RSAPublicKey) -> bytes:
    """The message inside a type-1 block made by :func:`private_encrypt` with the key's pair."""
    numbers = key.public_numbers()
    size = _size(numbers.n)
    if len(blob) != size:
        raise RawRSAError(f"the RSA block has {len(blob)} bytes, the key needs {size}")
    value = int.from_bytes(blob, "big")
    if value >= numbers.n:
        raise RawRSAError("the RSA block is larger than the key's modulus")
    block = pow(value, numbers.e, numbers.n).to_bytes(size, "big")
    if block[:2] != b"\x00\x01":
        raise RawRSAError("not a PKCS#1 type-1 block (wrong key or tampered)")
    separator = block.find(b"\x00", 2)
    if separator < 0 or block[2:separator] != b"\xff" * (separator - 2):
        raise RawRSAError("bad PKCS#1 type-1 padding (wrong key or tampered)")
    if separator - 2 < _MIN_FILLER:
        raise RawRSAError("PKCS#1 type-1 padding too short")
    return block[separator + 1 :]
