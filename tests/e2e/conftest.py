"""Headless Debian Chromium driven by Playwright against the running app."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
# Live updates arrive in milliseconds; the margin is for a loaded CI machine, not for the app.
expect.set_options(timeout=15_000)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


# Module scope: sync Playwright keeps an event loop on the main thread while it runs,
# which the asyncio tests (security/) cannot share.
@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


class Shots:
    """Numbered screenshots of one test, in test-artifacts/<test name>/."""

    def __init__(self, name: str):
        self.dir = ARTIFACTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page, label: str) -> None:
        self.n += 1
        page.screenshot(path=str(self.dir / f"{self.n:02d}-{label}.png"))


@pytest.fixture
def shots(request):
    return Shots(request.node.name)


@pytest.fixture
def new_page(browser, app_server):
    """Pages in fresh browser contexts (separate cookies = separate users)."""
    contexts = []

    def make(viewport=None, context=None):
        ctx = context
        if ctx is None:
            ctx = browser.new_context(viewport=viewport or {"width": 1100, "height": 760}, locale="en-US",
                                      base_url=app_server.url)
            contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
