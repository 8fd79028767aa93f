"""The client pages' examples do what the pages say (docs/clients/*.md, tests/e2e/client_docs.py).

Every GraphQL document shown is valid against the checked-in schema; every python and sh
example runs, in page order, against the app served on 127.0.0.1 by uvicorn (real PostgreSQL,
the session's database), and its answer is the one shown. Each page gets the data and the
environment it says it starts from (a customer, a person, a client and its secret…).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shlex
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_docs import Block, Shell, blocks, cli_commands, matches, run_python
from graphql import build_schema, parse, validate
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from webhook_hub import delivery_worker

from api.app import create_app
from api.cli.main import build_parser
from api.settings import Settings
from auth.backend import KIND_CLAIM
from auth.tokens import issue_access_token
from domain.model.customer import Membership
from domain.model.enums import Role
from domain.model.partner import Partner, PartnerKind
from domain.model.provision_event import ProvisionStatus
from domain.policy import grantable
from domain.ports import Clock
from domain.principal import PrincipalKind
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
import ledger_rows
from bearer import ADMIN, SETTINGS, bearer
from clocks import SESSION_CLOCK
from fakes import FixedClock
from gitlab_com_peer import FakeGitLab, _serving, serving_gitlab
from oauth_flow import PASSWORD, REDIRECT_URI, code_for, machine_client, pkce, portal_client, user
from provision_process import free_port

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs" / "clients").glob("*.md"))
SCHEMA = build_schema((ROOT / "schema.graphql").read_text())
PORTAL_ORIGIN = "https://portal.example"


@dataclasses.dataclass
class Served:
    app: Starlette
    base: str
    gitlab: FakeGitLab


@contextmanager
def serving_docs_app(database_url: str, clock: Clock) -> Iterator[Served]:
    """The app under uvicorn on a free port, in a thread of its own (the examples are
    synchronous httpx and curl, as a client's would be), its issuer its own URL, with a
    stand-in GitLab.com that verifies the callbacks' tokens through that URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving_gitlab(base) as gitlab:
        app = create_app(
            Settings(
                database_url=database_url,
                issuer=base,
                port=port,
                pool_max=3,
                gc_interval=0,
                cors_origins=(PORTAL_ORIGIN,),
                gitlab_com_url=gitlab.url,
                gitlab_com_admin_email=ADMIN["X-Admin-Email"],
                gitlab_com_admin_token=ADMIN["X-Admin-Token"],
                webhooks_allow_http_loopback=True,
            ),
            clock=clock,
        )
        with _serving(app, port, "on"):
            yield Served(app, base, gitlab)


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Served]:
    """On the session's clock (the factories' "now"), as the e2e app is."""
    with serving_docs_app(database_url, SESSION_CLOCK) as app:
        yield app


@pytest.fixture(scope="module")
def served_on_system_clock(database_url: str) -> Iterator[Served]:
    """On the real clock, for the pages whose examples run the CLI (``provision token
    issue`` stamps its tokens with the real time, docs/testing.md)."""
    with serving_docs_app(database_url, SystemClock()) as app:
        yield app


def test_there_is_a_page_per_client_kind() -> None:
    assert [page.stem for page in PAGES] == [
        "gitlab-com",
        "gitlab-instance",
        "partner",
        "portal",
        "staff",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_graphql_document_is_valid_against_the_schema(page: Path) -> None:
    documents = [block for block in blocks(page) if block.language == "graphql"]
    assert documents, f"{page.name} shows no GraphQL operation"
    for block in documents:
        errors = validate(SCHEMA, parse(block.text))
        assert errors == [], (block.where(page), [e.message for e in errors])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_page_has_worked_examples_with_curl_and_python(page: Path) -> None:
    found = blocks(page)
    assert any(b.language == "sh" and "curl " in b.text for b in found), page.name
    assert any(b.language == "python" and "httpx" in b.text for b in found), page.name
    assert all(b.answer is not None for b in found if b.language == "python"), (
        f"{page.name}: every python example shows its answer"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_cli_command_shown_is_one_the_cli_takes(page: Path) -> None:
    """The commands the pages show but do not run (an operator's steps) parse with the real
    command line: a renamed option or command fails here."""
    parser = build_parser()
    for command in cli_commands(page):
        words = shlex.split(command)
        assert words[0] == "provision"
        try:
            parser.parse_args(words[1:])
        except SystemExit:
            raise AssertionError(f"{page.name}: the CLI refuses {command!r}") from None


def test_the_answer_matching_treats_only_the_ellipsis_as_a_wildcard() -> None:
    assert matches({"a": "…", "b": "sub_…", "c": "…/jwks"}, {"a": [1], "b": "sub_1", "c": "h/jwks"})
    assert not matches({"a": "sub_…"}, {"a": "cus_1"})
    assert not matches({"a": 1}, {"a": 1, "b": 2})
    assert not matches([1, 2], [1])
    assert not matches(1, True)


# -- what each page starts from --------------------------------------------------------------

Setup = Callable[[Database, Served], Awaitable[dict[str, str]]]
SELL = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  activationCode errors { code } } }"""


def staff_token(served: Served) -> str:
    """A staff token as ``bearer.token_for`` makes, for this app's issuer (its own URL)."""
    return issue_access_token(
        served.app.state.keys(),
        dataclasses.replace(SETTINGS, issuer=served.base),
        served.app.state.clock.now(),
        subject="test:docs",
        client_id="e2e-tests",
        scopes=grantable(PrincipalKind.STAFF),
        extra={KIND_CLAIM: PrincipalKind.STAFF.value},
    )


async def portal_setup(db: Database, served: Served) -> dict[str, str]:
    acme, other = f.customer("Acme Corp"), f.customer("Other Inc")
    await f.store(db, acme, other, f.subscription(acme), f.subscription(other))
    ada = await user(db, "ada@example.com")
    async with PostgresUnitOfWork(db) as uow:
        await uow.customers.add_membership(Membership(acme.id, ada.subject, Role.OWNER))
        await uow.commit()
    portal = await portal_client(db, name="Acme portal")
    # What the browser brought back to the front end's callback, for the curl example.
    verifier, challenge = pkce()
    async with httpx.AsyncClient(base_url=served.base) as http:
        code = await code_for(http, portal.client_id, challenge)
    return {
        "CLIENT_ID": portal.client_id,
        "REDIRECT_URI": REDIRECT_URI,
        "CODE": code,
        "VERIFIER": verifier,
        "PORTAL_EMAIL": ada.email,
        "PORTAL_PASSWORD": PASSWORD,
    }


async def instance_setup(db: Database, served: Served) -> dict[str, str]:
    """A self-managed sale by staff: its activation code is what the customer types."""
    sale = {
        "deployment": "SELF_MANAGED",
        "plan": "PREMIUM",
        "term": {
            "segments": [
                {
                    "startDate": str(f.TODAY - timedelta(days=30)),
                    "endDate": str(f.TODAY + timedelta(days=335)),
                    "seats": 10,
                }
            ]
        },
        "newCustomer": {"company": "Acme", "contactName": "Ada", "contactEmail": "ada@acme.test"},
    }
    async with httpx.AsyncClient(base_url=served.base, headers=bearer(staff_token(served))) as http:
        answered = await http.post("/graphql", json={"query": SELL, "variables": {"input": sale}})
        body = answered.json()
        assert "data" in body, body
        sold = body["data"]["createSubscription"]
    assert sold["errors"] == [], sold
    return {"ACTIVATION_CODE": sold["activationCode"], "INSTANCE_ID": str(uuid.uuid4())}


@dataclasses.dataclass
class Receiver:
    """The partner's webhook receiver on 127.0.0.1: each delivery is handed to the
    ``receive`` function the page defines (400 when it raises, as the page says)."""

    url: str
    receive: Callable[[bytes, dict[str, str]], Any] | None = None
    received: list[Any] = dataclasses.field(default_factory=list)
    refused: list[str] = dataclasses.field(default_factory=list)


@contextmanager
def serving_receiver() -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks/provision")

    async def hook(request: Request) -> Response:
        body = await request.body()
        assert receiver.receive is not None, "a delivery before the page defined receive()"
        try:
            receiver.received.append(receiver.receive(body, dict(request.headers)))
        except WebhookVerificationError as error:
            receiver.refused.append(str(error))
            return Response(status_code=400)
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hooks/provision", hook, methods=["POST"])])
    with _serving(app, port, "off"):
        yield receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with serving_receiver() as serving:
        yield serving


async def partner_setup(db: Database, served: Served) -> dict[str, str]:
    async with PostgresUnitOfWork(db) as uow:
        await uow.partners.add(Partner("p-42", "Reseller 42", PartnerKind.RESELLER, f.NOW))
        await uow.commit()
    # A direct sale the partner must not see.
    acme = f.customer("Acme")
    await f.store(db, acme, f.subscription(acme))
    robot = await machine_client(db, PrincipalKind.PARTNER, partner_id="p-42")
    assert robot.client_secret is not None
    return {
        "CLIENT_ID": robot.client_id,
        "CLIENT_SECRET": robot.client_secret,
    }


async def gitlab_com_setup(db: Database, served: Served) -> dict[str, str]:
    served.gitlab.reset()
    return {"ADMIN_EMAIL": ADMIN["X-Admin-Email"], "ADMIN_TOKEN": ADMIN["X-Admin-Token"]}


async def staff_setup(db: Database, served: Served) -> dict[str, str]:
    now = served.app.state.clock.now()
    await ledger_rows.record(
        db,
        ledger_rows.row("EMAIL", ProvisionStatus.DEAD, age=timedelta(hours=2), now=now),
        ledger_rows.row("EMAIL", ProvisionStatus.DEAD, age=timedelta(hours=1), now=now),
        ledger_rows.row("EMAIL", ProvisionStatus.SUCCEEDED, now=now),
    )
    robot = await machine_client(db, PrincipalKind.STAFF, name="On-call script")
    assert robot.client_secret is not None
    return {"CLIENT_ID": robot.client_id, "CLIENT_SECRET": robot.client_secret}


ON_SYSTEM_CLOCK = {"gitlab-com", "staff"}
PARTNER_SALE = {
    "deployment": "SELF_MANAGED",
    "plan": "ULTIMATE",
    "channel": "RESELLER",
    "term": {"segments": [{"startDate": "2026-01-01", "endDate": "2027-01-01", "seats": 5}]},
    "newCustomer": {"company": "Globex", "contactName": "Hank", "contactEmail": "hank@globex.test"},
}
SETUPS: dict[str, Setup] = {
    "gitlab-com": gitlab_com_setup,
    "gitlab-instance": instance_setup,
    "partner": partner_setup,
    "portal": portal_setup,
    "staff": staff_setup,
}


async def after_partner(
    namespace: dict[str, Any], served: Served, receiver: Receiver, db: Database
) -> None:
    """The receiver the page defines accepts a real delivery (the next sale's
    ``subscription.created``, sent by the delivery worker), and refuses a forged one."""
    receive = namespace["receive"]
    receiver.receive = receive
    async with httpx.AsyncClient(base_url=served.base) as http:
        token = (
            await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"]),
            )
        ).json()["access_token"]
        sold = await http.post(
            "/graphql",
            json={"query": SELL, "variables": {"input": PARTNER_SALE}},
            headers=bearer(token),
        )
    assert sold.json()["data"]["createSubscription"]["errors"] == [], sold.text
    # The worker signs with its clock's time, which the receiver checks against the real one.
    async with delivery_worker(db, FixedClock(datetime.now(UTC))) as worker:
        await worker.until_settled()
    assert receiver.refused == []
    [event] = receiver.received
    assert event["type"] == "subscription.created"
    assert event["data"]["subscription"]["partner_id"] == "p-42"
    assert event["data"]["subscription"]["plan"] == "ULTIMATE"

    body = json.dumps({"type": "subscription.created", "data": {"id": "sub_1"}})
    at = datetime.now(UTC)
    # Signed as the delivery worker signs (integrations/webhooks/delivery.py).
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(namespace["SECRET"]).sign("msg_1", at, body),
    }
    assert receive(body.encode(), headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        receive(body.replace("sub_1", "sub_2").encode(), headers)


def after_gitlab_com(served: Served) -> None:
    """The trial was provisioned on GitLab.com before the answer, with a token it verified."""
    assert served.gitlab.refusals == []
    assert {call.namespace for call in served.gitlab.calls} == {"9001"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
async def test_the_worked_examples_answer_as_shown(
    page: Path,
    request: pytest.FixtureRequest,
    clean_db: Database,
    database_url: str,
    monkeypatch: Any,
    receiver: Receiver,
) -> None:
    served: Served = request.getfixturevalue(
        "served_on_system_clock" if page.stem in ON_SYSTEM_CLOCK else "served"
    )
    env = {"API": served.base, "WEBHOOK_URL": receiver.url}
    env.update(await SETUPS[page.stem](clean_db, served))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shell = Shell(dict(env), database_url, served.base)
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    examples = [b for b in blocks(page) if b.language in ("python", "sh")]

    def run(block: Block) -> None:
        if block.language == "python":
            run_python(block, page, namespace)
        else:
            shell.run(block, page)

    for block in examples:
        # In a thread: the examples block on their HTTP calls, as clients do.
        await asyncio.to_thread(run, block)
    assert shell.ran, f"{page.name}: no curl was run"
    if page.stem == "partner":
        await after_partner(namespace, served, receiver, clean_db)
    if page.stem == "gitlab-com":
        after_gitlab_com(served)
