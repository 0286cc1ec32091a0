"""A reaction chip names who reacted; each name opens that person's profile card (issue 13)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import register, unique
from tests.e2e.test_people_browser import _open_chat_with


def test_a_reactors_name_opens_their_card(new_page, app_server, shots):
    anna_login, boris_login = unique("anna"), unique("boris")
    anna, boris = new_page(), new_page()
    register(anna, anna_login)
    register(boris, boris_login)
    _open_chat_with(anna, boris_login, boris_login)
    anna.fill("#composer", "react to me")
    anna.press("#composer", "Enter")
    _open_chat_with(boris, anna_login, anna_login)
    bubble = boris.locator(".message", has_text="react to me")
    bubble.hover()
    bubble.locator(".react-button").click()
    boris.locator(".quick-reaction", has_text="👍").first.click()
    chip = anna.locator(".reaction", has_text="👍")
    expect(chip).to_be_visible()
    chip.hover()
    reactor = anna.locator(".reactor", has_text=boris_login)
    expect(reactor).to_be_visible()
    shots(anna, "reactors")
    reactor.click()
    expect(anna.locator("#card-name")).to_have_text(boris_login)
