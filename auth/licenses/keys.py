"""The RSA key that signs license keys: one row in ``auth_license_key``, made on first use.

Unlike the access-token keys it does not rotate: GitLab instances are configured with its
public key (protocol §3.1), and a new key would orphan every license already handed out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import anyio.to_thread
import asyncpg
from asyncpg.pool import PoolConnectionProxy
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from auth.licenses.envelope import encode

KEY_BITS = 2048
PUBLIC_EXPONENT = 65537
KEY_LOCK = 7_204_116  # pg_advisory_xact_lock key: one process makes the license key

Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class LicenseSigningKey:
    private_key: rsa.RSAPrivateKey = field(repr=False)
    created_at: datetime

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> str:
        return public_pem(self.public_key)


def public_pem(key: rsa.RSAPublicKey) -> str:
    """``-----BEGIN PUBLIC KEY-----`` (SubjectPublicKeyInfo), what GitLab's ``.pub`` file holds."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM; ValueError when it is something else."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def _new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_BITS)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _from_row(row: asyncpg.Record) -> LicenseSigningKey:
    key = serialization.load_pem_private_key(row["private_key_pem"].encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("auth_license_key holds a key that is not RSA")
    return LicenseSigningKey(private_key=key, created_at=row["created_at"])


async def load_public_key(connection: Connection) -> rsa.RSAPublicKey | None:
    """The stored public key only (what reading a license needs), or None before first use."""
    pem = await connection.fetchval("SELECT public_key_pem FROM auth_license_key")
    return None if pem is None else load_public_pem(pem.encode())


async def load_or_create(connection: Connection, now: datetime) -> LicenseSigningKey:
    """The license signing key; the first call on an empty database makes it."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", KEY_LOCK)
        row = await connection.fetchrow("SELECT private_key_pem, created_at FROM auth_license_key")
        if row is not None:
            return _from_row(row)
        # Key generation takes a while of CPU: not on the event loop's thread.
        private_key = await anyio.to_thread.run_sync(_new_private_key)
        await connection.execute(
            "INSERT INTO auth_license_key (id, private_key_pem, public_key_pem, created_at)"
            " VALUES ($1, $2, $3, $4)",
            uuid.uuid4(),
            _private_pem(private_key),
            public_pem(private_key.public_key()),
            now,
        )
        return LicenseSigningKey(private_key=private_key, created_at=now)


class DatabaseLicenseSigner:
    """The ``LicenseSigner`` port: the key from the database (made on first use, loaded once
    per process), the RSA and AES work in a worker thread."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], now: Callable[[], datetime]) -> None:
        self._pool = pool
        self._now = now
        self._key: LicenseSigningKey | None = None
        self._loading = asyncio.Lock()

    async def signing_key(self) -> LicenseSigningKey:
        if self._key is None:
            async with self._loading:
                if self._key is None:
                    async with self._pool().acquire() as connection:
                        self._key = await load_or_create(connection, self._now())
        return self._key

    async def sign(self, attributes: Mapping[str, object]) -> str:
        key = await self.signing_key()
        return await anyio.to_thread.run_sync(encode, attributes, key.private_key)

    async def sign_document(self, document: bytes) -> bytes:
        """The ``ReceiptSigner`` port: RSA PKCS #1 v1.5 over SHA-256, with the same key."""
        key = await self.signing_key()
        return await anyio.to_thread.run_sync(
            key.private_key.sign, document, padding.PKCS1v15(), hashes.SHA256()
        )
