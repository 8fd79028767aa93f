"""upsertNamespace and reportNamespaceUsage over HTTP: GitLab.com keeps namespaces current;
renames keep links; usage and overage show; others may not."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from domain.model.enums import Deployment
from domain.principal import PrincipalKind
from persistence.database import Database

import factories as f
from bearer import bearer, token_for

UPSERT = """mutation($input: UpsertNamespaceInput!) { upsertNamespace(input: $input) {
  namespace { id gitlabId path name kind topLevel plan ownerGitlabUserIds }
  errors { code path } } }"""
USAGE = """mutation($input: ReportNamespaceUsageInput!) { reportNamespaceUsage(input: $input) {
  namespace { billableMembers maxSeatsUsed computeMinutesUsed storageUsedBytes }
  errors { code path } } }"""


async def _call(http: httpx.AsyncClient, query: str, mutation: str, /, **fields: Any) -> Any:
    body = (
        await http.post("/graphql", json={"query": query, "variables": {"input": fields}})
    ).json()
    return body["data"][mutation] if body.get("data") else body


async def test_gitlab_com_creates_renames_and_reports_usage(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    anonymous.headers.update(bearer(token_for(app, PrincipalKind.GITLAB_COM, subject="gitlab")))
    fields = {"gitlabId": 42, "path": "acme", "name": "Acme", "kind": "group",
              "ownerEmails": ["Ada@Acme.test"], "ownerGitlabUserIds": [7]}  # fmt: skip
    created = await _call(anonymous, UPSERT, "upsertNamespace", **fields)
    assert created["errors"] == []
    ns = created["namespace"]
    assert (ns["gitlabId"], ns["kind"], ns["topLevel"], ns["plan"]) == (42, "GROUP", True, "FREE")
    renamed = await _call(
        anonymous, UPSERT, "upsertNamespace", **{**fields, "path": "acme-inc", "name": "Acme Inc"}
    )
    assert renamed["namespace"]["id"] == ns["id"]  # the same namespace: links survive
    assert renamed["namespace"]["path"] == "acme-inc"
    assert await clean_db.fetchval("SELECT owner_emails FROM namespace") == ["ada@acme.test"]
    usage = await _call(
        anonymous, USAGE, "reportNamespaceUsage", gitlabId=42, billableMembers=12,
        maxSeatsUsed=15, computeMinutesUsed=400, storageUsedBytes=5_000_000_000,
    )  # fmt: skip
    assert usage["errors"] == []
    assert usage["namespace"] == {
        "billableMembers": 12, "maxSeatsUsed": 15, "computeMinutesUsed": 400,
        "storageUsedBytes": 5_000_000_000,
    }  # fmt: skip
    actions = [
        r["action"] for r in await clean_db.fetch("SELECT action FROM audit_entry ORDER BY at, id")
    ]
    assert actions == ["upsertNamespace", "upsertNamespace", "reportNamespaceUsage"]


async def test_bad_input_and_unknown_namespaces(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    bad_kind = await _call(
        client, UPSERT, "upsertNamespace", gitlabId=1, path="a", name="A", kind="team"
    )
    assert bad_kind["errors"] == [{"code": "VALIDATION_FAILED", "path": ["kind"]}]
    bad_email = await _call(client, UPSERT, "upsertNamespace", gitlabId=1, path="a", name="A",
                            kind="group", ownerEmails=["nope"])  # fmt: skip
    assert bad_email["errors"][0]["path"] == ["ownerEmails"]
    own_parent = await _call(client, UPSERT, "upsertNamespace", gitlabId=1, path="a", name="A",
                             kind="group", parentGitlabId=1)  # fmt: skip
    assert own_parent["errors"][0]["path"] == ["parentGitlabId"]
    unknown = await _call(client, USAGE, "reportNamespaceUsage", gitlabId=999, billableMembers=1,
                          maxSeatsUsed=1, computeMinutesUsed=0, storageUsedBytes=0)  # fmt: skip
    assert [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"]
    assert await clean_db.fetchval("SELECT count(*) FROM namespace") == 0


async def test_portal_users_and_partners_may_not(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    for kind in (PrincipalKind.PORTAL_USER, PrincipalKind.PARTNER):
        anonymous.headers.update(bearer(token_for(app, kind, subject="x", partner="p")))
        answer = await _call(
            anonymous, UPSERT, "upsertNamespace", gitlabId=5, path="a", name="A", kind="group"
        )
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]
    assert await clean_db.fetchval("SELECT count(*) FROM namespace") == 0


RENAME = """mutation($input: OrderNamespaceNameUpdateInput!) {
  orderNamespaceNameUpdate(input: $input) { errors } }"""


async def test_gitlab_com_renames_a_group_and_its_link_stays(
    app: Starlette, anonymous: httpx.AsyncClient, clean_db: Database
) -> None:
    group = f.namespace(77)
    customer = f.customer()
    linked = f.subscription(customer, deployment=Deployment.GITLAB_COM, namespace_id=group.id)
    await f.store(clean_db, group, customer, linked)
    anonymous.headers.update(bearer(token_for(app, PrincipalKind.GITLAB_COM, subject="gitlab")))
    done = await _call(
        anonymous,
        RENAME,
        "orderNamespaceNameUpdate",
        namespaceId="77",
        namespaceName="Acme Renamed",
    )
    assert done == {"errors": []}
    assert await clean_db.fetchval("SELECT name FROM namespace") == "Acme Renamed"
    assert await clean_db.fetchval("SELECT namespace FROM subscription") == group.id
    unknown = await _call(
        anonymous, RENAME, "orderNamespaceNameUpdate", namespaceId="78", namespaceName="X"
    )
    assert unknown["errors"] == ["no namespace with that GitLab id"]
    garbage = await _call(
        anonymous, RENAME, "orderNamespaceNameUpdate", namespaceId="abc", namespaceName="X"
    )
    assert garbage["errors"]
