"""The OAuth endpoints over HTTP: read and bound the request, apply the failed-attempt
limits, run authlib's synchronous server in a worker thread, turn its reply into a response.

Nothing here answers 500 to bad input: bodies are size-capped and must be UTF-8 form data,
values are bounded and free of control characters, and what authlib raises on hostile input
becomes ``invalid_request``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote

import anyio.to_thread
from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from auth.hashing import verify_password
from auth.models import ClientRecord, UserRecord
from auth.rate_limit import FailureLimiter, Limit
from auth.request_body import read_body
from auth.server import Call, ProvisionAuthorizationServer, Reply
from auth.signin_page import (
    PAGE_HEADERS,
    TOO_MANY_ATTEMPTS,
    WRONG_CREDENTIALS,
    error_page,
    signin_page,
)

logger = logging.getLogger("provision.auth.endpoints")

MAX_BODY_BYTES = 16 * 1024
MAX_VALUE_CHARS = 4096
MAX_FIELDS = 32
MAX_EMAIL_CHARS = 254
MAX_PASSWORD_CHARS = 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Failures that may be guessing: a wrong client secret, a wrong code, verifier or token.
COUNTED_ERRORS = frozenset({"invalid_client", "invalid_grant"})
CREDENTIAL_FIELDS = frozenset({"email", "password"})
AUTHORIZATION_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
_T = TypeVar("_T")


class BadRequest(Exception):
    def __init__(self, reason: str, *, client_auth: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.client_auth = client_auth


def _checked(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if len(pairs) > MAX_FIELDS:
        raise BadRequest("too many parameters")
    for key, value in pairs:
        if len(key) > 64 or len(value) > MAX_VALUE_CHARS:
            raise BadRequest("a parameter is too long")
        if any(ord(c) < 32 or ord(c) == 127 for c in key + value):
            raise BadRequest("a parameter holds control characters")
    return pairs


async def read_form(request: Request) -> list[tuple[str, str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("the body must be application/x-www-form-urlencoded")
    body = await read_body(request, MAX_BODY_BYTES)
    if body is None:
        raise BadRequest("the body is too large")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not a well-formed UTF-8 form") from None
    return _checked(pairs)


def read_query(request: Request) -> list[tuple[str, str]]:
    if len(request.url.query) > MAX_BODY_BYTES:
        raise BadRequest("the query is too long")
    return _checked(list(request.query_params.multi_items()))


def _single(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    if len(values) > 1:
        raise BadRequest(f"{name} is repeated")
    return values[0] if values else None


def claimed_client_id(headers: Headers, pairs: list[tuple[str, str]]) -> str | None:
    """The client id the request claims (Basic credentials or the form), for rate limiting.
    A Basic header that does not decode is ``invalid_client`` at once."""
    header = headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadRequest("malformed Basic credentials", client_auth=True) from None
        client_id, colon, _ = decoded.partition(":")
        if not colon or not client_id:
            raise BadRequest("malformed Basic credentials", client_auth=True)
        return unquote(client_id)[:64]
    form_client = _single(pairs, "client_id")
    return form_client[:64] if form_client else None


def oauth_json(reply: Reply) -> JSONResponse:
    headers = {k: v for k, v in reply.headers if k.lower() != "content-type"}
    return JSONResponse(reply.body, status_code=reply.status, headers={**headers, **NO_STORE})


def oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**NO_STORE, **headers},
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class OAuthEndpoints:
    """``token``, ``authorize`` (GET and POST) and ``revoke``, as starlette endpoints."""

    def __init__(
        self,
        server: ProvisionAuthorizationServer,
        limiter: FailureLimiter,
        external_name: str | None = None,
    ) -> None:
        self.server = server
        self.limiter = limiter
        self.settings = server.settings
        self.external_name = external_name
        """The external OpenID provider's name, when people may sign in through it."""

    async def _in_thread(self, function: Callable[..., _T], *args: Any) -> _T | Reply:
        try:
            return await anyio.to_thread.run_sync(function, *args)
        except OAuth2Error as error:  # raised before authlib's own handling (insecure issuer)
            return Reply(*error())
        except (ValueError, UnicodeError, TypeError) as error:
            # authlib raises these on some hostile values (e.g. an error description it
            # would build from them); the request is bad, not the server.
            logger.info("oauth request refused by authlib: %s", type(error).__name__)
            return Reply(400, {"error": "invalid_request"}, [])

    # -- token and revocation -------------------------------------------------------------

    def _token_limits(self, client_id: str | None, address: str) -> list[Limit]:
        limits = [Limit("token_address", address, self.settings.token_failures_per_address)]
        if client_id:
            limits.append(Limit("token_client", client_id, self.settings.token_failures_per_client))
        return limits

    async def _client_authenticated(
        self, request: Request, path: str, handle: Callable[[Call], Reply]
    ) -> Response:
        try:
            params = await read_form(request)
            if len({k for k, _ in params}) != len(params):
                raise BadRequest("a parameter is repeated")
            client_id = claimed_client_id(request.headers, params)
        except BadRequest as bad:
            if bad.client_auth:
                return oauth_error(
                    401, "invalid_client", bad.reason, **{"WWW-Authenticate": "Basic"}
                )
            return oauth_error(400, "invalid_request", bad.reason)
        limits = self._token_limits(client_id, _address(request))
        wait = await self.limiter.retry_after(limits)
        if wait is not None:
            return oauth_error(
                429,
                "temporarily_unavailable",
                "too many failed requests; retry later",
                **{"Retry-After": str(wait)},
            )
        reply = await self._in_thread(handle, Call("POST", path, request.headers, params))
        assert isinstance(reply, Reply)
        if isinstance(reply.body, dict) and reply.body.get("error") in COUNTED_ERRORS:
            await self.limiter.record_failure(limits)
        return oauth_json(reply)

    async def token(self, request: Request) -> Response:
        return await self._client_authenticated(
            request, "/oauth/token", self.server.create_token_response
        )

    async def revoke(self, request: Request) -> Response:
        def revocation(call: Call) -> Reply:
            reply: Reply = self.server.create_endpoint_response("revocation", call)
            return reply

        return await self._client_authenticated(request, "/oauth/revoke", revocation)

    # -- authorization --------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        try:
            params = read_query(request) if request.method == "GET" else await read_form(request)
            client = await self._registered_client(params)
        except BadRequest as bad:
            return _page(error_page(bad.reason), 400)
        request_params = [(k, v) for k, v in params if k not in CREDENTIAL_FIELDS]
        call = Call(request.method, "/oauth/authorize", request.headers, request_params)
        grant = await self._in_thread(self._consent_grant, call)
        if isinstance(grant, Reply):
            return _from_reply(grant)
        if isinstance(grant, OAuth2Error):
            return self._authorization_error(grant)
        hidden = [(k, v) for k in AUTHORIZATION_FIELDS if (v := _single(params, k)) is not None]
        scopes = str(grant.request.scope or "").split()

        def page(message: str | None, email: str = "", status: int = 200, **extra: str) -> Response:
            html = signin_page(
                client_name=client.name,
                scopes=scopes,
                hidden=hidden,
                email=email,
                message=message,
                external_name=self.external_name,
            )
            return _page(html, status, **extra)

        if request.method == "GET":
            return page(None)
        email = (_single(params, "email") or "").strip()
        password = _single(params, "password") or ""
        per_address = self.settings.signin_failures_per_address
        limits = [Limit("signin_address", _address(request), per_address)]
        account = Limit("signin_account", email.lower(), self.settings.signin_failures_per_account)
        if email:
            limits.append(account)
        wait = await self.limiter.retry_after(limits)
        if wait is not None:
            return page(TOO_MANY_ATTEMPTS, email, 429, **{"Retry-After": str(wait)})
        user = await self._check_password(email, password)
        if user is None:
            await self.limiter.record_failure(limits)
            return page(WRONG_CREDENTIALS, email)
        await self.limiter.forget(account)
        reply = await self._in_thread(
            self.server.create_authorization_response, grant.request, user, grant
        )
        assert isinstance(reply, Reply)
        return _from_reply(reply)

    async def _registered_client(self, params: list[tuple[str, str]]) -> ClientRecord:
        """Checks that decide whether errors may go back to the redirect URI at all."""
        client_id = _single(params, "client_id")
        if not client_id:
            raise BadRequest("The request names no client (client_id).")
        client = await self.server.store.get_client(client_id[:64])
        if client is None:
            raise BadRequest("The client is not registered here.")
        redirect_uri = _single(params, "redirect_uri")
        if not redirect_uri:
            raise BadRequest("The request names no redirect_uri.")
        if not client.check_redirect_uri(redirect_uri):
            raise BadRequest("The redirect_uri is not one this client registered.")
        return client

    def _consent_grant(self, call: Call) -> Any:
        try:
            return self.server.get_consent_grant(request=call, end_user=None)
        except OAuth2Error as error:
            return error

    def _authorization_error(self, error: OAuth2Error) -> Response:
        if error.redirect_uri:
            return _from_reply(Reply(*error()))
        return _page(error_page(error.get_error_description() or error.error), 400)

    async def _check_password(self, email: str, password: str) -> UserRecord | None:
        """The user, or ``None``; as slow for an unknown email as for a wrong password."""
        user = None
        if 0 < len(email) <= MAX_EMAIL_CHARS:
            user = await self.server.store.get_user_by_email(email)
        stored = user.password_hash if user else None
        ok = await anyio.to_thread.run_sync(verify_password, password[:MAX_PASSWORD_CHARS], stored)
        return user if ok else None


def _page(html: str, status: int, **headers: str) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **headers})


def _from_reply(reply: Reply) -> Response:
    headers = dict(reply.headers)
    if reply.status == 302 and "Location" in headers:
        return RedirectResponse(headers["Location"], status_code=302, headers=NO_STORE)
    return oauth_json(reply)
