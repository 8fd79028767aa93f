"""The customer portal over ASGI: its page and files (strict CSP, no inline script, package
data), its OAuth client, its documents by id, the trusted-documents-only setting for its
tokens, and the provisioning steps a customer sees of a group."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.ids import global_id
from api.portal.client import PORTAL_CLIENT_ID, ensure_portal_client, portal_redirect_uri
from api.portal.documents import OPERATIONS, trusted_documents
from api.portal.page import STATIC
from api.settings import Settings
from domain.model.customer import Membership
from domain.model.enums import Deployment, Role
from domain.principal import PrincipalKind
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
import oauth_flow as flow
from bearer import bearer, token_for
from clocks import SESSION_CLOCK

ISSUER = Settings().issuer
ANY_QUERY = "{ viewer { kind subject } }"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self.inline_scripts: list[str] = []
        self.data: dict[str, str] = {}
        self._in: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
            self._in = attributes
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.styles.append(attributes["href"] or "")
        assert not any(name.startswith("on") for name in attributes), attrs
        assert "style" not in attributes, attrs

    def handle_data(self, data: str) -> None:
        if self._in is not None and data.strip():
            if self._in.get("type") == "application/json":
                self.data[self._in.get("id") or ""] = data
            else:
                self.inline_scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = None


async def test_the_page_has_a_strict_policy_and_only_files_from_itself(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get("/portal/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    page = _Page()
    page.feed(response.text)
    assert page.inline_scripts == []
    sources = [s["src"] for s in page.scripts if s.get("src")]
    assert sources == ["static/app.js"]
    assert page.styles == ["static/portal.css"]
    config = json.loads(page.data["portal-config"])
    assert config["clientId"] == PORTAL_CLIENT_ID
    assert config["documents"] == trusted_documents().by_name
    for path, kind in (("static/app.js", "javascript"), ("static/portal.css", "text/css")):
        asset = await anonymous.get(f"/portal/{path}")
        assert asset.status_code == 200
        assert kind in asset.headers["content-type"]


async def test_every_module_the_app_imports_is_served(anonymous: httpx.AsyncClient) -> None:
    imported = {"app.js"}
    for script in STATIC.glob("*.js"):
        imported |= set(re.findall(r'from "\./([\w.-]+\.js)"', script.read_text()))
    assert imported == {p.name for p in STATIC.glob("*.js")}
    for name in imported:
        response = await anonymous.get(f"/portal/static/{name}")
        assert response.status_code == 200, name
        assert response.content == (STATIC / name).read_bytes()


async def test_the_bare_path_goes_to_the_page(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/portal")
    assert response.status_code == 308
    assert response.headers["location"] == "/portal/"


def test_the_files_are_package_data() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["api.portal"]
    assert "static/*" in patterns
    assert "operations/*.graphql" in patterns
    assert all(p.parent == STATIC for p in STATIC.rglob("*") if p.is_file())
    assert all(p.parent == OPERATIONS for p in OPERATIONS.rglob("*") if p.is_file())


async def test_the_app_registers_its_public_client_at_start(clean_db: Database) -> None:
    await ensure_portal_client(clean_db.pool, ISSUER, SESSION_CLOCK.now())
    await ensure_portal_client(clean_db.pool, "https://provision.example", SESSION_CLOCK.now())
    row = await clean_db.fetchrow(
        "SELECT kind, secret_hash, auth_method, redirect_uris, grant_types FROM auth_client"
        " WHERE client_id = $1",
        PORTAL_CLIENT_ID,
    )
    assert row is not None
    assert row["kind"] == "PORTAL_USER"
    assert row["secret_hash"] is None
    assert row["auth_method"] == "none"
    assert row["redirect_uris"] == ["https://provision.example/portal/"]
    assert sorted(row["grant_types"]) == ["authorization_code", "refresh_token"]


async def test_a_document_by_an_unknown_id_is_a_clear_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"documentId": "sha256:" + "0" * 64})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "documentId"}
    assert "unknown documentId" in error["message"]
    both = await client.post(
        "/graphql", json={"documentId": trusted_documents().by_name["Viewer"], "query": ANY_QUERY}
    )
    assert both.status_code == 400


@pytest.fixture(scope="module")
async def trusted_only(database_url: str) -> AsyncIterator[Starlette]:
    application = create_app(
        Settings(
            database_url=database_url,
            pool_max=2,
            gc_interval=0,
            trusted_documents_only_for_portal=True,
        ),
        clock=SESSION_CLOCK,
    )
    async with application.router.lifespan_context(application):
        yield application


async def _portal_sign_in(http: httpx.AsyncClient, db: Database, client_id: str) -> str:
    """A real authorization-code + PKCE sign-in of ada through ``client_id``."""
    redirect = portal_redirect_uri(ISSUER) if client_id == PORTAL_CLIENT_ID else None
    overrides: dict[str, Any] = {"scope": None}
    if redirect:
        overrides["redirect_uri"] = redirect
    verifier, challenge = flow.pkce()
    code = await flow.code_for(http, client_id, challenge, **overrides)
    exchanged = await flow.exchange(
        http, client_id, code, verifier, redirect_uri=redirect or flow.REDIRECT_URI
    )
    assert exchanged.status_code == 200, exchanged.text
    token: str = exchanged.json()["access_token"]
    return token


async def _post(http: httpx.AsyncClient, token: str, body: dict[str, Any]) -> Any:
    response = await http.post("/graphql", json=body, headers=bearer(token))
    return response.json()


async def test_with_the_setting_portal_tokens_run_only_registered_documents(
    trusted_only: Starlette, clean_db: Database
) -> None:
    await ensure_portal_client(clean_db.pool, ISSUER, SESSION_CLOCK.now())
    await flow.user(clean_db)
    other = await flow.portal_client(clean_db)
    transport = httpx.ASGITransport(app=trusted_only)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        portal_token = await _portal_sign_in(http, clean_db, PORTAL_CLIENT_ID)
        assert flow.claims(portal_token)["client_id"] == PORTAL_CLIENT_ID
        by_id = await _post(
            http, portal_token, {"documentId": trusted_documents().by_name["Viewer"]}
        )
        assert by_id["data"]["viewer"]["kind"] == "PORTAL_USER"
        viewer_text = (OPERATIONS / "Viewer.graphql").read_text()
        by_text = await _post(http, portal_token, {"query": viewer_text})
        assert by_text["data"]["viewer"]["kind"] == "PORTAL_USER"
        refused = await _post(http, portal_token, {"query": ANY_QUERY})
        assert "data" not in refused or refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "UNTRUSTED_DOCUMENT"
        # The same person through another client, and everyone else, send what they like.
        other_token = await _portal_sign_in(http, clean_db, other.client_id)
        anything = await _post(http, other_token, {"query": ANY_QUERY})
        assert anything["data"]["viewer"]["kind"] == "PORTAL_USER"
        staff = await _post(http, token_for(trusted_only), {"query": ANY_QUERY})
        assert staff["data"]["viewer"]["kind"] == "STAFF"


async def test_without_the_setting_portal_tokens_send_any_document(
    app: Starlette, clean_db: Database
) -> None:
    await ensure_portal_client(clean_db.pool, ISSUER, SESSION_CLOCK.now())
    await flow.user(clean_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        portal_token = await _portal_sign_in(http, clean_db, PORTAL_CLIENT_ID)
        anything = await _post(http, portal_token, {"query": ANY_QUERY})
        assert anything["data"]["viewer"]["kind"] == "PORTAL_USER"


STEPS = """query($id: ID!) { namespace(id: $id) { path provisioningSteps {
  description state attempts createdAt updatedAt } } }"""
LINK = """mutation($s: ID!, $n: ID!) { linkNamespace(input: {subscriptionId: $s, namespaceId: $n})
  { errors { code } } }"""


async def test_a_customer_sees_the_provisioning_steps_of_their_group(
    app: Starlette, clean_db: Database
) -> None:
    acme = f.customer("Acme")
    group = dataclasses.replace(f.namespace(100), owner_emails=("alice@acme.test",))
    saas = f.subscription(acme, deployment=Deployment.GITLAB_COM)
    await f.store(clean_db, acme, group, saas)
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.customers.add_membership(Membership(acme.id, "usr_alice", Role.OWNER))
        await uow.commit()
    alice = token_for(app, PrincipalKind.PORTAL_USER, subject="usr_alice", email="alice@acme.test")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://provision.test", headers=bearer(alice)
    ) as http:
        ids = {"s": global_id("Subscription", saas.id), "n": global_id("Namespace", group.id)}
        before = await http.post("/graphql", json={"query": STEPS, "variables": {"id": ids["n"]}})
        assert before.json()["data"]["namespace"]["provisioningSteps"] == []
        linked = await http.post("/graphql", json={"query": LINK, "variables": ids})
        assert linked.json()["data"]["linkNamespace"]["errors"] == []
        await clean_db.fetch(
            "UPDATE provision_event SET status = 'FAILED', attempts = 2,"
            " last_error = 'secret internals'"
        )
        after = await http.post("/graphql", json={"query": STEPS, "variables": {"id": ids["n"]}})
    steps = after.json()["data"]["namespace"]["provisioningSteps"]
    assert len(steps) == 1
    assert steps[0]["state"] == "RETRYING"
    assert steps[0]["attempts"] == 2
    assert steps[0]["description"].startswith("Set plan premium")
    assert "secret internals" not in after.text
