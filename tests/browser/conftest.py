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
