"""A small GraphQL client for the e2e tests."""

from __future__ import annotations

from typing import Any

import httpx


class GraphQL:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The body without ``extensions`` (the query's cost): what the tests compare whole."""
    return {key: value for key, value in body.items() if key != "extensions"}
