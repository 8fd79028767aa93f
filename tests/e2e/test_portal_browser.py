"""The customer portal in a real browser: Debian's chromium driven by Playwright (never
``playwright install``) against a served Provision with the demo data, trusted documents
only for the portal's tokens. One server and one browser for the module; the tests run in
order, as one person's visit: sign in with PKCE, see their subscriptions and no one else's,
open one, rotate its activation code, download a license, read an error, link a group, start a
trial, sign out. A failing test leaves a screenshot under the run's basetemp
(``portal-screenshots/``).

``PROVISION_PORTAL_SCREENSHOT=docs/portal-subscription.png`` also saves the subscription page
for the README.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from api.cli.demo import DEMO_PASSWORD, DEMO_USERS
from domain.model.activation_code import hash_activation_code

from oidc_peer import CLIENT_ID, CLIENT_SECRET, OpenIDPeer, serving_openid_provider
from provision_process import PROVISION, Served, environment, free_port, serving

pytestmark = pytest.mark.slow  # the suite's second step (docs/testing.md)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EMAIL = DEMO_USERS[0][0]  # wile@acme.example, OWNER of Acme Corp
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Demo:
    served: Served
    dsn: str
    shots: Path
    provider: OpenIDPeer
    """The external OpenID provider the sign-in page offers (its person: the demo's wile)."""

    @property
    def portal(self) -> str:
        return f"{self.served.base}/portal/"

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.dsn)
        try:
            return await connection.fetch(sql, *args)
        finally:
            await connection.close()


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
async def demo(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    name = f"provision_portal_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _with_database(server_dsn, name)
    tmp = tmp_path_factory.mktemp("portal")
    env = environment(tmp / "data", dsn)
    seeded = await asyncio.to_thread(
        subprocess.run, [*PROVISION, "demo"], env=env, capture_output=True, timeout=120
    )
    assert seeded.returncode == 0, seeded.stderr.decode()
    port = free_port()
    env["PROVISION_ISSUER"] = f"http://127.0.0.1:{port}"
    env["PROVISION_TRUSTED_DOCUMENTS_ONLY_FOR_PORTAL"] = "true"
    shots = tmp_path_factory.getbasetemp() / "portal-screenshots"
    shots.mkdir(exist_ok=True)
    with ExitStack() as stack:
        # The served process reads the real clock, and so does its provider.
        provider = stack.enter_context(serving_openid_provider(lambda: datetime.now(UTC)))
        env["PROVISION_EXTERNAL_SIGNIN_ISSUER"] = provider.url
        env["PROVISION_EXTERNAL_SIGNIN_CLIENT_ID"] = CLIENT_ID
        env["PROVISION_EXTERNAL_SIGNIN_CLIENT_SECRET"] = CLIENT_SECRET
        env["PROVISION_EXTERNAL_SIGNIN_NAME"] = "Acme SSO"
        served = stack.enter_context(serving(env, tmp, port=port))
        yield Demo(served, dsn, shots, provider)
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM, "chromium is not installed (apt-get install chromium)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
async def page(browser: Browser, demo: Demo) -> AsyncIterator[Page]:
    """One person's tab for the whole visit; it may reach the served Provision only."""
    context = await browser.new_context(
        accept_downloads=True, viewport={"width": 1200, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    origin = demo.served.base

    async def only_provision(route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        if request.url.startswith(origin) or request.url.startswith(("blob:", "data:")):
            await route.continue_()  # type: ignore[attr-defined]
        else:
            await route.abort()  # type: ignore[attr-defined]

    await context.route("**/*", only_provision)
    tab = await context.new_page()
    tab.problems = []  # type: ignore[attr-defined]
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))  # type: ignore[attr-defined]
    tab.on(
        "console",
        lambda message: (
            tab.problems.append(message.text)  # type: ignore[attr-defined]
            if message.type == "error"
            else None
        ),
    )
    yield tab
    await context.close()


@asynccontextmanager
async def shot_on_failure(tab: Page, demo: Demo, name: str) -> AsyncIterator[None]:
    try:
        yield
    except BaseException:
        await tab.screenshot(path=str(demo.shots / f"{name}.png"), full_page=True)
        raise
    assert tab.problems == [], tab.problems  # type: ignore[attr-defined]


async def _subscription_names(demo: Demo) -> dict[str, list[str]]:
    rows = await demo.fetch(
        "SELECT c.company, s.name FROM subscription s JOIN customer c ON c.id = s.customer"
        " ORDER BY s.name"
    )
    names: dict[str, list[str]] = {}
    for row in rows:
        names.setdefault(row["company"], []).append(row["name"])
    return names


async def test_signing_in_with_pkce_shows_my_subscriptions_and_no_one_elses(
    page: Page, demo: Demo
) -> None:
    async with shot_on_failure(page, demo, "sign-in"):
        await page.goto(demo.portal)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(re.compile(r"/oauth/authorize\?"))
        assert "code_challenge_method=S256" in page.url
        await page.get_by_label("Email").fill(EMAIL)
        await page.get_by_label("Password").fill(DEMO_PASSWORD)
        await page.get_by_role("button", name="Allow").click()
        await expect(page.get_by_role("heading", name="Subscriptions", level=1)).to_be_visible()
        assert "code=" not in page.url  # the code is gone from the address bar
        names = await _subscription_names(demo)
        table = page.get_by_role("table")
        for name in names["Acme Corp"]:
            await expect(table.get_by_role("link", name=name)).to_be_visible()
        text = await table.inner_text()
        for company in ("Globex", "Initech", "Hooli"):
            for name in names[company]:
                assert name not in text
        stored = await page.evaluate(
            "JSON.parse(sessionStorage.getItem('provision.portal.session'))"
        )
        assert stored["accessToken"].count(".") == 2
        assert stored["refreshToken"]
        cookies = await page.context.cookies()
        assert cookies == []


async def test_filters_narrow_the_list(page: Page, demo: Demo) -> None:
    async with shot_on_failure(page, demo, "filters"):
        await page.get_by_label("Deployment").select_option("SELF_MANAGED")
        await expect(page.get_by_role("table")).to_contain_text("Self-managed")
        await expect(page.get_by_role("table")).not_to_contain_text("GitLab.com")
        await page.get_by_label("Deployment").select_option("")
        await expect(page.get_by_role("table")).to_contain_text("GitLab.com")


async def _ramp(demo: Demo) -> asyncpg.Record:
    rows = await demo.fetch(
        "SELECT s.id, s.name FROM subscription s WHERE s.deployment = 'SELF_MANAGED'"
        " AND s.max_instances = 2 AND s.reconciliation_enabled ORDER BY s.name LIMIT 1"
    )
    return rows[0]


async def test_a_subscription_page_shows_terms_usage_and_rotates_the_activation_code(
    page: Page, demo: Demo
) -> None:
    ramp = await _ramp(demo)
    async with shot_on_failure(page, demo, "subscription"):
        await page.get_by_role("link", name=ramp["name"]).click()
        heading = page.get_by_role("heading", name=f"Subscription {ramp['name']}", level=1)
        await expect(heading).to_be_visible()
        terms = page.get_by_role("table", name=re.compile("Terms"))
        await expect(terms.get_by_role("row")).to_have_count(4)  # header + 3 ramp segments
        await expect(terms).to_contain_text("Current")
        chart = page.get_by_role("img", name=re.compile("Seats used over time"))
        await expect(chart).to_be_visible()
        points = await chart.locator("polyline.billable-line").get_attribute("points")
        assert points is not None
        assert len(points.split()) > 20  # months of weekly reports
        await expect(page.get_by_text("Next reconciliation")).to_be_visible()
        await expect(page.get_by_role("table", name="Activated instances")).to_contain_text(
            "gitlab.acme.example"
        )
        if os.environ.get("PROVISION_PORTAL_SCREENSHOT"):
            await page.screenshot(path=os.environ["PROVISION_PORTAL_SCREENSHOT"], full_page=True)

        await page.get_by_role("button", name="Rotate the activation code").click()
        code = (await page.locator("#activation-code").inner_text()).strip()
        assert re.fullmatch(r"[A-Za-z0-9]{24}", code), code
        stored = await demo.fetch(
            "SELECT code_hash FROM activation_code WHERE subscription = $1", ramp["id"]
        )
        assert [row["code_hash"] for row in stored] == [hash_activation_code(code)]


async def test_a_license_downloads_as_its_file(page: Page, demo: Demo, tmp_path: Path) -> None:
    ramp = await _ramp(demo)
    async with shot_on_failure(page, demo, "license"):
        licenses = page.get_by_role("table", name=re.compile("Licenses issued"))
        await expect(licenses).to_contain_text("Online cloud")
        async with page.expect_download() as waiting:
            await licenses.get_by_role("button", name=re.compile("Download")).first.click()
        download = await waiting.value
        assert download.suggested_filename == f"{ramp['name']}.gitlab-license"
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        keys = await demo.fetch(
            "SELECT license_key FROM license WHERE subscription = $1 ORDER BY created_at",
            ramp["id"],
        )
        assert saved.read_text() == keys[0]["license_key"]


async def test_linking_a_group_reads_the_error_then_links_and_shows_the_steps(
    page: Page, demo: Demo
) -> None:
    rows = await demo.fetch(
        "SELECT s.name FROM subscription s JOIN customer c ON c.id = s.customer"
        " WHERE c.company = 'Acme Corp' AND s.deployment = 'GITLAB_COM' AND s.namespace IS NULL"
    )
    labs = rows[0]["name"]
    async with shot_on_failure(page, demo, "link"):
        await page.get_by_role("link", name="Subscriptions").click()
        await page.get_by_role("link", name=labs).click()
        await expect(page.get_by_text("No group is linked yet.")).to_be_visible()
        # Sold by a reseller: seats and renewal are theirs, and the page says so.
        await expect(
            page.get_by_text(re.compile("managed by Northwind Resellers")).first
        ).to_be_visible()
        await expect(page.get_by_role("button", name="Change seats")).to_have_count(0)
        group = page.get_by_label("Group to link")
        await group.select_option(label="acme (Premium)")
        await page.get_by_role("button", name="Link group").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("linked")
        await group.select_option(label="acme-labs (Free)")
        await page.get_by_role("button", name="Link group").click()
        await expect(page.get_by_text("No group is linked yet.")).to_have_count(0)
        steps = page.get_by_role("table", name=re.compile("Provisioning of acme-labs"))
        await expect(steps).to_contain_text("Waiting")
        await expect(steps).to_contain_text("plan ultimate")


async def test_starting_a_trial_shows_its_end_date(page: Page, demo: Demo) -> None:
    async with shot_on_failure(page, demo, "trial"):
        await page.get_by_role("link", name="Trials").click()
        sandbox = page.get_by_role("region", name="Trials of acme-sandbox")
        await expect(sandbox).to_contain_text("No trial yet.")
        # Not eligible: the reason, not a button.
        await expect(sandbox).to_contain_text("This trial is for groups that pay for Premium.")
        await sandbox.get_by_role(
            "button", name="Start the Ultimate (30 days) trial on acme-sandbox"
        ).click()
        await expect(page.get_by_role("status")).to_contain_text("runs until")
        sandbox = page.get_by_role("region", name="Trials of acme-sandbox")
        await expect(sandbox.get_by_role("table", name="Trials of acme-sandbox")).to_contain_text(
            "Active"
        )
        await expect(sandbox).to_contain_text("This group has had this trial already.")


async def test_phone_width_keeps_the_page_in_the_screen_and_every_field_labelled(
    page: Page, demo: Demo
) -> None:
    ramp = await _ramp(demo)
    async with shot_on_failure(page, demo, "phone"):
        await page.set_viewport_size({"width": 360, "height": 740})
        await page.goto(f"{demo.portal}#/subscriptions")
        await page.get_by_role("link", name=ramp["name"]).click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text(ramp["name"])
        width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        unlabelled = await page.evaluate(
            "[...document.querySelectorAll('input, select')]"
            ".filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))"
            ".length"
        )
        assert unlabelled == 0
        # Keyboard: a new page puts the focus on its content, and Tab goes on from there.
        assert await page.evaluate("document.activeElement.id") == "main"
        await page.keyboard.press("Tab")
        assert await page.evaluate(
            "document.getElementById('main').contains(document.activeElement)"
        )
        await page.set_viewport_size({"width": 1200, "height": 900})


async def test_signing_out_revokes_the_sign_in(page: Page, demo: Demo) -> None:
    async with shot_on_failure(page, demo, "sign-out"):
        stored = await page.evaluate(
            "JSON.parse(sessionStorage.getItem('provision.portal.session'))"
        )
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("status")).to_contain_text("You are signed out.")
        assert await page.evaluate("sessionStorage.getItem('provision.portal.session')") is None
        async with httpx.AsyncClient(base_url=demo.served.base) as http:
            refreshed, gone = await _after_sign_out(http, stored)
        assert refreshed.status_code == 400
        assert refreshed.json()["error"] == "invalid_grant"
        assert gone.status_code == 401


async def _after_sign_out(
    http: httpx.AsyncClient, stored: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """The refresh token and the access token of a signed-out session, used again."""
    refreshed = await http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": stored["refreshToken"],
            "client_id": "provision-portal",
        },
    )
    gone = await http.post(
        "/graphql",
        json={"query": "{ viewer { kind } }"},
        headers={"Authorization": f"Bearer {stored['accessToken']}"},
    )
    return refreshed, gone


async def test_a_person_of_two_customers_switches_and_a_viewer_is_offered_no_change(
    browser: Browser, demo: Demo
) -> None:
    """hank is ADMIN of Globex and VIEWER of Acme Corp: the header switches between them, and
    on Acme's subscriptions he may read and download, not change."""
    context = await browser.new_context(accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = await context.new_page()
    tab.problems = []  # type: ignore[attr-defined]
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))  # type: ignore[attr-defined]
    names = await _subscription_names(demo)
    ramp = await _ramp(demo)
    try:
        async with shot_on_failure(tab, demo, "switch"):
            await tab.goto(demo.portal)
            await tab.get_by_role("button", name="Sign in").click()
            await tab.get_by_label("Email").fill(DEMO_USERS[1][0])
            await tab.get_by_label("Password").fill(DEMO_PASSWORD)
            await tab.get_by_role("button", name="Allow").click()
            switch = tab.get_by_label("Customer")
            await expect(switch).to_have_value(re.compile(".+"))
            table = tab.get_by_role("table")
            await switch.select_option(label="Globex")
            await expect(table.get_by_role("link", name=names["Globex"][0])).to_be_visible()
            await expect(table).not_to_contain_text(names["Acme Corp"][0])
            await switch.select_option(label="Acme Corp")
            await expect(table.get_by_role("link", name=ramp["name"])).to_be_visible()
            await expect(table).not_to_contain_text(names["Globex"][0])
            await table.get_by_role("link", name=ramp["name"]).click()
            await expect(tab.get_by_role("heading", level=1)).to_contain_text(ramp["name"])
            await expect(tab.get_by_role("table", name="Activated instances")).to_be_visible()
            for refused in ("Turn auto-renew off", "Change seats", "Rotate the activation code"):
                await expect(tab.get_by_role("button", name=refused)).to_have_count(0)
            await expect(tab.get_by_role("heading", name="Changes")).to_have_count(0)
            await expect(
                tab.get_by_role("button", name=re.compile("Download")).first
            ).to_be_visible()
    finally:
        await context.close()


async def test_signing_in_through_the_external_provider_shows_my_subscriptions(
    browser: Browser, demo: Demo
) -> None:
    """The sign-in page's "Sign in with Acme SSO": the fake provider signs wile in (verified
    email), Provision's callback continues the portal's PKCE request, and the portal shows
    Acme's subscriptions and no one else's."""
    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    tab = await context.new_page()
    tab.problems = []  # type: ignore[attr-defined]
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))  # type: ignore[attr-defined]
    names = await _subscription_names(demo)
    try:
        async with shot_on_failure(tab, demo, "external-sign-in"):
            await tab.goto(demo.portal)
            await tab.get_by_role("button", name="Sign in").click()
            await tab.wait_for_url(re.compile(r"/oauth/authorize\?"))
            await tab.get_by_role("button", name="Sign in with Acme SSO").click()
            await expect(tab.get_by_role("heading", name="Subscriptions", level=1)).to_be_visible()
            assert tab.url.startswith(demo.portal)
            assert "code=" not in tab.url
            at_provider = demo.provider.authorize_calls[-1]
            assert at_provider["code_challenge_method"] == "S256"
            assert at_provider["nonce"]
            table = tab.get_by_role("table")
            for name in names["Acme Corp"]:
                await expect(table.get_by_role("link", name=name)).to_be_visible()
            text = await table.inner_text()
            for company in ("Globex", "Initech", "Hooli"):
                for name in names[company]:
                    assert name not in text
            # The state cookie was spent at the callback; the portal keeps its token in
            # session storage only.
            assert await context.cookies() == []
            await tab.get_by_role("button", name="Sign out").click()
            await expect(tab.get_by_role("status")).to_contain_text("You are signed out.")
    finally:
        await context.close()
