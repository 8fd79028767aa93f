"""`provision serve` with no configuration: embedded PostgreSQL, migrations, GraphiQL, /readyz;
Ctrl-C stops what it started; the next start reuses the data."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from graphql_client import answer
from provision_process import PROVISION, environment, mint_token, serving

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)


def _postmaster_running(data_dir: Path) -> bool:
    return (data_dir / "postgres" / "postmaster.pid").exists()


def test_sigterm_stops_the_server_and_its_embedded_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "provision-data"
    with serving(environment(data_dir), tmp_path, stop=signal.SIGTERM, exit_code=0) as served:
        assert httpx.get(f"{served.base}/healthz").status_code == 200
        assert _postmaster_running(data_dir)
    assert not _postmaster_running(data_dir), "SIGTERM must stop the embedded PostgreSQL too"


def test_two_commands_serve_then_reuse_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "provision-data"
    with serving(environment(data_dir), tmp_path) as served:
        base = served.base
        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        body = httpx.post(f"{base}/graphql", json={"query": "{ viewer { kind } }"}).json()
        assert answer(body) == {"data": {"viewer": {"kind": "ANONYMOUS"}}}
    assert not _postmaster_running(data_dir), "Ctrl-C must stop the embedded PostgreSQL"

    demo = subprocess.run(
        [*PROVISION, "demo"], env=environment(data_dir), capture_output=True, timeout=60
    )
    assert demo.returncode == 0, demo.stderr.decode()
    assert b"Demo data written" in demo.stdout
    staff_token, portal_token = [
        line for line in demo.stdout.decode().splitlines() if line.startswith("eyJ")
    ]

    token = mint_token(environment(data_dir), "subscriptions:read", "namespaces:read")
    with serving(environment(data_dir), tmp_path) as served:
        base = served.base
        query = "{ subscriptions { totalCount } namespaces { totalCount } }"
        anonymous = httpx.post(f"{base}/graphql", json={"query": query}).json()
        assert anonymous["data"] is None
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        body = httpx.post(
            f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert answer(body) == {
            "data": {"subscriptions": {"totalCount": 7}, "namespaces": {"totalCount": 6}}
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
    with serving(environment(data_dir, database_url), tmp_path) as served:
        pass
    assert not data_dir.exists(), "no embedded PostgreSQL may start when DATABASE_URL is set"
    assert "Starting embedded PostgreSQL" not in served.log.read_text()


def test_token_issue_mints_a_token_the_server_accepts(tmp_path: Path) -> None:
    data_dir = tmp_path / "provision-data"
    token = mint_token(environment(data_dir), "subscriptions:read")
    with serving(environment(data_dir), tmp_path) as served:
        viewer = httpx.post(
            f"{served.base}/graphql",
            json={"query": "{ viewer { kind subject scopes } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert answer(viewer) == {
        "data": {
            "viewer": {"kind": "STAFF", "subject": "ops:ada", "scopes": ["subscriptions:read"]}
        }
    }
