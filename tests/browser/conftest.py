"""Real-browser tests of the client portal: Debian's Chromium driven by Playwright.

One browser for the whole browser package, a fresh context (cookies, storage) per test.
Every test runs against pytest-django's `live_server` with real commits (`tx_db`), on
data built through the services (`scenario.build`).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.browser import scenario as scenario_module
from tests.browser.helpers import ARTIFACTS

CHROMIUM = os.environ.get("TALLY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Chromium, started once for the browser tests and stopped when they are done."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"The browser tests need Chromium at {CHROMIUM}, which is missing. "
            "Install it with: apt-get install chromium  (Playwright cannot download its own "
            "browser here; `make test` and .ci/run install it when run as root).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # While Playwright's sync API is running, its event loop counts as "running" in this
    # thread, and Django refuses ORM calls from a thread with a running loop. The test
    # thread only builds data and checks results (the live server answers in its own
    # thread), so lift that check while the browser runs, and put it back afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def portal(tx_db, live_server, browser) -> scenario_module.Scenario:
    """The scenario's data, committed, with the live server up."""
    return scenario_module.build()


def session_cookie(user: object, url: str) -> dict[str, str]:
    """A signed-in session for `user`, as a browser cookie (the login form has its own test)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": url,
    }


class BrowserProblems:
    """JavaScript errors and console errors (a CSP violation shows up there) of a context."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: object) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))  # type: ignore[attr-defined]
        page.on("console", self._console)  # type: ignore[attr-defined]

    def _console(self, message: object) -> None:
        if message.type != "error":  # type: ignore[attr-defined]
            return
        where = (message.location or {}).get("url", "")  # type: ignore[attr-defined]
        if where.endswith("/favicon.ico"):  # the site has no icon; Chromium asks anyway
            return
        if "status of 422" in message.text:  # type: ignore[attr-defined]
            return  # a refused form, answered with its errors: expected where tested
        self.errors.append(f"console error: {message.text} ({where})")  # type: ignore[attr-defined]


def _new_context(browser, live_server, problems: BrowserProblems, **options):  # noqa: ANN001, ANN202
    context = browser.new_context(
        base_url=live_server.url,
        viewport=options.pop("viewport", {"width": 1280, "height": 900}),
        locale="en-US",
        accept_downloads=True,
        **options,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.on("page", problems.watch)
    return context


@pytest.fixture
def new_context(browser, live_server) -> Iterator[object]:
    """A factory for fresh browser contexts; each is closed, and checked for script
    errors, at the end of the test."""
    made = []

    def make(**options: object) -> object:
        problems = BrowserProblems()
        context = _new_context(browser, live_server, problems, **options)
        made.append((context, problems))
        return context

    yield make
    errors = []
    for context, problems in made:
        context.close()
        errors += problems.errors
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)


@pytest.fixture
def page(portal, new_context, live_server) -> object:
    """A page of a fresh context, signed in as Acme's client user."""
    context = new_context()
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    return context.new_page()
