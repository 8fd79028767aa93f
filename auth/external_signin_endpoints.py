"""The HTTP side of signing in through the external OpenID provider (``auth.external_signin``):
``POST /oauth/external/start`` (the sign-in page's button) and
``GET /oauth/external/callback`` (where the provider sends the person back).

Who signs in: the provider's ID token must carry an ``email`` with ``email_verified: true``, and
that email must belong to an existing Provision portal user (``provision user create``, or
the demo users); the person then holds exactly the rights that user holds. Unverified emails
and unknown users are refused with a readable page; staff and partner users sign in with
their password only. Every failure is a page, never a 500; nothing secret is logged.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from auth.endpoints import (
    AUTHORIZATION_FIELDS,
    NO_STORE,
    BadRequest,
    OAuthEndpoints,
    _from_reply,
    _page,
    _single,
    read_form,
    read_query,
)
from auth.external_signin import (
    CALLBACK_PATH,
    COOKIE_NAME,
    ExternalSignIn,
    Pending,
    SignInRefused,
)
from auth.server import Call, Reply
from auth.signin_page import external_error_page
from domain.principal import PrincipalKind

logger = logging.getLogger("provision.auth.external_signin")

DENIED = "You did not allow the sign-in at the provider, so you are not signed in."
UNVERIFIED = (
    "The sign-in provider does not confirm your email address, so it cannot be matched to a "
    "Provision account. Confirm it at the provider, or sign in with your Provision email and "
    "password."
)
CROSS_SITE = (
    "This sign-in was started from another site. Start again from the application you came "
    "from and use the button on Provision's sign-in page."
)
UNKNOWN = (
    "No Provision customer account uses the email address {email}. Ask your organization's "
    "Provision owner to invite you, or sign in with another account."
)


class ExternalSignInEndpoints:
    def __init__(self, endpoints: OAuthEndpoints, signin: ExternalSignIn) -> None:
        self.endpoints = endpoints
        self.signin = signin
        self._secure = signin.redirect_uri.startswith("https://")

    async def start(self, request: Request) -> Response:
        # Only the sign-in page's own button starts a flow: another site's auto-submitted form
        # could otherwise sign a person with a live provider session in without a click.
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return _page(external_error_page(CROSS_SITE), 403)
        try:
            params = await read_form(request)
            await self.endpoints._registered_client(params)
        except BadRequest as bad:
            return _page(external_error_page(bad.reason), 400)
        wanted = [(k, v) for k in AUTHORIZATION_FIELDS if (v := _single(params, k)) is not None]
        call = Call("GET", "/oauth/authorize", request.headers, wanted)
        grant = await self.endpoints._in_thread(self.endpoints._consent_grant, call)
        if isinstance(grant, Reply):
            return _from_reply(grant)
        if isinstance(grant, OAuth2Error):
            return self.endpoints._authorization_error(grant)
        try:
            url, cookie = await self.signin.start(wanted)
        except SignInRefused as refused:
            return self._refused(refused, wanted)
        response = RedirectResponse(url, status_code=303, headers=NO_STORE)
        response.set_cookie(
            COOKIE_NAME,
            cookie,
            max_age=int(self.signin.settings.state_lifetime.total_seconds()),
            path=CALLBACK_PATH,
            secure=self._secure,
            httponly=True,
            samesite="lax",  # the provider's redirect back is a cross-site top-level GET
        )
        return response

    async def callback(self, request: Request) -> Response:
        pending: Pending | None = None
        try:
            query = read_query(request)
            pending = self.signin.pending(request.cookies.get(COOKIE_NAME))
            self.signin.check_state(pending, _single(query, "state"))
            error = _single(query, "error")
            if error is not None:
                raise SignInRefused(DENIED, f"the provider answered error={error[:64]}")
            code = _single(query, "code")
            if not code:
                raise SignInRefused(DENIED, "the provider sent no code")
            identity = await self.signin.identity(pending, code)
            if not identity.email or not identity.email_verified or len(identity.email) > 254:
                raise SignInRefused(UNVERIFIED, "the ID token has no verified email")
            user = await self.endpoints.server.store.get_user_by_email(identity.email)
            if user is None or user.kind is not PrincipalKind.PORTAL_USER:
                raise SignInRefused(
                    UNKNOWN.format(email=identity.email),
                    "no portal user has the provider's verified email",
                    status=403,
                )
        except BadRequest as bad:
            return self._forget(_page(external_error_page(bad.reason), 400))
        except SignInRefused as refused:
            return self._forget(self._refused(refused, pending.params if pending else None))
        call = Call("GET", "/oauth/authorize", request.headers, pending.params)
        grant = await self.endpoints._in_thread(self.endpoints._consent_grant, call)
        if isinstance(grant, Reply):
            return self._forget(_from_reply(grant))
        if isinstance(grant, OAuth2Error):
            return self._forget(self.endpoints._authorization_error(grant))
        logger.info("external sign-in of %s (provider subject kept out of tokens)", user.subject)
        reply = await self.endpoints._in_thread(
            self.endpoints.server.create_authorization_response, grant.request, user, grant
        )
        assert isinstance(reply, Reply)
        return self._forget(_from_reply(reply))

    def _refused(self, refused: SignInRefused, params: list[tuple[str, str]] | None) -> Response:
        logger.info("external sign-in refused: %s", refused.reason)
        again = f"/oauth/authorize?{urlencode(params)}" if params else None
        return _page(external_error_page(refused.message, again=again), refused.status)

    def _forget(self, response: Response) -> Response:
        response.delete_cookie(
            COOKIE_NAME, path=CALLBACK_PATH, secure=self._secure, httponly=True, samesite="lax"
        )
        return response
