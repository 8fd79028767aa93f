"""The GitLab.com provisioning adapter: NAMESPACE_PROVISION rows become
``POST <GITLAB_COM_URL>/api/v4/internal/gitlab_subscriptions/namespaces/:id/provision``
(protocol §6), authenticated with a fresh ``X-Customers-Dot-Internal-Token``.

GitLab applies each section of the body (base_product, compute_minutes, storage,
add_on_purchases) on its own and says which failed. Every answer's per-section results are
appended to the row's payload (``results``) before the attempt ends; a retry sends only the
sections that have not succeeded yet. The recorded ``provision`` body itself never changes,
so a re-run after a crash sends the same values (set-to-value: harmless twice).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from auth.keys import KeyRing
from domain.model.provision_event import ProvisionEvent
from domain.ports import Clock
from domain.ports import EventHandler as Handler
from integrations.gitlab_com.token import HEADER, issue_internal_token

logger = logging.getLogger("provision.worker")

PROVISION_PATH = "/api/v4/internal/gitlab_subscriptions/namespaces/{id}/provision"
_MAX_MESSAGE = 300


class GitLabComRefused(Exception):
    """GitLab.com answered with a status that is neither success nor per-section results."""


class SectionsFailed(Exception):
    """GitLab.com applied some sections and refused others; only those are sent again."""


def sections_to_send(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded body less the sections an earlier attempt got applied."""
    done = {
        name
        for result in payload.get("results", ())
        for name, outcome in (result.get("sections") or {}).items()
        if isinstance(outcome, Mapping) and outcome.get("status") == "success"
    }
    provision: Mapping[str, Any] = payload["provision"]
    return {name: value for name, value in provision.items() if name not in done}


def section_outcomes(
    sent: Mapping[str, Any], status_code: int, answer: Any
) -> dict[str, dict[str, str]]:
    """Each sent section's outcome from a 200 or 422 answer. A section the answer does not
    mention succeeded on a 200 and failed on a 422 (older GitLabs answer 422 with one joined
    message and no per-section payload)."""
    answer = answer if isinstance(answer, Mapping) else {}
    per_section = answer.get("payload")
    per_section = per_section if isinstance(per_section, Mapping) else {}
    fallback = "success" if status_code == 200 else "error"
    outcomes: dict[str, dict[str, str]] = {}
    for name in sent:
        given = per_section.get(name)
        given = given if isinstance(given, Mapping) else {}
        status = "success" if given.get("status", fallback) == "success" else "error"
        outcome = {"status": status}
        message = given.get("message") or (answer.get("message") if status == "error" else None)
        if message:
            outcome["message"] = str(message)[:_MAX_MESSAGE]
        outcomes[name] = outcome
    return outcomes


def _short(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    message = answer.get("message") or answer.get("error") if isinstance(answer, dict) else None
    return f": {str(message)[:_MAX_MESSAGE]}" if message else ""


def namespace_provision_handler(
    http: httpx.AsyncClient,
    base_url: str,
    issuer: str,
    load_keys: Callable[[], Awaitable[KeyRing]],
    save_payload: Callable[[ProvisionEvent], Awaitable[bool]],
    clock: Clock,
) -> Handler:
    """POST the sections still to apply; record GitLab's per-section answer on the row."""
    base = base_url.rstrip("/")

    async def provision(event: ProvisionEvent) -> None:
        sending = sections_to_send(event.payload)
        if not sending:
            return  # an earlier attempt got everything applied, then its worker died
        namespace = quote(str(event.payload["namespace"]), safe="")
        token = issue_internal_token(await load_keys(), issuer, clock.now())
        response = await http.post(
            base + PROVISION_PATH.format(id=namespace),
            json={"provision": sending},
            headers={HEADER: token, "Idempotency-Key": event.idempotency_key},
        )
        if response.status_code not in (200, 422):
            # Not raise_for_status(): its message would carry the whole URL.
            raise GitLabComRefused(f"GitLab.com answered {response.status_code}{_short(response)}")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        outcomes = section_outcomes(sending, response.status_code, answer)
        result = {
            "attempt": event.attempts,
            "at": clock.now().isoformat(),
            "status": response.status_code,
            "sections": outcomes,
        }
        event.payload = {**event.payload, "results": [*event.payload.get("results", ()), result]}
        if not await save_payload(event):
            logger.warning("the lease on %s was lost before its results were stored", event.id)
        failed = sorted(
            name for name, outcome in outcomes.items() if outcome["status"] != "success"
        )
        if failed:
            details = "; ".join(
                f"{name}: {outcomes[name].get('message', 'error')}" for name in failed
            )
            raise SectionsFailed(f"GitLab.com refused {', '.join(failed)} ({details})")

    return provision
