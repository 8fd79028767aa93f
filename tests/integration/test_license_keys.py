"""The license signing key in PostgreSQL: made once (even by racing first starts), one row only,
and the signer adapter signs off the event loop's thread with it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

import auth.licenses.keys
from auth.licenses.envelope import decode
from auth.licenses.keys import DatabaseLicenseSigner, load_or_create, load_public_key
from domain.ports import LicenseSigner
from persistence.database import Database

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ATTRIBUTES = {"version": 1, "licensee": {"Name": "Ada"}, "issued_at": "2026-01-01"}


async def _fresh(db: Database) -> None:
    await db.fetch("TRUNCATE auth_license_key")


async def test_racing_first_starts_make_one_key(db: Database, database_url: str) -> None:
    await _fresh(db)
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        keys = await asyncio.gather(*(load_or_create(c, NOW) for c in connections))
    finally:
        for connection in connections:
            await connection.close()
    assert len({key.public_pem for key in keys}) == 1
    assert await db.fetchval("SELECT count(*) FROM auth_license_key") == 1
    stored = await db.fetchrow("SELECT private_key_pem, public_key_pem FROM auth_license_key")
    assert stored is not None
    assert stored["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert stored["public_key_pem"] == keys[0].public_pem
    assert keys[0].public_key.key_size == 2048


async def test_a_restart_reuses_the_key_and_the_public_key_reads_alone(
    db: Database, database_url: str
) -> None:
    await _fresh(db)
    connection = await asyncpg.connect(database_url)
    try:
        assert await load_public_key(connection) is None
        first = await load_or_create(connection, NOW)
        again = await load_or_create(connection, NOW + timedelta(days=1))
        public = await load_public_key(connection)
    finally:
        await connection.close()
    assert again.public_pem == first.public_pem
    assert again.created_at == NOW
    assert public is not None
    assert public.public_numbers() == first.public_key.public_numbers()


async def test_the_table_holds_one_key(db: Database, database_url: str) -> None:
    await _fresh(db)
    connection = await asyncpg.connect(database_url)
    try:
        await load_or_create(connection, NOW)
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute(
                "INSERT INTO auth_license_key (id, private_key_pem, public_key_pem, created_at)"
                " VALUES (gen_random_uuid(), 'x', 'y', now())"
            )
    finally:
        await connection.close()


def test_the_private_key_stays_out_of_reprs() -> None:
    key = auth.licenses.keys.LicenseSigningKey(rsa.generate_private_key(65537, 2048), NOW)
    assert "private_key" not in repr(key)


async def test_the_signer_loads_once_and_signs_in_a_worker_thread(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _fresh(db)
    loop_thread = threading.get_ident()
    signing_threads: list[int] = []
    real_encode = auth.licenses.keys.encode

    def recording_encode(attributes: Mapping[str, object], key: RSAPrivateKey) -> str:
        signing_threads.append(threading.get_ident())
        return real_encode(attributes, key)

    monkeypatch.setattr(auth.licenses.keys, "encode", recording_encode)
    signer: LicenseSigner = DatabaseLicenseSigner(lambda: db.pool, lambda: NOW)
    keys = await asyncio.gather(*(signer.sign(ATTRIBUTES) for _ in range(5)))

    assert len(set(keys)) == 5  # a fresh envelope each time
    assert len(signing_threads) == 5
    assert loop_thread not in signing_threads
    assert await db.fetchval("SELECT count(*) FROM auth_license_key") == 1
    async with db.pool.acquire() as connection:
        public = await load_public_key(connection)
    assert public is not None
    assert all(decode(key, public) == ATTRIBUTES for key in keys)
