"""The tenant provisioner over HTTP (a Switchboard-like API, docs/dedicated.md):

- ``POST   /api/v1/tenants``                 a new tenant (its facts)
- ``POST   /api/v1/tenants/{id}/changes``    a change (the new facts)
- ``PUT    /api/v1/tenants/{id}/license``    install a license key
- ``DELETE /api/v1/tenants/{id}``            remove the tenant

Every call carries ``Authorization: Bearer <token>`` and ``Idempotency-Key`` (the ledger row's,
the same on every attempt). A 2xx is accepted (the work is asynchronous: the provisioner calls
back); anything else raises ``ProvisionerRefused`` with the status and the answer's message,
never the URL or the token.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from domain.model.dedicated import TenantFacts

_MAX_MESSAGE = 300


class ProvisionerRefused(Exception):
    """The provisioner answered with a status other than 2xx."""


class HttpTenantProvisioner:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str | None) -> None:
        self._http = http
        self._base = base_url.rstrip("/") + "/api/v1/tenants"
        self._token = token

    async def _send(self, method: str, path: str, key: str, body: Any = None) -> None:
        headers = {"Idempotency-Key": key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = await self._http.request(
                method, self._base + path, json=body, headers=headers
            )
        except httpx.HTTPError as error:
            raise ProvisionerRefused(
                f"the provisioner is unreachable ({type(error).__name__})"
            ) from None
        if not response.is_success:
            raise ProvisionerRefused(
                f"the provisioner answered {response.status_code}{_short(response)}"
            )

    async def provision(
        self, tenant_id: uuid.UUID, subscription: str, facts: TenantFacts, key: str
    ) -> None:
        body = {"tenant_id": str(tenant_id), "subscription": subscription, **facts.as_json()}
        await self._send("POST", "", key, body)

    async def change(self, tenant_id: uuid.UUID, facts: TenantFacts, key: str) -> None:
        await self._send("POST", f"/{tenant_id}/changes", key, facts.as_json())

    async def deliver_license(
        self, tenant_id: uuid.UUID, license_key: str, expires_on: date, key: str
    ) -> None:
        body = {"license_key": license_key, "expires_on": expires_on.isoformat()}
        await self._send("PUT", f"/{tenant_id}/license", key, body)

    async def deprovision(self, tenant_id: uuid.UUID, key: str) -> None:
        await self._send("DELETE", f"/{tenant_id}", key)


def _short(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    message = (answer.get("message") or answer.get("error")) if isinstance(answer, dict) else None
    return f": {str(message)[:_MAX_MESSAGE]}" if message else ""
