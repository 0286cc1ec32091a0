"""Files, images, voice and round video messages between two users in Chromium (fake camera and
microphone): they arrive live in the other user's tab and play there."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from tests import media_samples
from tests.e2e.conftest import CHROMIUM, FLAGS
from tests.e2e.helpers import open_people, register, unique

MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
               "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS + MEDIA_FLAGS)
        yield b
        b.close()


def _pair(new_page, base_url, viewport=None, boris_locale="en-US"):
    anna_login, boris_login = unique("anna"), unique("boris")
    anna = new_page(viewport)
    register(anna, anna_login)
    ctx = anna.context.browser.new_context(viewport=viewport or {"width": 1100, "height": 760}, locale=boris_locale,
                                           base_url=base_url)
    boris = new_page(context=ctx)
    register(boris, boris_login)
    anna.context.grant_permissions(["microphone", "camera"])
    open_people(anna)
    anna.fill("#people-search", boris_login)
    expect(anna.locator(".person-entry")).to_have_count(1)
    anna.locator(".person-entry", has_text=boris_login).click()
    expect(anna.locator("#room-title")).to_have_text(boris_login)
    return anna, boris, anna_login, boris_login, ctx


def _open(boris, anna_login):
    boris.locator(".chat-entry", has_text=anna_login).click()
    expect(boris.locator("#room-title")).to_have_text(anna_login)


def _wait_true(page, js: str, arg=None, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(js, arg):
            return
        time.sleep(0.2)
    raise AssertionError(f"never true: {js}")


def test_file_with_caption_and_inline_image(new_page, app_server, shots, tmp_path):
    anna, boris, anna_login, _, ctx = _pair(new_page, app_server.url)
    try:
        pdf = tmp_path / "Quarterly report.pdf"
        pdf.write_bytes(b"%PDF-1.7\n" + b"x" * 200_000)
        anna.set_input_files("#attach-input", str(pdf))
        panel = anna.locator("#attach-panel")
        expect(panel.locator(".attach-name")).to_have_text("Quarterly report.pdf")
        expect(panel).to_contain_text("195 KB")
        expect(panel.locator(".attach-item")).to_have_attribute("data-status", "done")
        anna.fill("#attach-caption", "Numbers for Q3")
        shots(anna, "anna-preview-panel")
        anna.click("#attach-send")
        expect(panel).to_have_count(0)

        entry = boris.locator(".chat-entry", has_text=anna_login)
        expect(entry.locator(".chat-preview")).to_contain_text("📎 Quarterly report.pdf")
        _open(boris, anna_login)
        bubble = boris.locator(".message", has=boris.locator(".file-name", has_text="Quarterly report.pdf"))
        expect(bubble).to_contain_text("Numbers for Q3")
        expect(bubble.locator(".file-size")).to_have_text("195 KB")
        link = bubble.locator(".file-download")
        expect(link).to_have_attribute("href", re.compile(r"^/api/media/[\w-]+\?u=\d+&e=\d+&s=[\w-]+&dl=1$"))
        href = link.get_attribute("href")
        got = boris.request.get(href)
        assert got.status == 200 and got.body().startswith(b"%PDF")
        assert "attachment" in got.headers["content-disposition"]

        # An image, pasted into the composer: a bounded thumbnail that opens full size.
        png = media_samples.image("PNG", (1200, 800))
        anna.evaluate("""(bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], "photo.png", { type: "image/png" }));
            document.getElementById("composer").dispatchEvent(
                new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
        }""", list(png))
        expect(anna.locator("#attach-panel .attach-item")).to_have_attribute("data-status", "done")
        anna.click("#attach-send")
        image = boris.locator(".file-image img")
        expect(image).to_be_visible()
        _wait_true(boris, "() => { const i = document.querySelector('.file-image img'); "
                          "return i && i.complete && i.naturalWidth > 0 }")
        box = image.bounding_box()
        assert box["width"] <= 281 and box["height"] <= 361
        assert "/thumb?" in image.get_attribute("src")
        assert boris.locator(".file-image").get_attribute("href").startswith("/api/media/")
        shots(boris, "boris-file-and-image")

        # Dropped onto the chat: two files at once, one message each; "drop here" while dragging.
        anna.evaluate("""() => {
            const dt = new DataTransfer();
            dt.items.add(new File(["a,b\\n1,2\\n"], "table.csv", { type: "text/csv" }));
            dt.items.add(new File(["PK\\x03\\x04zip"], "archive.zip", { type: "application/zip" }));
            window.dropped = dt;
            const target = document.getElementById("room-pane");
            target.dispatchEvent(new DragEvent("dragenter", { dataTransfer: dt, bubbles: true, cancelable: true }));
            target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }""")
        expect(anna.locator(".drop-overlay")).to_be_visible()
        shots(anna, "anna-drop-overlay")
        anna.evaluate("""() => document.getElementById("room-pane").dispatchEvent(
            new DragEvent("drop", { dataTransfer: window.dropped, bubbles: true, cancelable: true }))""")
        expect(anna.locator(".drop-overlay")).to_be_hidden()
        expect(anna.locator("#attach-panel .attach-item[data-status=done]")).to_have_count(2)
        anna.click("#attach-send")
        expect(boris.locator(".file-name", has_text="table.csv")).to_be_visible()
        expect(boris.locator(".file-name", has_text="archive.zip")).to_be_visible()

        # 📎 opens the browser's file chooser (it labels the drop zone's input), again after a cancel.
        for _ in range(2):
            with anna.expect_file_chooser() as chooser:
                anna.click("#attach-button")
            chooser.value.set_files(str(pdf))
            expect(anna.locator("#attach-panel .attach-item[data-status=done]")).to_have_count(1)
            anna.click("#attach-cancel")
            expect(anna.locator("#attach-panel")).to_have_count(0)

        # Caption edited by its sender; deleting the message ends access to the file.
        mine = anna.locator(".message", has=anna.locator(".file-name", has_text="Quarterly report.pdf"))
        mine.hover()
        mine.locator(".msg-menu").click()
        anna.locator(".do-edit").click()
        anna.fill("#edit-box", "Numbers for Q3 (final)")
        anna.click("#edit-save")
        expect(bubble).to_contain_text("Numbers for Q3 (final)")
        mine.hover()
        mine.locator(".msg-menu").click()
        anna.locator(".do-delete-all").click()
        anna.click("#confirm-ok")
        expect(bubble).to_have_count(0)
        assert boris.request.get(href).status == 403
    finally:
        ctx.close()


def _check_review_plays(page) -> None:
    """The review shows what was recorded (18#2: it was the live element, black, holding the
    stopped camera): it has a picture and its time advances when played."""
    _wait_true(page, "() => { const v = document.getElementById('circle-review'); "
                     "return v && v.readyState >= 2 && v.videoWidth > 0 && !v.srcObject }")
    page.evaluate("() => { const v = document.getElementById('circle-review'); v.muted = true; v.play(); }")
    _wait_true(page, "() => document.getElementById('circle-review').currentTime > 0.3")


def test_round_video_review_plays_on_a_phone(new_page, app_server, shots):
    anna, _, _, _, ctx = _pair(new_page, app_server.url, viewport={"width": 390, "height": 844})
    try:
        anna.click("#circle-button")
        expect(anna.locator("#circle-live")).to_be_visible()
        time.sleep(1.5)
        anna.click("#circle-stop")
        _check_review_plays(anna)
        box = anna.locator("#circle-review").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        shots(anna, "phone-circle-review")
        anna.click("#circle-discard")
        expect(anna.locator("#circle-dialog")).to_have_count(0)
    finally:
        ctx.close()


def test_voice_and_round_video_messages(new_page, app_server, shots):
    anna, boris, anna_login, _, ctx = _pair(new_page, app_server.url, boris_locale="uk-UA")
    try:
        anna.click("#voice-button")
        expect(anna.locator("#voice-bar")).to_be_visible()
        time.sleep(2.2)
        expect(anna.locator("#voice-elapsed")).to_have_text(re.compile(r"0:0[2-3]"))
        shots(anna, "anna-recording-voice")
        anna.click("#voice-send")
        expect(anna.locator("#voice-bar")).to_have_count(0)

        entry = boris.locator(".chat-entry", has_text=anna_login)
        expect(entry.locator(".chat-preview")).to_contain_text("🎤 Голосове повідомлення")
        _open(boris, anna_login)
        player = boris.locator(".voice-player")
        expect(player).to_contain_text(re.compile(r"0:0[2-3]"))  # measured on the server
        # The browser's own player: its length comes from the header the server wrote (21#4).
        _wait_true(boris, "() => { const a = document.querySelector('.voice-audio'); "
                          "return a && a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 1.5 }")
        assert boris.locator(".voice-audio").get_attribute("controls") is not None
        boris.locator(".voice-audio").evaluate("a => a.play()")
        _wait_true(boris, "() => { const a = document.querySelector('.voice-audio'); return a.currentTime > 0.3 }")

        anna.click("#circle-button")
        expect(anna.locator("#circle-live")).to_be_visible()
        time.sleep(2.0)
        shots(anna, "anna-recording-circle")
        anna.click("#circle-stop")
        review = anna.locator("#circle-review")
        expect(review).to_be_visible()
        _check_review_plays(anna)
        shots(anna, "anna-circle-review")
        anna.click("#circle-send")
        expect(anna.locator("#circle-dialog")).to_have_count(0)

        expect(entry.locator(".chat-preview")).to_contain_text("⏺ Відеоповідомлення")
        circle = boris.locator(".circle-video")
        expect(circle).to_be_visible()
        assert "/thumb?" in (circle.get_attribute("poster") or "")
        _wait_true(boris, "() => { const v = document.querySelector('.circle-video'); "
                          "return v && v.readyState >= 1 && v.videoWidth > 0 }")
        circle.click()
        _wait_true(boris, "() => { const v = document.querySelector('.circle-video'); "
                          "return v.duration > 0 && v.currentTime > 0.3 }")
        circle.evaluate("v => { v.loop = true; }")  # not paused by its end before the second tap
        circle.click()  # a second tap pauses it
        _wait_true(boris, "() => document.querySelector('.circle-video').paused")
        radius = boris.evaluate("() => getComputedStyle(document.querySelector('.circle-video')).borderRadius")
        assert radius == "50%"
        shots(boris, "boris-voice-and-circle-uk")
    finally:
        ctx.close()


def test_upload_progress_cancel_and_retry_on_a_phone(new_page, app_server, shots, tmp_path):
    anna, boris, anna_login, _, ctx = _pair(new_page, app_server.url, viewport={"width": 390, "height": 844},
                                            boris_locale="ru-RU")
    try:
        cdp = anna.context.new_cdp_session(anna)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": 3 * 1024 * 1024})
        big = tmp_path / "big.bin"
        big.write_bytes(b"\x00" * (12 * 1024 * 1024))
        anna.set_input_files("#attach-input", str(big))
        seen = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            value = anna.locator(".attach-progress").get_attribute("data-progress") if \
                anna.locator(".attach-progress").count() else None
            if value is not None:
                seen.add(round(float(value), 2))
            if anna.locator(".attach-item[data-status=done]").count():
                break
            time.sleep(0.15)
        middle = [p for p in seen if 0.05 < p < 0.95]
        assert len(middle) >= 3, seen  # the bar moved through the upload
        shots(anna, "phone-upload-done")
        anna.click("#attach-cancel")  # an uploaded file is dropped again
        expect(anna.locator("#attach-panel")).to_have_count(0)

        # Cancel in the middle of an upload.
        anna.set_input_files("#attach-input", str(big))
        _wait_true(anna, "() => { const p = document.querySelector('.attach-progress'); "
                         "return p && Number(p.dataset.progress) > 0.05 }")
        shots(anna, "phone-uploading")
        anna.click(".attach-remove")
        expect(anna.locator("#attach-panel")).to_have_count(0)
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": -1})

        # A failed upload says why and is retried.
        anna.route("**/api/upload?*", lambda route: route.abort())
        small = tmp_path / "notes.txt"
        small.write_text("meeting notes")
        anna.set_input_files("#attach-input", str(small))
        expect(anna.locator(".attach-error")).to_contain_text("Network error.")
        shots(anna, "phone-upload-failed")
        anna.unroute("**/api/upload?*")
        anna.click(".attach-retry")
        expect(anna.locator(".attach-item")).to_have_attribute("data-status", "done")
        anna.click("#attach-send")
        expect(boris.locator(".chat-entry", has_text=anna_login).locator(".chat-preview")).to_contain_text(
            "📎 notes.txt")
        _open(boris, anna_login)
        expect(boris.locator(".file-name", has_text="notes.txt")).to_be_visible()
        shots(boris, "phone-boris-ru")
    finally:
        ctx.close()
