"""The app works in Chromium under its own Content-Security-Policy (issue 11, finding 5):
no violation in the console on the login, register, chat and settings pages, with a
logged-in user sending a message and an emoji from the picker. Also: no 404 (the
favicon), and none of Reflex's deprecation warnings for our on_load handlers in the log.

Sync Playwright (the `browser` fixture of tests/e2e/conftest.py) in its own module: it keeps
an event loop on the main thread while it runs, which the asyncio tests cannot share.
"""

from __future__ import annotations

import secrets

from playwright.sync_api import expect

from tests import support
from tests.e2e.helpers import open_people

PASSWORD = "password123"


class Watched:
    """A page whose console errors, page errors and failed loads are kept."""

    def __init__(self, browser, base_url: str):
        self.context = browser.new_context(base_url=base_url, locale="en-US")
        # A violation inside a caught exception (Reflex's eval of rx.call_script) reaches the
        # console only as the app's own log line, if at all: the event always fires.
        self.context.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation:', e.violatedDirective, e.blockedURI, e.sourceFile))")
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.page.on("console", lambda m: (m.type in ("error", "warning") or "Content Security Policy" in m.text)
                     and self.problems.append(f"console {m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and not r.url.split("?")[0].endswith("/api/login")
                     and self.problems.append(f"{r.status} {r.url}"))

    def csp_violations(self) -> list[str]:
        return [p for p in self.problems if "Content Security Policy" in p or "CSP violation" in p
                or "Refused to" in p]


def _register(w: Watched, login: str) -> None:
    w.page.goto("/register")
    w.page.wait_for_selector("#submit")
    w.page.fill("#login", login)
    w.page.fill("#password", PASSWORD)
    w.page.fill("#password_repeat", PASSWORD)
    w.page.click("#submit")
    w.page.wait_for_url("**/")
    w.page.wait_for_selector("#app-shell")


def test_every_page_works_under_the_policy(browser, app_server):
    anna, boris = Watched(browser, app_server.url), Watched(browser, app_server.url)
    try:
        a, b = f"csa{secrets.token_hex(3)}", f"csb{secrets.token_hex(3)}"
        anna.page.goto("/login")
        anna.page.wait_for_selector("#submit")
        _register(anna, a)
        _register(boris, b)
        page = anna.page
        open_people(page)
        try:
            page.wait_for_selector("#people-search", timeout=15_000)
        except Exception:
            page.screenshot(path=str(support.ARTIFACTS / "csp-people-tab.png"))
            raise
        page.fill("#people-search", b)
        expect(page.locator(".person-entry")).to_have_count(1)
        page.locator(".person-entry", has_text=b).click()
        expect(page.locator("#room-title")).to_have_text(b)
        page.fill("#composer", "hello under CSP")
        page.press("#composer", "Enter")
        expect(page.locator(".msg-text", has_text="hello under CSP")).to_be_visible()
        page.click("#emoji-button")
        picker = page.locator("[data-testid=emoji-picker] em-emoji-picker")
        expect(picker).to_be_attached()
        picker.locator("button[aria-label='😀']").first.click()
        page.keyboard.press("Escape")
        page.press("#composer", "Enter")
        boris.page.locator(".chat-entry", has_text=a).click()
        expect(boris.page.locator(".msg-text", has_text="hello under CSP")).to_be_visible()
        expect(boris.page.locator(".msg-text", has_text="😀")).to_be_visible()
        page.goto("/settings")
        page.wait_for_selector("#save-password")
        page.fill("input[name=old_password]", "not the password")
        page.fill("input[name=new_password]", "brand new pass")
        page.fill("input[name=new_password_repeat]", "brand new pass")
        page.click("#save-password")
        expect(page.locator("body")).to_contain_text("The current password is wrong.")
        page.goto("/login")  # logged in: redirected into the app
        page.wait_for_selector("#app-shell")
        for w in (anna, boris):
            assert w.csp_violations() == [], w.csp_violations()
            assert w.problems == [], w.problems
    finally:
        anna.context.close()
        boris.context.close()


def test_our_handlers_use_no_deprecated_reflex_api(browser, app_server):
    """Run after the pages above loaded (their on_load handlers ran in the app)."""
    log = app_server.log_path.read_text()
    assert "RouterData.page" not in log
    assert "deprecated" not in log.lower(), [line for line in log.splitlines() if "deprecat" in line.lower()]
