"""The recorder, owned by Python (issue 21): its cap, cancel and discard, review playback, on a
phone and in each language. Chromium's fake camera and microphone; the e2e app runs with
VOICE_MAX_SECONDS=6 (tests/conftest.py)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect
from sqlalchemy import text

from corpchat.db import engine
from tests.e2e.test_attachments import _check_review_plays, _pair, _wait_true, browser  # noqa: F401

PHONE = {"width": 390, "height": 844}


def _files_of(login: str) -> int:
    with engine().connect() as conn:
        return conn.execute(text("SELECT count(*) FROM files f JOIN users u ON u.id = f.owner_id "
                                 "WHERE u.login = :l"), {"l": login}).scalar()


def _messages_in_room(login: str) -> int:
    with engine().connect() as conn:
        return conn.execute(text("SELECT count(*) FROM messages m JOIN users u ON u.id = m.sender_id "
                                 "WHERE u.login = :l"), {"l": login}).scalar()


def _wait_files(login: str, n: int) -> None:
    deadline = time.monotonic() + 15
    while _files_of(login) != n and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _files_of(login) == n


def _record_circle(page) -> None:
    """⏺, a second or more on the clock (the cap shown next to it)."""
    page.click("#circle-button")
    expect(page.locator("#circle-live")).to_be_visible()
    expect(page.locator("#circle-elapsed")).to_have_text(re.compile(r"0:0[1-3] / 1:00"))


def _in_view(page, selector: str, width: int) -> None:
    box = page.locator(selector).bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)


def test_voice_stops_itself_at_the_cap_and_review_plays(new_page, app_server, shots):
    """The cap (6 s here, VOICE_MAX_SECONDS) ends the recording by itself, the review plays it in
    the browser's own <audio controls>, and Send sends what was reviewed."""
    anna, boris, anna_login, _, ctx = _pair(new_page, app_server.url, viewport=PHONE)
    try:
        anna.click("#voice-button")
        expect(anna.locator("#voice-stop")).to_be_visible()
        expect(anna.locator("#voice-review")).to_be_visible(timeout=15_000)  # nobody pressed Stop
        expect(anna.locator("#voice-stop")).to_have_count(0)
        expect(anna.locator("#voice-elapsed")).to_have_text(re.compile(r"0:0[56]"))
        # Once uploaded, the review plays the server's copy, whose header states its length.
        _wait_true(anna, "() => { const a = document.getElementById('voice-review'); "
                         "return a && a.src.includes('/api/media/') && a.readyState >= 2 "
                         "&& Number.isFinite(a.duration) && a.duration > 4.5 }")
        anna.evaluate("() => document.getElementById('voice-review').play()")
        _wait_true(anna, "() => document.getElementById('voice-review').currentTime > 0.3")
        for sel in ("#voice-cancel", "#voice-review", "#voice-send"):
            _in_view(anna, sel, PHONE["width"])
        shots(anna, "phone-voice-review-en")
        anna.click("#voice-send")
        expect(anna.locator("#voice-bar")).to_have_count(0)
        player = anna.locator(".voice-player")
        expect(player).to_contain_text(re.compile(r"0:0[56]"))  # measured on the server
        assert _files_of(anna_login) == 1
    finally:
        ctx.close()


def test_round_video_stops_itself_at_60_seconds(new_page, app_server, shots):
    """The product's cap: the page's clock jumps a minute ahead (Playwright's fake clock) and
    the recording ends by itself, in review, at 1:00."""
    anna, _, _, _, ctx = _pair(new_page, app_server.url)
    try:
        anna.clock.install()
        _record_circle(anna)
        anna.clock.fast_forward("01:00")
        expect(anna.locator("#circle-review")).to_be_visible()
        expect(anna.locator("#circle-stop")).to_have_count(0)
        expect(anna.locator("#circle-elapsed")).to_have_text("1:00")
        shots(anna, "circle-at-the-cap")
        anna.click("#circle-discard")
        expect(anna.locator("#circle-dialog")).to_have_count(0)
    finally:
        ctx.close()


def test_cancel_while_recording_sends_nothing(new_page, app_server, shots):
    anna, boris, anna_login, _, ctx = _pair(new_page, app_server.url)
    try:
        anna.click("#voice-button")
        expect(anna.locator("#voice-elapsed")).to_have_text(re.compile(r"0:0[1-3]"))
        anna.click("#voice-cancel")
        expect(anna.locator("#voice-bar")).to_have_count(0)

        _record_circle(anna)
        anna.click("#circle-discard")
        expect(anna.locator("#circle-dialog")).to_have_count(0)
        # The camera is let go once the dialog closes.
        _wait_true(anna, "() => !document.getElementById('circle-live')")
        time.sleep(2)
        assert _files_of(anna_login) == 0 and _messages_in_room(anna_login) == 0
        expect(anna.locator(".message")).to_have_count(0)
        expect(boris.locator(".chat-entry", has_text=anna_login)).to_have_count(0)
    finally:
        ctx.close()


def test_leaving_the_chat_while_recording_sends_nothing(new_page, app_server, shots):
    """On a phone the back arrow closes the chat (and the composer with the recorder in it): the
    take dies with it, and the chat opened again shows no recorder and holds no message."""
    anna, _, anna_login, boris_login, ctx = _pair(new_page, app_server.url, viewport=PHONE)
    try:
        anna.click("#voice-button")
        expect(anna.locator("#voice-elapsed")).to_have_text(re.compile(r"0:0[1-3]"))
        anna.click(".back-button")
        anna.locator(".chat-entry", has_text=boris_login).click()
        expect(anna.locator("#room-title")).to_have_text(boris_login)
        expect(anna.locator("#voice-button")).to_be_visible()
        expect(anna.locator("#voice-bar")).to_have_count(0)
        time.sleep(1.5)
        assert _files_of(anna_login) == 0 and _messages_in_room(anna_login) == 0
    finally:
        ctx.close()


def test_a_failed_upload_is_named_and_retried(new_page, app_server, shots):
    """The first upload of a voice message is refused (a full quota, answered by a stub of the
    route); the bar names it in the user's language, and Retry sends the same recording."""
    anna, boris, anna_login, _, ctx = _pair(new_page, app_server.url, boris_locale="uk-UA")
    try:
        refused = []

        def refuse_once(route):
            if refused or route.request.method != "POST":
                route.continue_()
                return
            refused.append(1)
            route.fulfill(status=413, content_type="application/json", body='{"error": "quota_exceeded"}')

        anna.route("**/api/upload*", refuse_once)
        anna.click("#voice-button")
        expect(anna.locator("#voice-elapsed")).to_have_text(re.compile(r"0:0[1-3]"))
        anna.click("#voice-send")
        expect(anna.locator("#voice-bar [role=alert]")).to_have_text("Your storage is full.")
        expect(anna.locator("#voice-send")).to_have_text("Retry")
        shots(anna, "voice-upload-refused")
        assert _messages_in_room(anna_login) == 0
        anna.click("#voice-send")
        expect(anna.locator("#voice-bar")).to_have_count(0)
        expect(anna.locator(".voice-player")).to_have_count(1)
        assert refused == [1] and _files_of(anna_login) == 1
    finally:
        ctx.close()


def test_discarding_a_reviewed_video_deletes_its_upload(new_page, app_server, shots):
    anna, _, anna_login, _, ctx = _pair(new_page, app_server.url)
    try:
        _record_circle(anna)
        anna.click("#circle-stop")
        _check_review_plays(anna)
        _wait_files(anna_login, 1)  # uploaded while reviewed
        anna.click("#circle-rerecord")  # a new take drops the old upload
        expect(anna.locator("#circle-live")).to_be_visible()
        expect(anna.locator("#circle-elapsed")).to_have_text(re.compile(r"0:0[1-3] / 1:00"))
        anna.click("#circle-stop")
        _check_review_plays(anna)
        _wait_files(anna_login, 1)  # the first take's upload is gone, the second's is there
        anna.click("#circle-discard")
        expect(anna.locator("#circle-dialog")).to_have_count(0)
        _wait_files(anna_login, 0)
        assert _messages_in_room(anna_login) == 0
    finally:
        ctx.close()


def test_recorder_on_a_phone_in_ukrainian_and_russian(new_page, app_server, shots, browser):  # noqa: F811
    for locale, stop_label, send_label in (("uk-UA", "Зупинити", "Надіслати"), ("ru-RU", "Остановить", "Отправить")):
        ctx = browser.new_context(viewport=PHONE, locale=locale, base_url=app_server.url)
        try:
            anna, boris, _, _, bctx = _pair(lambda viewport=None, context=None, c=ctx: c.new_page()
                                            if context is None else context.new_page(),
                                            app_server.url, viewport=PHONE, boris_locale=locale)
            anna.click("#voice-button")
            expect(anna.locator("#voice-elapsed")).to_have_text(re.compile(r"0:0[1-3]"))
            expect(anna.locator("#voice-send")).to_have_text(send_label)
            shots(anna, f"phone-voice-recording-{locale}")
            anna.click("#voice-stop")
            expect(anna.locator("#voice-review")).to_be_visible()
            for sel in ("#voice-cancel", "#voice-review", "#voice-send"):
                _in_view(anna, sel, PHONE["width"])
            shots(anna, f"phone-voice-review-{locale}")
            anna.click("#voice-cancel")

            _record_circle(anna)
            expect(anna.locator("#circle-stop")).to_have_text(stop_label)
            _in_view(anna, "#circle-live", PHONE["width"])
            shots(anna, f"phone-circle-recording-{locale}")
            anna.click("#circle-stop")
            _check_review_plays(anna)
            for sel in ("#circle-review", "#circle-send", "#circle-discard", "#circle-rerecord"):
                _in_view(anna, sel, PHONE["width"])
            shots(anna, f"phone-circle-review-{locale}")
            anna.click("#circle-send")
            expect(anna.locator("#circle-dialog")).to_have_count(0)
            expect(boris.locator(".chat-entry").first).to_be_visible()
            bctx.close()
        finally:
            ctx.close()
