"""GraphiQL works offline: its page and every file it loads come from Provision itself (the
package's graphiql_assets/), under a CSP that allows only 'self'; a browser's share link opens
the editor with its query; the default query is the README's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest

from api.graphql.graphiql import ASSETS, CONTENT_SECURITY_POLICY, DEFAULT_QUERY

from provision_process import Served, environment, serving

README = Path(__file__).resolve().parents[2] / "README.md"
HTML = {"accept": "text/html"}
# Where the process would go if anything tried the network: a port nothing listens on.
REFUSED = "http://127.0.0.1:9"


class _References(HTMLParser):
    """Every URL a page loads (scripts, stylesheets, icons) and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline_scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            if named.get("src"):
                self.urls.append(("script", named["src"] or ""))
            else:
                self.inline_scripts.append(named)
        elif tag == "link" and named.get("href"):
            self.urls.append((named.get("rel") or "", named["href"] or ""))
        elif tag in ("img", "iframe", "source") and named.get("src"):
            self.urls.append((tag, named["src"] or ""))


def references(page: str) -> _References:
    parser = _References()
    parser.feed(page)
    return parser


def test_the_default_query_is_the_readmes_example() -> None:
    readme = README.read_text()
    example = readme.split("```graphql\n", 1)[1].split("```", 1)[0]
    assert example == DEFAULT_QUERY


async def test_the_page_runs_no_inline_script_and_loads_only_from_self(
    anonymous: httpx.AsyncClient,
) -> None:
    page = await anonymous.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "unpkg" not in page.text
    assert "cdn" not in page.text.lower()
    found = references(page.text)
    # The one inline <script> is a JSON data block (the default query), which never runs.
    assert found.inline_scripts == [{"id": "provision-default-query", "type": "application/json"}]
    kinds = {kind for kind, _ in found.urls}
    assert {"script", "stylesheet"} <= kinds
    for _, url in found.urls:
        assert url.startswith("data:") or not urlsplit(url).netloc, url


async def test_a_share_link_from_a_browser_opens_the_editor(anonymous: httpx.AsyncClient) -> None:
    query = "{ viewer { kind } }"
    page = await anonymous.get("/graphql", params={"query": query}, headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="graphiql"' in page.text
    # A program's GET with a query (no text/html) still executes it.
    for headers in ({"accept": "application/json"}, {"accept": "*/*"}):
        answer = await anonymous.get("/graphql", params={"query": query}, headers=headers)
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["data"] == {"viewer": {"kind": "ANONYMOUS"}}


def test_the_page_files_are_package_data() -> None:
    """A non-editable install carries them (pyproject's package-data names the folder)."""
    pyproject = (README.parent / "pyproject.toml").read_text()
    assert '"api.graphql" = ["graphiql_assets/*"]' in pyproject
    pinned = subprocess.run(
        [str(README.parent / ".ci" / "fetch-graphiql-assets"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pinned.returncode == 0, pinned.stderr
    assert (ASSETS / "graphiql.min.js").stat().st_size > 1_000_000


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real `provision serve` whose outbound HTTP would go to a refused port."""
    tmp = tmp_path_factory.mktemp("graphiql")
    env = environment(tmp / "data")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = REFUSED
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
    with serving(env, tmp) as served:
        yield served


CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def test_a_served_graphiql_loads_every_file_from_itself(offline_server: Served) -> None:
    origin = offline_server.base
    page_url = f"{origin}/graphql"

    def only_this_server(request: httpx.Request) -> None:
        assert f"{request.url.scheme}://{request.url.netloc.decode()}" == origin, request.url

    with httpx.Client(event_hooks={"request": [only_this_server]}, trust_env=False) as http:
        page = http.get(page_url, headers=HTML)
        assert page.status_code == 200
        urls = [url for _, url in references(page.text).urls if not url.startswith("data:")]
        assert len(urls) == 8
        for url in urls:
            absolute = urljoin(page_url, url)
            assert urlsplit(absolute).netloc == urlsplit(origin).netloc, url
            asset = http.get(absolute)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"] == CONTENT_TYPES[Path(url).suffix], url
            assert asset.headers["x-content-type-options"] == "nosniff"
            assert asset.content == (ASSETS / Path(url).name).read_bytes()
            if url.endswith(".css"):
                # Fonts and images in the stylesheets are embedded, never fetched.
                for target in re.findall(r"url\(\s*['\"]?([^'\")]+)", asset.text):
                    assert target.startswith(("data:", "#")), (url, target[:80])


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_a_browser_without_network_renders_the_editor_with_the_shared_query(
    offline_server: Served, tmp_path: Path
) -> None:
    """Headless Chromium that can reach 127.0.0.1 only (.ci/run installs Debian's chromium)."""
    assert CHROMIUM, "chromium is not installed (apt-get install chromium)"
    query = "{ viewer { kindSharedByLink: kind } }"
    url = f"{offline_server.base}/graphql?query={quote(query)}"
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--proxy-server={REFUSED}",
            "--proxy-bypass-list=127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    # GraphiQL replaced the "Loading..." placeholder with its editor, holding the link's query.
    assert 'class="graphiql-container"' in html, html[-2000:]
    assert "Loading..." not in html
    assert "kindSharedByLink" in html
