"""`provision serve` with no configuration: embedded PostgreSQL, migrations, GraphiQL, /readyz;
Ctrl-C stops what it started; the next start reuses the data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from graphql_client import answer

PROVISION = [sys.executable, "-m", "api.cli"]
READY_WITHIN_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PICCOLO_CONF")}
    env["PROVISION_DATA_DIR"] = str(data_dir)
    return env


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    port = _free_port()
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PROVISION, "serve", "--port", str(port)],
            env=_environment(data_dir),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() - started < READY_WITHIN_SECONDS, "not ready in 30 s"
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert process.wait(timeout=30) == 0, log.read_text()


def _postmaster_running(data_dir: Path) -> bool:
    return (data_dir / "postgres" / "postmaster.pid").exists()


def test_two_commands_serve_then_reuse_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "provision-data"
    with serving(data_dir) as base:
        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        body = httpx.post(f"{base}/graphql", json={"query": "{ viewer { kind } }"}).json()
        assert answer(body) == {"data": {"viewer": {"kind": "ANONYMOUS"}}}
    assert not _postmaster_running(data_dir), "Ctrl-C must stop the embedded PostgreSQL"

    demo = subprocess.run(
        [*PROVISION, "demo"], env=_environment(data_dir), capture_output=True, timeout=60
    )
    assert demo.returncode == 0, demo.stderr.decode()
    assert b"Demo data written" in demo.stdout
    staff_token, portal_token = [
        line for line in demo.stdout.decode().splitlines() if line.startswith("eyJ")
    ]

    token = _mint(data_dir, "subscriptions:read", "namespaces:read")
    with serving(data_dir) as base:
        query = "{ subscriptions { totalCount } namespaces { totalCount } }"
        anonymous = httpx.post(f"{base}/graphql", json={"query": query}).json()
        assert anonymous["data"] is None
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        body = httpx.post(
            f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert answer(body) == {
            "data": {"subscriptions": {"totalCount": 6}, "namespaces": {"totalCount": 4}}
        }
        customers = "{ customers { edges { node { company } } } }"
        as_staff, as_wile = (
            httpx.post(
                f"{base}/graphql",
                json={"query": customers},
                headers={"Authorization": f"Bearer {printed}"},
            ).json()["data"]["customers"]["edges"]
            for printed in (staff_token, portal_token)
        )
        assert len(as_staff) == 4
        assert as_wile == [{"node": {"company": "Acme Corp"}}]  # the demo portal user's own
        code = re.search(r"activation code ([A-Z0-9]{24})", demo.stdout.decode())
        assert code is not None
        activate = """mutation($code: String!) { cloudActivationActivate(input: {
            activationCode: $code, instanceIdentifier: "0b7e4e5c-4c9d-4a43-9d1e-3c2f1a0b9e88"})
            { licenseKey errors } }"""
        activated = httpx.post(
            f"{base}/graphql", json={"query": activate, "variables": {"code": code.group(1)}}
        ).json()["data"]["cloudActivationActivate"]
        assert activated["errors"] == []
        assert activated["licenseKey"]
    assert not _postmaster_running(data_dir)


def test_with_database_url_it_uses_that_server_and_starts_nothing(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "unused-data"
    port = _free_port()
    env = _environment(data_dir)
    env["DATABASE_URL"] = database_url
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PROVISION, "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() - started < READY_WITHIN_SECONDS, log.read_text()
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, log.read_text()
    assert not data_dir.exists(), "no embedded PostgreSQL may start when DATABASE_URL is set"
    assert "Starting embedded PostgreSQL" not in log.read_text()


def _mint(data_dir: Path, *scopes: str) -> str:
    """A staff token from ``provision token issue``."""
    command = [*PROVISION, "token", "issue", "--kind", "STAFF", "--subject", "ops:ada"]
    for scope in scopes:
        command += ["--scope", scope]
    minted = subprocess.run(command, env=_environment(data_dir), capture_output=True, timeout=60)
    assert minted.returncode == 0, minted.stderr.decode()
    token = minted.stdout.decode().strip()
    assert token.count(".") == 2
    return token


def test_token_issue_mints_a_token_the_server_accepts(tmp_path: Path) -> None:
    data_dir = tmp_path / "provision-data"
    token = _mint(data_dir, "subscriptions:read")
    with serving(data_dir) as base:
        viewer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ viewer { kind subject scopes } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert answer(viewer) == {
        "data": {
            "viewer": {"kind": "STAFF", "subject": "ops:ada", "scopes": ["subscriptions:read"]}
        }
    }
