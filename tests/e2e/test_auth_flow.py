"""Register, land in the shell, reload, log out, guard, log in again — in Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import PASSWORD, login, register, unique


def test_register_reload_logout_guard_login(new_page, shots):
    page = new_page()
    name = unique("anna")
    page.goto("/")
    page.wait_for_url(re.compile(r"/login/?($|\?)"))  # the guard sends strangers to the login page
    shots(page, "guard-redirects-to-login")

    register(page, name)
    expect(page.locator("#sidebar")).to_be_visible()
    expect(page.get_by_text("No chats yet")).to_be_visible()
    shots(page, "registered-app-shell")

    page.reload()
    page.wait_for_selector("#sidebar")
    expect(page.locator("#sidebar")).to_be_visible()
    assert page.url.rstrip("/").endswith(str(page.url.split("/")[2]))  # still on /
    shots(page, "after-reload-still-logged-in")

    cookies = page.context.cookies()
    session = [c for c in cookies if c["name"] == "corpchat_session"]
    assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"

    page.click("#to-settings")
    page.wait_for_selector("#logout")
    expect(page.locator("#me-login")).to_contain_text(name)
    shots(page, "settings")
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login/?($|\?)"))
    shots(page, "logged-out")

    for protected in ("/", "/settings"):
        page.goto(protected)
        page.wait_for_url(re.compile(r"/login/?($|\?)"))
    shots(page, "protected-page-redirects")

    login(page, name, "wrong password")
    page.wait_for_url(re.compile(r"/login/?\?error="))
    expect(page.locator("#form-error")).to_contain_text("Wrong login or password")
    shots(page, "wrong-password")

    login(page, name.upper(), PASSWORD)  # logins are case-insensitive
    page.wait_for_url("**/")
    page.wait_for_selector("#sidebar")
    shots(page, "logged-in-again")


def test_register_errors_are_shown(new_page, shots):
    page = new_page()
    taken = unique("boris")
    register(page, taken)
    other = new_page()
    other.goto("/register")
    other.fill("#login", taken.upper())
    other.fill("#password", PASSWORD)
    other.fill("#password_repeat", PASSWORD)
    other.click("#submit")
    other.wait_for_url(re.compile(r"/register/?\?error="))
    expect(other.locator("#form-error")).to_contain_text("already taken")
    shots(other, "login-taken")


def test_password_change_logs_out_other_sessions(new_page, shots):
    first = new_page()
    name = unique("vera")
    register(first, name)
    second = new_page()
    login(second, name)
    second.wait_for_selector("#sidebar")

    first.goto("/settings")
    first.wait_for_selector("#save-password")
    first.fill("input[name=old_password]", PASSWORD)
    first.fill("input[name=new_password]", "brand new pass")
    first.fill("input[name=new_password_repeat]", "brand new pass")
    first.click("#save-password")
    first.wait_for_url(re.compile(r"/settings/?\?ok="))
    expect(first.locator("#form-notice")).to_be_visible()
    shots(first, "password-changed")

    second.reload()
    second.wait_for_url(re.compile(r"/login/?($|\?)"))
    shots(second, "other-session-logged-out")


def test_phone_width_and_dark_mode(new_page, shots):
    page = new_page(viewport={"width": 375, "height": 740})
    register(page, unique("gleb"))
    expect(page.locator("#sidebar")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shots(page, "phone-light")
    page.click("#to-settings")
    page.wait_for_selector("#logout")
    page.click(".theme-toggle")
    page.wait_for_timeout(300)
    assert "dark" in (page.evaluate("document.documentElement.className") or "")
    shots(page, "phone-dark-settings")


def test_language_switch(new_page, shots):
    page = new_page()
    register(page, unique("olena"))
    page.goto("/settings")
    page.wait_for_selector("#logout")
    page.click(".language-select")
    page.get_by_role("option", name="Українська").click()
    expect(page.locator("#logout")).to_contain_text("Вийти")
    page.goto("/")
    expect(page.get_by_text("Чатів ще немає")).to_be_visible()
    # icon buttons are named in the page's language too (they said "theme", "settings" in English)
    expect(page.locator(".theme-toggle").first).to_have_attribute("aria-label", "Темна тема")
    expect(page.locator("#to-settings button")).to_have_attribute("aria-label", "Налаштування")
    shots(page, "ukrainian-shell")
