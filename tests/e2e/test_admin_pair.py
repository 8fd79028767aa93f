"""GitLab.com's admin header pair on ``/graphql`` (issue 11 item 13, protocols-next §3.3): the
configured pair stands for the GitLab.com principal; a wrong pair is refused like a bad token;
GitLab's public default pair, which self-managed instances send, stands for nobody."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from persistence.database import Database

import factories as f
from bearer import ADMIN
from graphql_client import codes

RENAME = """mutation($input: OrderNamespaceNameUpdateInput!) {
  orderNamespaceNameUpdate(input: $input) { errors } }"""
ACTIVATE = """mutation($input: CloudActivationActivateInput!) {
  cloudActivationActivate(input: $input) { licenseKey errors } }"""
PUBLIC_DEFAULTS = {
    "X-Admin-Email": "gl_com_api@gitlab.com",
    "X-Admin-Token": "customer_admin_token",
}


def _rename(gitlab_id: int, name: str) -> dict[str, object]:
    return {"query": RENAME, "variables": {"input": {"namespaceId": str(gitlab_id),
                                                     "namespaceName": name}}}  # fmt: skip


async def test_the_admin_pair_authenticates_gitlab_com_on_graphql(
    gitlab_com: httpx.AsyncClient, clean_db: Database
) -> None:
    await f.store(clean_db, f.namespace(77))
    answer = await gitlab_com.post("/graphql", json=_rename(77, "Acme Renamed"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {"orderNamespaceNameUpdate": {"errors": []}}
    assert await clean_db.fetchval("SELECT name FROM namespace") == "Acme Renamed"


async def test_a_wrong_pair_is_refused_like_a_bad_token(
    gitlab_com_app: Starlette, clean_db: Database
) -> None:
    await f.store(clean_db, f.namespace(77))
    transport = httpx.ASGITransport(app=gitlab_com_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        for wrong in (
            {**ADMIN, "X-Admin-Token": "s3cret-portal-tokem"},
            {**ADMIN, "X-Admin-Email": "someone@gitlab.test"},
            {"X-Admin-Token": ADMIN["X-Admin-Token"]},
        ):
            answer = await http.post("/graphql", json=_rename(77, "X"), headers=wrong)
            assert answer.status_code == 401, wrong
            assert codes(answer.json()) == ["UNAUTHENTICATED"]
        # Self-managed instances send GitLab's public defaults with their activation: ignored,
        # so the activation is answered (here: an unknown code), never refused with a 401.
        activation = {
            "activationCode": "A" * 24,
            "instanceIdentifier": "0" * 8,
            "automated": False,
            "gitlabVersion": "18.0",
            "hostname": "gl.test",
        }
        answer = await http.post(
            "/graphql",
            json={"query": ACTIVATE, "variables": {"input": activation}},
            headers=PUBLIC_DEFAULTS,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["cloudActivationActivate"]["errors"]
        # ... and they stand for nobody.
        answer = await http.post("/graphql", json=_rename(77, "X"), headers=PUBLIC_DEFAULTS)
        assert codes(answer.json()) == ["UNAUTHENTICATED"]
    assert await clean_db.fetchval("SELECT name FROM namespace") != "X"


async def test_without_a_configured_pair_the_headers_authenticate_nobody(
    anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    await f.store(clean_db, f.namespace(77))
    answer = await anonymous.post("/graphql", json=_rename(77, "X"), headers=ADMIN)
    assert codes(answer.json()) == ["UNAUTHENTICATED"]
