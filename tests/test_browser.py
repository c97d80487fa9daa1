"""End-to-end tests of the dashboard (``web/``, served at ``/``) in headless Chromium.

The real server runs in a subprocess (``partnerhub serve`` on uvicorn, on a
free port) over a temporary SQLite database seeded with ``partnerhub seed
--customers 60``; tokens come from ``partnerhub token create``. Playwright
drives Debian's Chromium (``/usr/bin/chromium``; Playwright's own browser
download is not used). Every number the page shows is compared with what the
GraphQL API answers for the same question.

Without Chromium or the ``playwright`` package the browser tests are skipped
with the reason, except under ``CI=true``, where they fail. They run in the
SQLite pass only (they never touch ``TEST_DATABASE_URL``).

The tests write the README's screenshots to ``docs/screenshots/`` (set
``PARTNERHUB_SCREENSHOTS`` to write them elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - reported by the fixtures below
    sync_playwright = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("PARTNERHUB_SCREENSHOTS") or ROOT / "docs" / "screenshots")
TODAY = "2026-11-25"
CUSTOMERS = 60
CI = os.environ.get("CI") == "true"
CHROMIUM = os.environ.get("PARTNERHUB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# How this machine runs Chromium: as root, no GPU, no background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 860}


def _browser_missing() -> str | None:
    if sync_playwright is None:
        return "the Python package 'playwright' is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set PARTNERHUB_CHROMIUM)"
    return None


# ------------------------------------------------------------------ the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen:
    """Start ``partnerhub ARGS`` (``python server.py ARGS``) in the project root."""
    return subprocess.Popen([sys.executable, str(ROOT / "server.py"), *args], cwd=ROOT, env=env, text=True, **popen)


def _output(process: subprocess.Popen, what: str) -> str:
    stdout, stderr = process.communicate(timeout=300)
    if process.returncode:
        raise AssertionError(f"partnerhub {what} failed ({process.returncode}):\n{stdout}\n{stderr}")
    return stdout


def _demo_admin(role: str) -> str:
    """The first admin of ``role`` that ``partnerhub seed`` creates."""
    import datetime as dt

    from db.seed import generate_document

    admins = generate_document(customers=0, today=dt.date.fromisoformat(TODAY))["partners"][0]["admins"]
    return next(a["email"] for a in admins if a["role"] == role)


class Server:
    """The running server, its tokens and a GraphQL client for checks."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens

    def gql(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token or self.tokens['full']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("browser tests run once, in the SQLite pass (TEST_DATABASE_URL is set)")
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'partnerhub.db'}",
        "PARTNERHUB_TODAY": TODAY,
        "PARTNERHUB_LOG_LEVEL": "warning",
    }
    env.pop("TEST_DATABASE_URL", None)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    _output(_cli(env, "seed", "--customers", str(CUSTOMERS), **pipes), "seed")
    # The tokens are made while the server starts (each command is a process of its own).
    makers = {
        key: _cli(env, "token", "create", _demo_admin(role), **pipes)
        for key, role in (("full", "PARTNER_FULL_ADMIN"), ("readonly", "PARTNER_READ_ONLY_ADMIN"))
    }
    port = _free_port()
    log = open(tmp / "server.log", "w+")
    process = _cli(env, "serve", "--host", "127.0.0.1", "--port", str(port), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        tokens = {key: _output(maker, "token create").strip() for key, maker in makers.items()}
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"the server exited ({process.returncode}):\n{log.read()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    log.seek(0)
                    raise AssertionError(f"the server did not come up in 60 s:\n{log.read()}") from None
                time.sleep(0.2)
        yield Server(url, tokens)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# ------------------------------------------------------------------ the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("browser tests run once, in the SQLite pass (TEST_DATABASE_URL is set)")
    missing = _browser_missing()
    if missing:
        if CI:
            pytest.fail(f"browser tests are required under CI=true, but {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Page]:
    """A fresh tab (new context: empty session storage); fails on any uncaught JS error."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    js_errors: list[str] = []
    tab.on("pageerror", lambda exc: js_errors.append(str(exc)))
    try:
        yield tab
        assert not js_errors, f"uncaught errors in the page: {js_errors}"
    finally:
        context.close()


def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover effects in the picture
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page, animations="disabled")


def sign_in(page: Page, server: Server, token: str) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in").click()
    expect(page.locator("#app")).to_be_visible()


def n(value: int) -> str:
    """A count as the page shows it."""
    return f"{value:,}"


# ------------------------------------------------------------------ helpers over the API

CUSTOMER_DETAIL = """query ($id: ID!) { customer(id: $id) {
  id name trials { trialId status } subscriptions { subscriptionId } partnerAdmins { id email }
} }"""


def analytics(server: Server, product: str) -> dict[str, Any]:
    return server.gql(
        """query ($p: KpiProduct!) { analytics(product: $p) {
          licenseTrend(weeks: 12) { date total assigned used }
          recentlyAdded { newCustomers rows(first: 1) { totalCount } }
          expiring { expiringCustomers rows(first: 1) { totalCount } }
          renewing { renewingCustomers rows(first: 1) { totalCount } }
          lowAssignment { lowAssignmentCustomers rows(first: 1) { totalCount } }
          overLimit { customersWithOverage totalOverageLicenses rows(first: 1) { totalCount } }
        } }""",
        {"p": product},
    )["analytics"]


def customer_names(server: Server, filter: dict[str, Any], first: int = 25, after: str | None = None) -> dict[str, Any]:
    return server.gql(
        """query ($f: CustomerFilter, $first: Int, $after: String) {
          customers(filter: $f, first: $first, after: $after) {
            totalCount pageInfo { endCursor } nodes { name } } }""",
        {"f": filter, "first": first, "after": after},
    )["customers"]


def pick_customer(server: Server, *, used: set[str]) -> dict[str, Any]:
    """A customer without an active trial, with subscriptions and assigned admins."""
    nodes = server.gql(
        """{ customers(first: 100) { nodes {
          id name trials { status } subscriptions { subscriptionId } partnerAdmins { email } } } }"""
    )["customers"]["nodes"]
    for node in nodes:
        if node["id"] in used:
            continue
        if node["subscriptions"] and node["partnerAdmins"] and not any(t["status"] == "ACTIVE" for t in node["trials"]):
            used.add(node["id"])
            return node
    raise AssertionError("the seeded data has no customer to act on")


_USED: set[str] = set()


# ------------------------------------------------------------------ tests without a browser


async def test_dashboard_files_are_served() -> None:
    """``/`` is the page, ``/static/`` its files: no build step, nothing from another origin."""
    import httpx

    from server import create_app

    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        index = await client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in index.headers["content-security-policy"]
        assert '<script src="/static/app.js"' in index.text
        assert '<link rel="stylesheet" href="/static/app.css">' in index.text
        for name, kind in (("index.html", "text/html"), ("app.js", "javascript"), ("app.css", "text/css")):
            asset = await client.get(f"/static/{name}")
            assert asset.status_code == 200 and kind in asset.headers["content-type"], name
            text = asset.text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace, not a request
            assert "http://" not in text and "https://" not in text and "//cdn" not in text, (
                f"{name} must not load anything from another origin"
            )
        assert (await client.get("/static/missing.js")).status_code == 404
        # Only web/static/ is served: the package's Python modules are not files of the page.
        assert (await client.get("/static/__init__.py")).status_code == 404
        assert (await client.get("/static/../__init__.py")).status_code == 404


# ------------------------------------------------------------------ browser tests


def test_wrong_token_is_refused_with_a_useful_message(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page.get_by_test_id("token-input")).to_be_visible()
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Paste a token first")

    page.get_by_test_id("token-input").fill("ph_not-a-real-token")
    page.get_by_test_id("sign-in").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_contain_text("not accepted")
    expect(error).to_contain_text("partnerhub token create")
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('partnerhub.token')") is None
    shot(page, "sign-in")


def test_overview_kpis_trend_sections_and_product_toggle(page: Page, server: Server) -> None:
    sign_in(page, server, server.tokens["full"])
    viewer = server.gql("{ viewer { displayName } }")["viewer"]
    expect(page.get_by_test_id("viewer-name")).to_have_text(viewer["displayName"])
    expect(page.get_by_test_id("viewer-role")).to_have_text("Partner full admin")

    kpis = server.gql("{ kpis { totalCustomers expiring renewing lowLicenseAssignment overLicenseLimit } }")["kpis"]
    for key, value in kpis.items():
        expect(page.get_by_test_id(f"kpi-{key}")).to_have_text(n(value))
    assert kpis["totalCustomers"] > 0

    meetings = analytics(server, "MEETINGS")
    panel = page.get_by_test_id("analytics")
    expect(panel).to_have_attribute("data-product", "MEETINGS")
    expect(page.get_by_test_id("trend-chart")).to_have_attribute("data-points", "12")
    latest = meetings["licenseTrend"][-1]
    for key in ("total", "assigned", "used"):
        expect(page.get_by_test_id(f"trend-latest-{key}")).to_have_text(n(latest[key]))
    assert page.locator("[data-testid=trend-chart] path[data-series]").count() == 3

    expect(page.get_by_test_id("expiring-expiringCustomers")).to_have_text(n(meetings["expiring"]["expiringCustomers"]))
    expect(page.get_by_test_id("overLimit-totalOverageLicenses")).to_have_text(
        n(meetings["overLimit"]["totalOverageLicenses"])
    )
    for key in ("recentlyAdded", "expiring", "renewing", "lowAssignment", "overLimit"):
        rows = page.locator(f"[data-testid=section-{key}] tbody tr")
        expect(rows).to_have_count(min(10, meetings[key]["rows"]["totalCount"]))
    shot(page, "overview")

    # The toggle switches every analytics part to Calling, and survives a reload.
    page.get_by_test_id("product-CALLING").click()
    expect(panel).to_have_attribute("data-product", "CALLING")
    expect(page.get_by_test_id("product-CALLING")).to_have_attribute("aria-pressed", "true")
    calling = analytics(server, "CALLING")
    for key in ("total", "assigned", "used"):
        expect(page.get_by_test_id(f"trend-latest-{key}")).to_have_text(n(calling["licenseTrend"][-1][key]))
    expect(page.get_by_test_id("renewing-renewingCustomers")).to_have_text(n(calling["renewing"]["renewingCustomers"]))
    for key in ("recentlyAdded", "expiring", "renewing", "lowAssignment", "overLimit"):
        expect(page.locator(f"[data-testid=section-{key}] tbody tr")).to_have_count(
            min(10, calling[key]["rows"]["totalCount"])
        )
    assert calling["licenseTrend"] != meetings["licenseTrend"]
    shot(page, "overview-calling", full_page=True)

    # A section pages on with its rows' cursor; the chart explains a point on hover.
    longest = max(
        ("recentlyAdded", "expiring", "renewing", "lowAssignment", "overLimit"),
        key=lambda key: calling[key]["rows"]["totalCount"],
    )
    total = calling[longest]["rows"]["totalCount"]
    if total > 10:
        page.get_by_test_id(f"more-{longest}").click()
        expect(page.locator(f"[data-testid=section-{longest}] tbody tr")).to_have_count(min(total, 35))
    page.get_by_test_id("trend-chart").hover()
    expect(page.locator("#tooltip")).to_contain_text("Week to")

    page.reload()
    expect(page.get_by_test_id("analytics")).to_have_attribute("data-product", "CALLING")
    page.get_by_test_id("product-MEETINGS").click()
    expect(panel).to_have_attribute("data-product", "MEETINGS")


def test_customer_list_filters_search_and_paging(page: Page, server: Server) -> None:
    sign_in(page, server, server.tokens["full"])
    page.get_by_test_id("nav-customers").click()
    rows = page.get_by_test_id("customer-row")
    count = page.get_by_test_id("result-count")
    expect(count).to_have_attribute("data-total", str(CUSTOMERS))
    expect(rows).to_have_count(25)

    # Paging: the second page is the API's second page.
    first = customer_names(server, {})
    second = customer_names(server, {}, after=first["pageInfo"]["endCursor"])
    expect(rows.first.locator("td.name")).to_have_text(first["nodes"][0]["name"])
    page.get_by_test_id("next-page").click()
    expect(page.get_by_test_id("page-range")).to_have_text(f"26–50 of {CUSTOMERS}")
    expect(rows.first.locator("td.name")).to_have_text(second["nodes"][0]["name"])
    page.get_by_test_id("prev-page").click()
    expect(page.get_by_test_id("page-range")).to_have_text(f"1–25 of {CUSTOMERS}")
    expect(rows.first.locator("td.name")).to_have_text(first["nodes"][0]["name"])

    # The four filters AND together, as in the API.
    steps = [
        ("status", "EXPIRING_SOON", {"statuses": ["EXPIRING_SOON"]}),
        ("managedBy", "PARTNER_ORG", {"managedBy": "PARTNER_ORG"}),
        ("product", "MEETINGS", {"products": ["MEETINGS"]}),
        ("type", "SUBSCRIPTION", {"subscriptionType": "SUBSCRIPTION"}),
    ]
    filter: dict[str, Any] = {}
    for key, value, api in steps:
        filter.update(api)
        page.get_by_test_id(f"filter-{key}").select_option(value)
        expected = customer_names(server, filter, first=100)
        expect(count).to_have_attribute("data-total", str(expected["totalCount"]))
        if expected["totalCount"]:
            expect(page.locator("[data-testid=customer-row] td.name")).to_have_text(
                [c["name"] for c in expected["nodes"][:25]]
            )
        else:
            expect(page.get_by_test_id("customers-empty")).to_be_visible()
        if key == "status":
            assert expected["totalCount"] > 0
            expect(page.locator("[data-testid=customer-row] [data-testid=status-EXPIRING_SOON]")).to_have_count(
                min(25, expected["totalCount"])
            )
            shot(page, "customers")

    # Search, case-insensitive, together with a filter.
    page.get_by_test_id("filter-reset").click()
    expect(count).to_have_attribute("data-total", str(CUSTOMERS))
    word = first["nodes"][3]["name"].split()[0].lower()
    page.get_by_test_id("filter-q").fill(word)
    expected = customer_names(server, {"search": word}, first=100)
    expect(count).to_have_attribute("data-total", str(expected["totalCount"]))
    expect(page.locator("[data-testid=customer-row] td.name")).to_have_text([c["name"] for c in expected["nodes"]])
    assert 0 < expected["totalCount"] < CUSTOMERS
    assert "q=" in page.url  # the list is linkable
    page.get_by_test_id("filter-type").select_option("TRIAL")
    expected = customer_names(server, {"search": word, "subscriptionType": "TRIAL"}, first=100)
    expect(count).to_have_attribute("data-total", str(expected["totalCount"]))


def test_open_a_customer_and_start_a_trial(page: Page, server: Server) -> None:
    customer = pick_customer(server, used=_USED)
    sign_in(page, server, server.tokens["full"])
    page.get_by_test_id("nav-customers").click()
    page.get_by_test_id("filter-q").fill(customer["name"])
    expect(page.get_by_test_id("customer-row")).to_have_count(1)
    page.get_by_test_id("customer-row").click()

    expect(page.get_by_test_id("customer-name")).to_have_text(customer["name"])
    for sub in customer["subscriptions"]:
        expect(page.locator(f"[data-subscription-id='{sub['subscriptionId']}']")).to_be_visible()
    for admin in customer["partnerAdmins"]:
        expect(page.locator(f"[data-testid=admin-row][data-email='{admin['email']}']")).to_be_visible()
    trials_before = len(customer["trials"])
    expect(page.get_by_test_id("trial-row")).to_have_count(trials_before)

    form = page.get_by_test_id("trial-form")
    form.get_by_test_id("trial-product-CALLING").check()
    form.get_by_test_id("trial-licenses").fill("40")
    form.get_by_test_id("trial-days").fill("14")
    form.get_by_test_id("start-trial").click()
    expect(page.get_by_test_id("trial-started")).to_contain_text("started")

    after = server.gql(CUSTOMER_DETAIL, {"id": customer["id"]})["customer"]
    active = [t for t in after["trials"] if t["status"] == "ACTIVE"]
    assert len(after["trials"]) == trials_before + 1 and len(active) == 1
    trial_id = active[0]["trialId"]
    expect(page.get_by_test_id("trial-started")).to_contain_text(trial_id)
    row = page.locator(f"[data-testid=trial-row][data-trial-id='{trial_id}']")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Meetings 40, Calling 40")
    expect(row).to_contain_text("14 days")
    shot(page, "customer", full_page=True)

    # A second trial is refused with the API's userError, shown inline.
    page.get_by_test_id("trial-form").get_by_test_id("start-trial").click()
    error = page.get_by_test_id("trial-error")
    expect(error).to_be_visible()
    expect(error.locator("li")).to_have_attribute("data-code", "TRIAL_ALREADY_ACTIVE")
    expect(page.get_by_test_id("trial-row")).to_have_count(trials_before + 1)


def test_assign_and_unassign_an_admin(page: Page, server: Server) -> None:
    customer = pick_customer(server, used=_USED)
    sales = server.gql(
        "{ partnerAdmins(first: 100, filter: { roles: [SALES_FULL_ADMIN, SALES_ADMIN] }) { nodes { id email } } }"
    )["partnerAdmins"]["nodes"]
    assigned = {a["email"] for a in customer["partnerAdmins"]}
    newcomer = next(a for a in sales if a["email"] not in assigned)

    sign_in(page, server, server.tokens["full"])
    page.goto(f"{server.url}/#/customers/{customer['id']}")
    expect(page.get_by_test_id("customer-name")).to_have_text(customer["name"])
    page.get_by_test_id("assign-select").select_option(newcomer["id"])
    page.get_by_test_id("assign").click()
    expect(page.get_by_test_id("admin-changed")).to_contain_text("now has access")
    expect(page.locator(f"[data-testid=admin-row][data-email='{newcomer['email']}']")).to_be_visible()
    emails = {a["email"] for a in server.gql(CUSTOMER_DETAIL, {"id": customer["id"]})["customer"]["partnerAdmins"]}
    assert emails == assigned | {newcomer["email"]}

    page.get_by_test_id(f"unassign-{newcomer['email']}").click()
    expect(page.get_by_test_id("admin-changed")).to_contain_text("no longer has access")
    expect(page.locator(f"[data-testid=admin-row][data-email='{newcomer['email']}']")).to_have_count(0)
    emails = {a["email"] for a in server.gql(CUSTOMER_DETAIL, {"id": customer["id"]})["customer"]["partnerAdmins"]}
    assert emails == assigned


def test_read_only_admin_sees_everything_but_is_refused(page: Page, server: Server) -> None:
    customer = pick_customer(server, used=_USED)
    sign_in(page, server, server.tokens["readonly"])
    expect(page.get_by_test_id("viewer-role")).to_have_text("Partner read-only admin")
    kpis = server.gql("{ kpis { totalCustomers } }")["kpis"]
    expect(page.get_by_test_id("kpi-totalCustomers")).to_have_text(n(kpis["totalCustomers"]))

    page.goto(f"{server.url}/#/customers/{customer['id']}")
    expect(page.get_by_test_id("customer-name")).to_have_text(customer["name"])
    page.get_by_test_id("trial-form").get_by_test_id("start-trial").click()
    refused = page.get_by_test_id("trial-error")
    expect(refused).to_have_attribute("data-code", "FORBIDDEN")
    expect(refused).to_contain_text("Refused: your role (Partner read-only admin) may not do this.")

    admin = customer["partnerAdmins"][0]["email"]
    page.get_by_test_id(f"unassign-{admin}").click()
    refused_admin = page.locator(f"[data-testid=admin-row][data-email='{admin}'] [data-testid=admin-error]")
    expect(refused_admin).to_have_attribute("data-code", "FORBIDDEN")
    shot(page, "read-only-refused", full_page=True)

    after = server.gql(CUSTOMER_DETAIL, {"id": customer["id"]})["customer"]
    assert len(after["trials"]) == len(customer["trials"])
    assert not any(t["status"] == "ACTIVE" for t in after["trials"])
    assert {a["email"] for a in after["partnerAdmins"]} == {a["email"] for a in customer["partnerAdmins"]}

    # Signing out forgets the token.
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("token-input")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('partnerhub.token')") is None


def test_start_a_trial_for_a_new_customer(page: Page, server: Server) -> None:
    """Runs last: it adds a customer."""
    sign_in(page, server, server.tokens["full"])
    page.get_by_test_id("nav-customers").click()
    page.get_by_test_id("new-trial-toggle").click()
    form = page.get_by_test_id("new-trial")
    form.get_by_test_id("trial-name").fill("Zagreb Browser Tests d.o.o.")
    form.get_by_test_id("trial-managed-by").select_option("EXTERNAL_ADMIN")
    form.get_by_test_id("trial-product-MESSAGING").check()
    form.get_by_test_id("start-trial").click()
    expect(page.get_by_test_id("customer-name")).to_have_text("Zagreb Browser Tests d.o.o.")
    expect(page.get_by_test_id("trial-row")).to_have_count(1)
    expect(page.get_by_test_id("trial-row")).to_contain_text("Meetings 25, Messaging 25")
    expect(page.get_by_test_id("status-TRIAL")).to_be_visible()
    found = server.gql('{ customers(filter: { search: "browser tests" }) { nodes { managedBy trials { status } } } }')
    assert found["customers"]["nodes"] == [{"managedBy": "EXTERNAL_ADMIN", "trials": [{"status": "ACTIVE"}]}]

    # The same name again: NAME_TAKEN (names are unique case-insensitively), shown inline.
    page.get_by_test_id("back").click()
    page.get_by_test_id("new-trial-toggle").click()
    form.get_by_test_id("trial-name").fill("zagreb browser tests D.O.O.")
    form.get_by_test_id("start-trial").click()
    expect(form.locator("[data-testid=trial-error] li")).to_have_attribute("data-code", "NAME_TAKEN")
