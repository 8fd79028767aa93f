"""GraphiQL, served from the package: the page and its files, no CDN (docs/decisions.md).

The page is strawberry's GraphiQL page with its scripts and styles moved to files under
``/graphiql/`` (``graphiql_assets/``: the npm builds that ``.ci/fetch-graphiql-assets``
fetches and checks, and ``provision-graphiql.js``/``.css``), so it needs no network and runs
under a CSP that allows script and style from 'self' only. The default query is the README's
example (``tests/e2e/test_graphiql.py`` keeps them equal); it travels in a JSON data block,
which a CSP does not treat as script.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "graphiql_assets"
ASSETS_PATH = "/graphiql"

DEFAULT_QUERY = """\
{
  subscriptions(first: 10, status: ACTIVE) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        name
        plan
        deployment
        seats
        customer { company }
        terms { startDate endDate segments { startDate endDate seats } }
        namespace { path plan }
        usage { seatsInUse maxSeatsUsed overage nextReconciliationDate }
        licenses(first: 3) { edges { node { id expiresAt } } }
      }
    }
  }
}
"""

# Everything from 'self'; GraphiQL's CSS embeds its fonts as data: URLs. No inline script or
# style, no eval: React, CodeMirror and GraphiQL set styles through the DOM's style
# properties, which a CSP does not restrict (a headless Chromium renders the editor under it).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_STYLES = ("graphiql.min.css", "plugin-explorer.css", "provision-graphiql.css")
_HEAD_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js")
_BODY_SCRIPTS = ("graphiql.min.js", "plugin-explorer.umd.js", "provision-graphiql.js")


def _asset(name: str) -> str:
    # Relative to /graphql, so the page works behind a proxy that mounts the app under a prefix.
    return f"{ASSETS_PATH.lstrip('/')}/{name}"


def _data_block(value: object) -> str:
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PAGE = "\n".join(
    [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>Provision GraphiQL</title>",
        '<link rel="icon" href="data:,">',
        *(f'<link rel="stylesheet" href="{_asset(name)}">' for name in _STYLES),
        *(f'<script src="{_asset(name)}"></script>' for name in _HEAD_SCRIPTS),
        "</head>",
        "<body>",
        '<div id="graphiql">Loading...</div>',
        '<script id="provision-default-query" type="application/json">'
        f"{_data_block(DEFAULT_QUERY)}</script>",
        *(f'<script src="{_asset(name)}"></script>' for name in _BODY_SCRIPTS),
        "</body>",
        "</html>",
        "",
    ]
)


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"content-security-policy": CONTENT_SECURITY_POLICY})


def graphiql_assets() -> StaticFiles:
    """The page's files, mounted at ``ASSETS_PATH`` by the composition root."""
    return StaticFiles(directory=ASSETS)
