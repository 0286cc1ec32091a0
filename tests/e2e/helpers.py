from __future__ import annotations

import re
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


def checkered_png(path, colour=(30, 90, 200)) -> str:
    """A 640 x 400 checkerboard PNG written to `path` (a picture the avatar cropper can show)."""
    import io

    from PIL import Image
    img = Image.new("RGB", (640, 400), (240, 240, 240))
    for x in range(0, 640, 40):
        for y in range(0, 400, 40):
            if (x + y) // 40 % 2:
                img.paste(colour, (x, y, x + 40, y + 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return str(path)


def open_chat_with(page, login_name: str, title: str | None = None) -> None:
    """Find a person in People and open the private chat (its header shows `title`, else the login)."""
    open_people(page)
    page.fill("#people-search", login_name)
    # wait for the debounced search to replace the full list, so the click lands on a settled row
    expect(page.locator(".person-entry")).to_have_count(1)
    page.locator(".person-entry", has_text=login_name).click()
    expect(page.locator("#room-title")).to_have_text(title or login_name)


def send_text(page, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")


def bubble(page, text: str):
    """The message whose text contains `text` (case-sensitive, unlike Playwright's has_text)."""
    return page.locator(".message", has=page.locator(".msg-text", has_text=re.compile(re.escape(text))))


def pick_person(page, login_name: str) -> None:
    """Pick someone in the New group dialog through its people search."""
    page.fill(".new-group-search input", login_name)
    page.locator(".pick", has_text=login_name).click()
    expect(page.locator(".picked", has_text=login_name)).to_be_visible()
