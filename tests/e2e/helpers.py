from __future__ import annotations

import secrets

from playwright.sync_api import expect

PASSWORD = "password123"


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def register(page, login: str, password: str = PASSWORD) -> None:
    page.goto("/register")
    page.wait_for_selector("#submit")
    page.fill("#login", login)
    page.fill("#password", password)
    page.fill("#password_repeat", password)
    page.click("#submit")
    page.wait_for_url("**/")
    page.wait_for_selector("#app-shell")


def login(page, login_name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.wait_for_selector("#submit")
    page.fill("#login", login_name)
    page.fill("#password", password)
    page.click("#submit")


def open_people(page) -> None:
    """The People tab of the sidebar. A click that lands before the page has hydrated does
    nothing (the handler is not attached yet), so it is repeated until the search box shows."""
    for _ in range(5):
        page.click("#people-tab")
        try:
            page.wait_for_selector("#people-search", timeout=3000)
            return
        except Exception:
            continue
    from tests import support

    page.screenshot(path=str(support.ARTIFACTS / "people-tab-failed.png"))
    page.wait_for_selector("#people-search", timeout=3000)


def open_chat_with(page, login_name: str, title: str | None = None) -> None:
    """Find a person in People and open the private chat (its header shows `title`, else the login)."""
    open_people(page)
    page.fill("#people-search", login_name)
    # wait for the debounced search to replace the full list, so the click lands on a settled row
    expect(page.locator(".person-entry")).to_have_count(1)
    page.locator(".person-entry", has_text=login_name).click()
    expect(page.locator("#room-title")).to_have_text(title or login_name)
