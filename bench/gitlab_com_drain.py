"""GitLab.com drain rate: NAMESPACE_PROVISION rows per minute that 2 ``provision worker``
processes complete against a fake GitLab.com that verifies every internal token.

Serves our API on a real socket (the issuer: GitLab fetches its discovery document and JWKS
there) and a fake GitLab.com on another, both in threads of this process. The fake checks each
``X-Customers-Dot-Internal-Token`` as GitLab does - signature against our JWKS, iss, sub, aud,
exp - but, like GitLab, caches the discovery document and key set after the first fetch (and
fetches again only for a key id it does not know). It answers 200 with every section applied
and counts calls by ``Idempotency-Key``, so the run also checks that each row ran exactly once.
Starts 2 workers with ``GITLAB_COM_URL`` and ``PROVISION_ISSUER`` set, commits N rows in one
transaction, and times until every row is SUCCEEDED.
Run from the repository root: ``python bench/gitlab_com_drain.py`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from ledger_drain import free_port
from seed import bench_database
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.app import create_app
from api.settings import Settings
from domain.model.provision_event import ProvisionEvent
from domain.model.provisioning import NAMESPACE_PROVISION
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.ledger import PostgresOutbox
from persistence.migrations import migrate
from persistence.unit_of_work import PostgresUnitOfWork

TARGET_ROWS_PER_MINUTE = 10_000
WORKERS = 2
BODY = {
    "base_product": {
        "plan_code": "ultimate",
        "seats": 50,
        "start_date": "2026-01-01",
        "end_date": "2027-01-01",
        "trial": False,
    },
    "compute_minutes": {"extra_shared_runners_minutes_limit": 1000},
    "storage": {"additional_purchased_storage_size": 10240},
}


class CachingGitLab:
    """The fake GitLab.com's provisioning endpoint, with GitLab's JWKS cache."""

    def __init__(self, portal: str) -> None:
        self.portal = portal
        self.calls: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.fetches = 0
        self._discovery: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()

    async def _load(self, kid: str | None) -> tuple[dict[str, Any], KeySet]:
        async with self._lock:
            known = self._keys is not None and any(k.kid == kid for k in self._keys.keys)
            if self._discovery is None or self._keys is None or not known:
                async with httpx.AsyncClient(timeout=5) as http:
                    url = f"{self.portal}/.well-known/openid-configuration"
                    self._discovery = (await http.get(url)).json()
                    jwks = (await http.get(self._discovery["jwks_uri"])).json()
                self._keys = KeySet.import_key_set(jwks)
                self.fetches += 1
            return self._discovery, self._keys

    async def verify(self, token: str) -> None:
        kid = extract_compact(token.encode()).headers().get("kid") if token else None
        discovery, keys = await self._load(kid)
        decoded = jwt.decode(
            token, keys, algorithms=discovery["id_token_signing_alg_values_supported"]
        )
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": discovery["issuer"]},
            sub={"essential": True, "value": "customers-dot-internal-api"},
            aud={"essential": True, "value": "gitlab-subscriptions"},
            exp={"essential": True},
        ).validate(decoded.claims)

    def app(self) -> Starlette:
        async def provision(request: Request) -> Response:
            try:
                await self.verify(request.headers.get("x-customers-dot-internal-token", ""))
            except (JoseError, ValueError) as error:
                self.refusals[type(error).__name__] += 1
                return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
            body = await request.json()
            self.calls[request.headers.get("idempotency-key", "")] += 1
            sections = {name: {"status": "success"} for name in body["provision"]}
            return JSONResponse({"status": "success", "message": None, "payload": sections})

        return Starlette(
            routes=[
                Route(
                    "/api/v4/internal/gitlab_subscriptions/namespaces/{id}/provision",
                    provision,
                    methods=["POST"],
                )
            ]
        )


def serve(app: Any, port: int, lifespan: str) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan=lifespan,
        ws="none",
        backlog=2048,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("a server did not start")
        time.sleep(0.02)
    return server


def start_workers(
    dsn: str, folder: Path, concurrency: int, gitlab: str, issuer: str
) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    env.update(
        DATABASE_URL=dsn,
        GITLAB_COM_URL=gitlab,
        PROVISION_ISSUER=issuer,
        PROVISION_WORKER_CONCURRENCY=str(concurrency),
        PROVISION_LOG_LEVEL="warning",
        PROVISION_MAIL_DIR=str(folder / "mail"),
    )
    processes = []
    for n in range(WORKERS):
        log = (folder / f"worker-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "api.cli.main", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    for n, process in enumerate(processes):
        while " started: " not in (folder / f"worker-{n}.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / f"worker-{n}.log").read_text())
            time.sleep(0.05)
    return processes


async def drain(dsn: str, rows: int) -> float:
    """Commit ``rows`` NAMESPACE_PROVISION events at once; seconds until all succeeded."""
    db = Database(dsn, pool_min=1, pool_max=2)
    await db.start()
    try:
        now = SystemClock().now()
        events = [
            ProvisionEvent.new(
                NAMESPACE_PROVISION,
                {"namespace": 1_000 + n, "provision": BODY},
                now=now,
                max_attempts=8,
            )
            for n in range(rows)
        ]
        async with PostgresUnitOfWork(db) as uow:
            assert isinstance(uow.outbox, PostgresOutbox)
            await uow.outbox.record_many(events)
            await uow.commit()
        started = time.monotonic()
        last_report = started
        while True:
            done = await db.fetchval(
                "SELECT count(*) FROM provision_event WHERE status = 'SUCCEEDED'"
                " AND kind = 'NAMESPACE_PROVISION'"
            )
            if done == rows:
                return time.monotonic() - started
            if time.monotonic() - last_report > 2:
                last_report = time.monotonic()
                print(f"  {done:,} of {rows:,} done", file=sys.stderr)
            if time.monotonic() - started > 600:
                raise RuntimeError(f"only {done} of {rows} rows done in 10 minutes")
            await asyncio.sleep(0.1)
    finally:
        await db.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows to drain (20,000)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="steps in flight per worker (16)"
    )
    args = parser.parse_args(argv)
    with bench_database() as dsn, tempfile.TemporaryDirectory() as logs:
        asyncio.run(migrate(dsn))
        api_port, gitlab_port = free_port(), free_port()
        issuer = f"http://127.0.0.1:{api_port}"
        api = serve(
            create_app(
                Settings(database_url=dsn, issuer=issuer, port=api_port, pool_max=4, gc_interval=0)
            ),
            api_port,
            "on",
        )
        fake = CachingGitLab(issuer)
        gitlab = serve(fake.app(), gitlab_port, "off")
        processes = start_workers(
            dsn, Path(logs), args.concurrency, f"http://127.0.0.1:{gitlab_port}", issuer
        )
        try:
            print(f"draining {args.rows:,} rows with {WORKERS} workers…", file=sys.stderr)
            seconds = asyncio.run(drain(dsn, args.rows))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
            gitlab.should_exit = True
            api.should_exit = True
            time.sleep(1.5)
    rate = args.rows / seconds * 60
    exactly_once = len(fake.calls) == args.rows and set(fake.calls.values()) == {1}
    print(
        f"{args.rows:,} NAMESPACE_PROVISION rows, {WORKERS} workers x {args.concurrency}"
        f" in flight, every token verified (JWKS fetched {fake.fetches}x): {seconds:.1f} s"
    )
    verdict = "PASS" if rate >= TARGET_ROWS_PER_MINUTE else "FAIL"
    print(f"rows drained per minute = {rate:,.0f}  target >= {TARGET_ROWS_PER_MINUTE:,}  {verdict}")
    print(f"every row provisioned exactly once: {'PASS' if exactly_once else 'FAIL'}")
    print(f"tokens refused: {dict(fake.refusals) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
