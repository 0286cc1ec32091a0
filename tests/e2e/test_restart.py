"""After a server restart every tab reopens the chat it showed (18#8): the server has forgotten
every tab's state, and the tab keeps which chat was open in its own sessionStorage."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from corpchat.services import accounts, messages, rooms
from tests import support
from tests.e2e.helpers import PASSWORD, login, unique


def test_tabs_reopen_their_chats_after_a_restart(browser, shots):
    anna, boris, olena = (accounts.register(unique(p), PASSWORD) for p in ("sa", "sb", "so"))
    for other in (boris, olena):
        room = rooms.open_private(anna.user_id, other.user_id)
        messages.send_sync(other.user_id, room, f"hi from {other.login}", uuid.uuid4().hex)
    app = support.AppProcess(log_name="restart").start()
    try:
        ctx = browser.new_context(viewport={"width": 1100, "height": 760}, locale="en-US", base_url=app.url)
        tabs = {}
        for other in (boris, olena):  # two tabs of one user, each on its own chat
            page = ctx.new_page()
            if not tabs:
                login(page, anna.login)
            else:
                page.goto("/")
            page.locator(".chat-entry", has_text=other.login).click()
            expect(page.locator("#room-title")).to_have_text(other.login)
            tabs[other.login] = page
        app.stop()
        app = support.AppProcess(port=app.port, log_name="restart").start()
        for name, page in tabs.items():
            expect(page.locator("#room-title")).to_have_text(name, timeout=60_000)
            expect(page.locator("#messages").get_by_text(f"hi from {name}")).to_be_visible()
            shots(page, f"after-restart-{name}")
        # And the reopened chat is live: a message from Olena arrives in her tab.
        messages_room = rooms.open_private(anna.user_id, olena.user_id)
        page = tabs[olena.login]
        # The reconnected page settles (its state arrives, the chat's box is mounted again) before
        # anyone types; a box filled in the middle of that is re-mounted empty.
        page.wait_for_timeout(1500)
        page.fill("#composer", "back after the restart")
        expect(page.locator("#composer")).to_have_value("back after the restart")
        page.press("#composer", "Enter")
        expect(page.locator("#messages").get_by_text("back after the restart")).to_be_visible()
        assert any(m["text"] == "back after the restart"
                   for m in messages.history(olena.user_id, messages_room)[0])
        ctx.close()
    finally:
        app.stop()
