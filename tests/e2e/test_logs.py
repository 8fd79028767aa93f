"""Logs in JSON (PROVISION_LOG_FORMAT=json): one object per line, every line of a request
carrying its request id, principal kind and operation name; one access line per request with
method, path (never the query string), status and duration. In-process, through the real app,
with the handler ``logging_config`` configures (its filter and JSON formatter)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.http.logs import RequestContextFilter, json_formatter, logging_config
from api.settings import Settings
from domain.principal import PrincipalKind
from persistence.database import Database

from bearer import token_for
from oauth_flow import machine_client


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[dict[str, Any]]:
        """The app's lines (the test's own httpx client logs outside any request)."""
        parsed = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return [line for line in parsed if line["logger"] != "httpx"]

    @property
    def text(self) -> str:
        return "\n".join(json.dumps(line) for line in self.lines())

    def access(self, request_id: str) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines()
            if line["logger"] == "provision.access" and line.get("request_id") == request_id
        ]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The root logger at DEBUG into a JSON handler built as ``logging_config`` names it."""
    config = logging_config(Settings(log_format="json", log_level="debug"))
    assert config["formatters"]["provision"] == {"()": "api.http.logs.json_formatter"}
    assert config["filters"]["request"] == {"()": "api.http.logs.RequestContextFilter"}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_graphql_request_with_a_token_logs_its_context(
    client: httpx.AsyncClient, app: Starlette, captured: Captured
) -> None:
    token = token_for(app, PrincipalKind.STAFF)
    response = await client.post(
        "/graphql?access_token=query-string-secret-1",
        json={
            "query": "query WhoAmI { viewer { kind } } query Other { viewer { subject } }",
            "operationName": "WhoAmI",
        },
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": "logs-graphql-1"},
    )
    assert response.json()["data"] == {"viewer": {"kind": "STAFF"}}
    [access] = captured.access("logs-graphql-1")
    assert access["level"] == "INFO"
    assert access["principal_kind"] == "STAFF"
    assert access["operation"] == "WhoAmI"
    assert access["method"] == "POST"
    assert access["path"] == "/graphql"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] >= 0
    assert access["message"].startswith("POST /graphql 200 ")
    assert "time" in access
    assert "query-string-secret-1" not in captured.text
    assert token not in captured.text


async def test_the_operation_name_is_read_from_the_document(
    anonymous: httpx.AsyncClient, captured: Captured
) -> None:
    await anonymous.post(
        "/graphql",
        json={"query": "query Named { viewer { kind } }"},
        headers={"X-Request-Id": "logs-graphql-2"},
    )
    [access] = captured.access("logs-graphql-2")
    assert (access["operation"], access["principal_kind"]) == ("Named", "ANONYMOUS")


async def test_every_line_of_a_request_carries_its_request_id(
    anonymous: httpx.AsyncClient, clean_db: Database, captured: Captured
) -> None:
    robot = await machine_client(clean_db, PrincipalKind.PARTNER, partner_id="p-1")
    for request_id, secret in (("logs-oauth-1", robot.client_secret), ("logs-oauth-2", "nope")):
        await anonymous.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(robot.client_id, secret or ""),
            headers={"X-Request-Id": request_id},
        )
        refused = await anonymous.post(
            "/graphql",
            json={"query": "{ viewer { kind } }"},
            headers={"Authorization": "Bearer not-a-token", "X-Request-Id": f"{request_id}-bad"},
        )
        assert refused.status_code == 401
    lines = captured.lines()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        assert "request_id" in line, line
        by_id.setdefault(line["request_id"], []).append(line)
    assert set(by_id) == {"logs-oauth-1", "logs-oauth-2", "logs-oauth-1-bad", "logs-oauth-2-bad"}
    # authlib's own lines and ours, not only the access line.
    assert any(line["logger"].startswith("authlib") for line in by_id["logs-oauth-1"])
    assert any("bearer token refused" in line["message"] for line in by_id["logs-oauth-1-bad"])
    for request_id, status in (("logs-oauth-1", 200), ("logs-oauth-2", 401)):
        [access] = captured.access(request_id)
        assert access["status"] == status
    assert robot.client_secret
    assert robot.client_secret not in captured.text
