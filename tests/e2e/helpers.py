from __future__ import annotations

import secrets

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
