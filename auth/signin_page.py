"""The sign-in and consent page of ``/oauth/authorize``: server-rendered, no script, every
value escaped, never framed."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from domain.policy import SCOPE_MEANINGS

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

WRONG_CREDENTIALS = "The email or password is wrong."
TOO_MANY_ATTEMPTS = "Too many failed sign-in attempts. Wait a while, then try again."

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password]"
    "{width:100%;padding:.4rem}button{margin-top:1rem;padding:.5rem 1.5rem}"
    ".message{color:#a00}li small{color:#555}"
)


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def signin_page(
    *,
    client_name: str,
    scopes: Iterable[str],
    hidden: Iterable[tuple[str, str]],
    email: str = "",
    message: str | None = None,
    external_name: str | None = None,
) -> str:
    """``external_name``: the external OpenID provider's name, when one is configured; its
    button posts the same authorization request to ``/oauth/external/start``."""
    items = "".join(
        f"<li><code>{escape(s)}</code> <small>{escape(SCOPE_MEANINGS.get(s, ''))}</small></li>"
        for s in scopes
    )
    fields = "".join(
        f'<input type=hidden name="{escape(k)}" value="{escape(v)}">' for k, v in hidden
    )
    notice = f"<p class=message role=alert>{escape(message)}</p>" if message else ""
    return _document(
        "Sign in to Provision",
        "<h1>Sign in to Provision</h1>"
        f"<p><strong>{escape(client_name)}</strong> asks to act for you with these rights:</p>"
        f"<ul>{items or '<li>no particular rights</li>'}</ul>{notice}"
        '<form method=post action="/oauth/authorize">'
        f"{fields}"
        "<label for=email>Email</label>"
        f"<input id=email name=email type=email required autocomplete=username"
        f' value="{escape(email)}">'
        "<label for=password>Password</label>"
        "<input id=password name=password type=password required"
        " autocomplete=current-password>"
        "<button type=submit>Allow</button></form>"
        f"{_external_form(external_name, fields)}",
    )


def _external_form(name: str | None, fields: str) -> str:
    if not name:
        return ""
    return (
        '<p class=or>or</p><form method=post action="/oauth/external/start">'
        f"{fields}<button type=submit>Sign in with {escape(name)}</button></form>"
    )


def external_error_page(message: str, *, again: str | None = None) -> str:
    """Why a sign-in through the external provider did not happen; ``again``: the sign-in
    page of the authorization request it was for, when that is known."""
    back = (
        f'<p><a href="{escape(again)}">Back to the sign-in page</a></p>'
        if again
        else "<p>Go back to the application you came from and start again.</p>"
    )
    return _document(
        "Sign-in did not complete",
        f"<h1>You are not signed in</h1><p class=message role=alert>{escape(message)}</p>{back}",
    )


def error_page(message: str) -> str:
    """For requests that cannot be sent back to the client (unknown client, a redirect URI
    that is not registered): redirecting there would make us an open redirector."""
    return _document(
        "Authorization request refused",
        "<h1>This authorization request cannot be served</h1>"
        f"<p class=message>{escape(message)}</p>"
        "<p>Go back to the application you came from and start again.</p>",
    )
