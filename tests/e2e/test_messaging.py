"""Two users (and a second tab of one) in Chromium: messages, edits, deletes,
reactions and unread counters appear live on the other side."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import open_chat_with as _open_chat_with
from tests.e2e.helpers import register, unique

XSS = [
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(2)>",
    '<iframe srcdoc="<script>alert(3)</script>"></iframe>',
    "javascript:alert(4)",
    "JaVaScRiPt:alert(5) data:text/html,<script>alert(6)</script>",
]


def _send(page, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")


def _bubble(page, text: str):
    """The message whose text contains `text` (case-sensitive, unlike Playwright's has_text)."""
    return page.locator(".message", has=page.locator(".msg-text", has_text=re.compile(re.escape(text))))


def test_live_messaging_between_two_users_and_two_tabs(new_page, shots):
    anna_login, boris_login = unique("anna"), unique("boris")
    anna = new_page()
    register(anna, anna_login)
    boris = new_page()
    register(boris, boris_login)
    anna2 = new_page(context=anna.context)  # a second tab of Anna
    anna2.goto("/")
    anna2.wait_for_selector("#sidebar")

    _open_chat_with(anna, boris_login)
    _send(anna, "Hello Boris, see www.example.com!")
    expect(_bubble(anna, "Hello Boris")).to_be_visible()
    expect(anna.locator(".msg-sending")).to_have_count(0)
    shots(anna, "anna-sent")

    # Boris: the chat appears with an unread counter, live.
    entry = boris.locator(".chat-entry", has_text=anna_login)
    expect(entry.locator(".unread")).to_have_text("1")
    expect(entry.locator(".chat-preview")).to_contain_text("Hello Boris")
    shots(boris, "boris-unread")
    # Anna's other tab: the chat list shows it too.
    expect(anna2.locator(".chat-entry", has_text=boris_login)).to_contain_text("You: Hello Boris")

    entry.click()
    expect(_bubble(boris, "Hello Boris")).to_be_visible()
    link = _bubble(boris, "Hello Boris").locator("a")
    expect(link).to_have_attribute("href", "https://www.example.com")
    expect(link).to_have_attribute("target", "_blank")
    assert "noopener" in (link.get_attribute("rel") or "")
    expect(entry.locator(".unread")).to_have_count(0)

    # Shift+Enter makes a new line, Enter sends.
    boris.fill("#composer", "line one")
    boris.press("#composer", "Shift+Enter")
    boris.type("#composer", "line two")
    boris.press("#composer", "Enter")
    expect(_bubble(anna, "line two")).to_be_visible()
    assert "line one\nline two" in _bubble(anna, "line two").locator(".msg-text").inner_text()
    shots(anna, "anna-got-reply")

    # Anna's second tab opens the chat and follows live.
    anna2.locator(".chat-entry", has_text=boris_login).click()
    expect(_bubble(anna2, "line two")).to_be_visible()

    # Up arrow edits Anna's last message.
    anna.click("#composer")
    anna.press("#composer", "ArrowUp")
    anna.wait_for_selector("#edit-box")
    anna.fill("#edit-box", "Hello Boris (edited text)")
    anna.press("#edit-box", "Enter")
    expect(_bubble(boris, "edited text").locator(".edited")).to_be_visible()
    expect(_bubble(anna2, "edited text")).to_be_visible()
    shots(boris, "boris-sees-edit")

    # Boris reacts; Anna sees the reaction with its count.
    _bubble(boris, "edited text").locator(".react-button").click()
    boris.locator(".quick-reaction", has_text="👍").click()
    chip = _bubble(anna, "edited text").locator(".reaction")
    expect(chip).to_contain_text("👍")
    expect(chip.locator(".reaction-count")).to_have_text("1")
    shots(anna, "anna-sees-reaction")
    # Clicking my own reaction removes it (for everyone).
    _bubble(boris, "edited text").locator(".reaction").click()
    expect(_bubble(anna, "edited text").locator(".reaction")).to_have_count(0)

    # Delete for everyone: gone on every screen.
    _send(anna, "a message to take back")
    expect(_bubble(boris, "take back")).to_be_visible()
    _bubble(anna, "take back").locator(".msg-menu").click()
    anna.locator(".do-delete-all").click()
    anna.click("#confirm-ok")  # asked first (test_chat_ux.py)
    expect(_bubble(boris, "take back")).to_have_count(0)
    expect(_bubble(anna2, "take back")).to_have_count(0)
    expect(_bubble(anna, "take back")).to_have_count(0)
    shots(boris, "boris-after-delete")

    # Delete for me: only Boris stops seeing it.
    _bubble(boris, "line two").locator(".msg-menu").click()
    boris.locator(".do-delete-me").click()
    expect(_bubble(boris, "line two")).to_have_count(0)
    expect(_bubble(anna, "line two")).to_be_visible()


def test_stored_xss_renders_as_text(new_page, shots):
    a, b = unique("xa"), unique("xb")
    sender = new_page()
    register(sender, a)
    reader = new_page()
    register(reader, b)
    dialogs = []
    reader.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sender.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    _open_chat_with(sender, b)
    for payload in XSS:
        _send(sender, payload)
        expect(_bubble(sender, payload)).to_be_visible()
    reader.locator(".chat-entry", has_text=a).click()
    for payload in XSS:
        expect(_bubble(reader, payload)).to_be_visible()
    reader.wait_for_timeout(500)
    shots(reader, "xss-as-text")
    assert dialogs == []
    messages = reader.locator("#messages")
    assert messages.locator("img, svg:not(.lucide), iframe, script").count() == 0
    for anchor in messages.locator("a").all():
        assert (anchor.get_attribute("href") or "").startswith(("http://", "https://", "mailto:"))


def test_emoji_menu_inserts_into_composer(new_page, shots):
    a, b = unique("ea"), unique("eb")
    page = new_page()
    register(page, a)
    other = new_page()
    register(other, b)
    _open_chat_with(page, b)
    page.click("#emoji-button")
    picker = page.locator("[data-testid=emoji-picker] em-emoji-picker")
    expect(picker).to_be_attached()
    page.wait_for_timeout(500)
    shots(page, "emoji-menu")
    picker.locator("button[aria-label='😀']").first.click()
    page.keyboard.press("Escape")
    assert "😀" in page.input_value("#composer")
    page.press("#composer", "Enter")
    expect(_bubble(other.locator("body").page, "😀")).to_have_count(0)  # not opened yet on the other side
    other.locator(".chat-entry", has_text=a).click()
    expect(_bubble(other, "😀")).to_be_visible()


def test_delete_chat_for_me_and_it_comes_back(new_page, shots):
    a, b = unique("da"), unique("db")
    anna = new_page()
    register(anna, a)
    boris = new_page()
    register(boris, b)
    _open_chat_with(anna, b)
    _send(anna, "first message")
    expect(boris.locator(".chat-entry", has_text=a)).to_be_visible()
    boris.locator(".chat-entry", has_text=a).click()
    boris.click("#room-menu")
    boris.click("#delete-chat")
    boris.click("#confirm-ok")
    expect(boris.locator(".chat-entry", has_text=a)).to_have_count(0)
    shots(boris, "chat-deleted")
    _send(anna, "second message")
    entry = boris.locator(".chat-entry", has_text=a)
    expect(entry).to_be_visible()
    expect(entry.locator(".unread")).to_have_text("1")
    entry.click()
    expect(_bubble(boris, "second message")).to_be_visible()
    expect(_bubble(boris, "first message")).to_have_count(0)  # history before the delete stays gone
    shots(boris, "chat-back")


def test_history_opens_at_newest_and_pages_on_scroll_up(new_page, shots):
    from corpchat.services import accounts, messages, rooms
    from tests.e2e.helpers import PASSWORD, login

    a, b = unique("ha"), unique("hb")
    anna = accounts.register(a, PASSWORD)
    boris = accounts.register(b, PASSWORD)
    room = rooms.open_private(anna.user_id, boris.user_id)
    for i in range(1, 131):
        messages.send_sync(anna.user_id if i % 2 else boris.user_id, room, f"history message #{i:03d}", f"seed-{a}-{i}")
    page = new_page()
    login(page, b)
    page.locator(".chat-entry", has_text=a).click()
    expect(page.locator(".msg-text", has_text="#130")).to_be_visible()
    assert page.locator(".message").count() == 50
    expect(page.locator(".msg-text", has_text="#080")).to_have_count(0)
    shots(page, "newest-50")
    for _ in range(4):  # scroll to the top: the page before loads by itself
        if page.locator("#load-older").count():
            page.locator("#load-older").scroll_into_view_if_needed()
        page.wait_for_timeout(600)
        if page.locator(".message").count() >= 130:
            break
    expect(page.locator(".msg-text", has_text="#001")).to_be_attached()
    assert page.locator(".message").count() == 130
    shots(page, "scrolled-to-first")


def test_phone_shows_one_pane_at_a_time(new_page, shots):
    a, b = unique("pa"), unique("pb")
    other = new_page()
    register(other, b)
    phone = new_page(viewport={"width": 375, "height": 740})
    register(phone, a)
    _open_chat_with(phone, b)
    expect(phone.locator("#sidebar")).to_be_hidden()
    _send(phone, "written on a phone")
    expect(_bubble(phone, "on a phone")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shots(phone, "phone-chat")
    phone.locator(".back-button").click()
    expect(phone.locator("#sidebar")).to_be_visible()
    expect(phone.locator(".chat-entry", has_text=b)).to_contain_text("written on a phone")
    shots(phone, "phone-list")


def test_failed_send_shows_retry_and_resend_stores_once(new_page, shots):
    from sqlalchemy import text

    from corpchat.db import engine

    a, b = unique("fa"), unique("fb")
    other = new_page()
    register(other, b)
    page = new_page()
    register(page, a)
    _open_chat_with(page, b)
    with engine().begin() as conn:  # a database hiccup: the table is briefly unavailable
        conn.execute(text("ALTER TABLE messages RENAME TO messages_away"))
    try:
        _send(page, "survives a hiccup")
        expect(page.locator(".msg-retry")).to_be_visible()
        shots(page, "send-failed")
    finally:
        with engine().begin() as conn:
            conn.execute(text("ALTER TABLE messages_away RENAME TO messages"))
    page.locator(".msg-retry").click()
    expect(page.locator(".msg-retry")).to_have_count(0)
    expect(_bubble(page, "survives a hiccup")).to_have_count(1)
    other.locator(".chat-entry", has_text=a).click()
    expect(_bubble(other, "survives a hiccup")).to_have_count(1)
    with engine().connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM messages WHERE text = 'survives a hiccup'")).scalar()
    assert stored == 1
    shots(page, "resent")
