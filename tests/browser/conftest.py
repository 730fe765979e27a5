"""Headless Chromium (Debian's package) driven by Playwright, for the pages' JavaScript."""
import os
from pathlib import Path

import pytest
from django.db import connections

# Playwright's sync API runs an event loop in the test's thread; the test's own ORM calls are safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this sandbox cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_context():
    """A fresh browser context in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1400})
        yield context
        context.close()
        browser.close()
        # ORM calls made while Playwright's loop was running opened connections in its context;
        # closed here, or PostgreSQL refuses to drop the test database at the end of the run.
        connections.close_all()


@pytest.fixture
def browser_page(browser_context):
    """A page in ``browser_context``."""
    return browser_context.new_page()


def watch(page) -> list[str]:
    """Collect the page's script errors and console errors; CSP violations go to ``window.cspViolations``.

    The browser's own request for /favicon.ico is the one expected 404.
    """
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text)
        if message.type == "error" and "favicon" not in (message.location or {}).get("url", "")
        else None,
    )
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI));"
    )
    return errors


def sign_in(page, base_url: str, user, password: str) -> None:
    """Sign in to the admin through its login form."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
