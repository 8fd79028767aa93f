"""The portal's page and files, served from the package like GraphiQL's (no CDN, no build).

The page is one HTML shell: the app is plain JavaScript modules under ``/portal/static/``,
and what it needs to know (its OAuth client, the endpoints, its documents' ids) travels in a
JSON data block, which a CSP does not treat as script.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api.portal.client import PORTAL_CLIENT_ID, PORTAL_PATH
from api.portal.documents import trusted_documents

STATIC = Path(__file__).parent / "static"

# Everything from 'self', no inline script or style, no eval; the page may not be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def _data_block(value: object) -> str:
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page() -> str:
    config = {
        "clientId": PORTAL_CLIENT_ID,
        "authorize": "/oauth/authorize",
        "token": "/oauth/token",
        "revoke": "/oauth/revoke",
        "graphql": "/graphql",
        "documents": trusted_documents().by_name,
    }
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Provision customer portal</title>",
            '<link rel="icon" href="data:,">',
            '<link rel="stylesheet" href="static/portal.css">',
            '<script type="module" src="static/app.js"></script>',
            "</head>",
            "<body>",
            '<a class="skip" href="#main">Skip to content</a>',
            '<header id="top" class="top"></header>',
            '<main id="main" tabindex="-1"><p>Loading…</p></main>',
            f'<script id="portal-config" type="application/json">{_data_block(config)}</script>',
            "</body>",
            "</html>",
            "",
        ]
    )


async def portal_page(request: Request) -> Response:
    return HTMLResponse(
        _page(),
        headers={
            "content-security-policy": CONTENT_SECURITY_POLICY,
            "cache-control": "no-store",
        },
    )


async def _to_the_page(request: Request) -> Response:
    return RedirectResponse(PORTAL_PATH, status_code=308)


def portal_routes() -> list[BaseRoute]:
    return [
        Route("/portal", _to_the_page, methods=["GET"]),
        Route(PORTAL_PATH, portal_page, methods=["GET"]),
        Mount("/portal/static", StaticFiles(directory=STATIC)),
    ]
