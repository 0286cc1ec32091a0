"""Attachment errors as a user sees them, in uk/ru/en and on a phone (issue 21): a file over the
size cap is refused before a byte is sent, and an upload the server refuses says why, with Retry
when trying again can help and ✕ always; all of it Radix markup rendered from Python state
(components/attachments.py), the JS bridge draws nothing."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from corpchat.config import settings
from tests import support
from tests.e2e.helpers import open_people, register, unique

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 760}
TEXTS = {  # what the i18n tables say (corpchat/i18n), as a user reads it
    "uk": ("Файл завеликий.", "Забагато завантажень одночасно", "Ваше сховище заповнене.", "Повторити", "Прибрати"),
    "ru": ("Файл слишком большой.", "Слишком много загрузок одновременно", "Ваше хранилище заполнено.",
           "Повторить", "Убрать"),
    "en": ("The file is too large.", "Too many uploads at once", "Your storage is full.", "Retry", "Remove"),
}


def test_the_bridge_draws_nothing():
    """attachments.jsx holds File objects and uploads them: no markup, no labels of its own."""
    src = (support.ROOT / "corpchat/components/attachments.jsx").read_text()
    assert "return null;" in src
    assert not re.search(r"<[A-Za-z]", src.replace("</", ""))  # no JSX element anywhere


@pytest.fixture(scope="module")
def peer(browser, app_server):
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=app_server.url)
    page = ctx.new_page()
    name = unique("peer")
    register(page, name)
    ctx.close()
    return name


@pytest.mark.parametrize("lang,viewport", [("uk", PHONE), ("ru", PHONE), ("en", DESKTOP), ("en", PHONE)],
                         ids=["uk-phone", "ru-phone", "en-desktop", "en-phone"])
def test_too_large_and_refused_uploads_say_why(browser, app_server, peer, shots, tmp_path, lang, viewport):
    too_large, too_many, quota, retry, remove = TEXTS[lang]
    ctx = browser.new_context(viewport=viewport, locale={"uk": "uk-UA", "ru": "ru-RU", "en": "en-US"}[lang],
                              base_url=app_server.url)
    try:
        page = ctx.new_page()
        register(page, unique(f"u{lang}"))
        open_people(page)
        page.fill("#people-search", peer)
        page.locator(".person-entry", has_text=peer).click()
        expect(page.locator("#room-title")).to_have_text(peer)
        posted = []
        page.on("request", lambda r: posted.append(r.url) if "/api/upload" in r.url and r.method == "POST" else None)

        # Over the cap: refused at once, never sent; only ✕ (the same file would be refused again).
        huge = tmp_path / "huge.iso"
        with huge.open("wb") as f:
            f.truncate(settings.max_upload_bytes + 1)  # sparse: nothing is written
        page.set_input_files("#attach-input", str(huge))
        item = page.locator("#attach-panel .attach-item", has_text="huge.iso")
        expect(item).to_have_attribute("data-status", "error")
        expect(item.locator(".attach-error")).to_contain_text(too_large)
        expect(item.locator(".attach-retry")).to_have_count(0)
        expect(item.locator(".attach-remove")).to_have_attribute("aria-label", remove)
        expect(page.locator("#attach-send")).to_be_disabled()

        # Refused by the server: busy (Retry helps) and storage full (it does not).
        def refuse(route):
            status, code = (429, "too_many_uploads") if "busy.txt" in route.request.url else (507, "quota_exceeded")
            route.fulfill(status=status, content_type="application/json", body=json.dumps({"error": code}))

        page.route("**/api/upload?*", refuse)
        page.set_input_files("#attach-input", [str(_note(tmp_path, "busy.txt")), str(_note(tmp_path, "full.txt"))])
        busy = page.locator(".attach-item", has_text="busy.txt")
        full = page.locator(".attach-item", has_text="full.txt")
        expect(busy.locator(".attach-error")).to_contain_text(too_many)
        expect(full.locator(".attach-error")).to_contain_text(quota)
        expect(busy.locator(".attach-retry")).to_have_text(retry)
        expect(full.locator(".attach-retry")).to_have_count(0)
        # Radix buttons from Python, not hand-made ones
        assert "rt-Button" in busy.locator(".attach-retry").get_attribute("class")
        panel = page.locator("#attach-panel").bounding_box()
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= viewport["width"]
        shots(page, f"{lang}-{viewport['width']}-errors")
        assert not any("huge.iso" in u for u in posted)

        page.unroute("**/api/upload?*")
        busy.locator(".attach-retry").click()
        expect(busy).to_have_attribute("data-status", "done")
        full.locator(".attach-remove").click()
        item.locator(".attach-remove").click()
        expect(page.locator("#attach-panel .attach-item")).to_have_count(1)
        expect(page.locator("#attach-send")).to_be_enabled()
        shots(page, f"{lang}-{viewport['width']}-retried")
        page.click("#attach-send")
        expect(page.locator("#attach-panel")).to_have_count(0)
        expect(page.locator(".file-name", has_text="busy.txt")).to_be_visible()
    finally:
        ctx.close()


def test_a_reload_keeps_uploaded_files_and_says_which_were_lost(browser, app_server, peer, shots, tmp_path):
    """The list lives in the tab's state, the File objects only in the page: after a reload an
    uploaded file can still be sent, one that was still going up is reported lost (no Retry)."""
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=app_server.url)
    try:
        page = ctx.new_page()
        register(page, unique("reload"))
        open_people(page)
        page.fill("#people-search", peer)
        page.locator(".person-entry", has_text=peer).click()
        expect(page.locator("#room-title")).to_have_text(peer)
        page.set_input_files("#attach-input", str(_note(tmp_path, "kept.txt")))
        expect(page.locator(".attach-item", has_text="kept.txt")).to_have_attribute("data-status", "done")
        page.route("**/api/upload?name=stuck*", lambda route: None)  # never answered
        page.set_input_files("#attach-input", str(_note(tmp_path, "stuck.txt")))
        expect(page.locator(".attach-item", has_text="stuck.txt")).to_have_attribute("data-status", "uploading")

        page.reload()
        stuck = page.locator(".attach-item", has_text="stuck.txt")
        expect(stuck.locator(".attach-error")).to_contain_text("Upload failed")
        expect(stuck.locator(".attach-retry")).to_have_count(0)
        expect(page.locator(".attach-item", has_text="kept.txt")).to_have_attribute("data-status", "done")
        shots(page, "after-reload")
        stuck.locator(".attach-remove").click()
        page.fill("#attach-caption", "after a reload")
        page.keyboard.press("Enter")  # Enter in the caption sends the files, not the composer
        expect(page.locator("#attach-panel")).to_have_count(0)
        bubble = page.locator(".message", has=page.locator(".file-name", has_text="kept.txt"))
        expect(bubble).to_contain_text("after a reload")
        expect(page.locator("#composer")).to_have_value("")
    finally:
        ctx.close()


def _note(tmp_path, name: str):
    path = tmp_path / name
    path.write_text("notes")
    return path
