"""A real call (issue 23): two headless Chromium processes with fake cameras and microphones call
each other on loopback through CorpChat's own signalling route (api/signalling.py) and the PeerJS
bridge: the callee's tab rings, the remote <video> gets frames, hang-up ends it on both sides and
the chat records it; across a block the server refuses the call and nothing rings."""

from __future__ import annotations

import contextlib
import json
import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, FLAGS, Shots
from tests.e2e.helpers import open_chat_with as _open_chat_with
from tests.e2e.helpers import register, unique
from tests.e2e.test_workers import two_instances  # noqa: F401  (a fixture: two app instances on one Redis)

MEDIA_FLAGS = [*FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
               "--autoplay-policy=no-user-gesture-required"]


@contextlib.contextmanager
def media_browsers(n: int):
    """`n` browser processes with fake cameras and microphones, as `n` people on `n` machines."""
    with sync_playwright() as pw:
        browsers = [pw.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS) for _ in range(n)]
        yield browsers
        for b in browsers:
            b.close()


@pytest.fixture(scope="module")
def two_browsers():
    with media_browsers(2) as browsers:
        yield browsers


def _pages(browsers, urls: list[str]) -> list:
    """Anna on a laptop in English, Boris on a phone in Ukrainian (the screenshots show both)."""
    pages = []
    for b, url, viewport, locale in zip(browsers, urls, ({"width": 900, "height": 700},
                                                         {"width": 390, "height": 844}), ("en-US", "uk-UA"),
                                        strict=True):
        ctx = b.new_context(viewport=viewport, locale=locale, base_url=url, permissions=["camera", "microphone"])
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        pages.append(page)
    return pages


@pytest.fixture
def pair(two_browsers, app_server):
    pages = _pages(two_browsers, [app_server.url] * 2)
    yield pages
    for p in pages:
        p.context.close()


@pytest.fixture
def pair_on_two_instances(two_browsers, two_instances):  # noqa: F811  (the imported fixture)
    """Anna's browser talks to one app instance, Boris's to another (Redis between them)."""
    pages = _pages(two_browsers, [app.url for app in two_instances])
    yield pages
    for p in pages:
        p.context.close()


def _frames_flow(page, timeout_ms: int = 20_000) -> float:
    """Wait until the remote video has a picture and its time moves; return how long that took (s)."""
    start = time.monotonic()
    page.wait_for_function("() => { const v = document.getElementById('call-remote-video');"
                           " return v && v.videoWidth > 0 && v.currentTime > 0; }", timeout=timeout_ms)
    t0 = page.evaluate("document.getElementById('call-remote-video').currentTime")
    page.wait_for_function(f"() => document.getElementById('call-remote-video').currentTime > {t0} + 0.5",
                           timeout=timeout_ms)
    return time.monotonic() - start


def _acquainted(pair) -> tuple[str, str]:
    """Anna and Boris, Anna's chat with Boris open and a message in it (Boris's list names her)."""
    anna_page, boris_page = pair
    anna, boris = unique("anna"), unique("boris")
    register(anna_page, anna)
    register(boris_page, boris)
    _open_chat_with(anna_page, boris)
    anna_page.fill("#composer", "shall we talk?")
    anna_page.press("#composer", "Enter")
    expect(boris_page.locator("#sidebar")).to_contain_text(anna)
    return anna, boris


def test_a_video_call_through_our_signalling(pair, request):
    _call(pair, Shots(request.node.name))


def test_a_call_between_users_on_different_instances(pair_on_two_instances, request):
    """Signalling for a peer on another worker rides the realtime router through Redis."""
    _call(pair_on_two_instances, Shots(request.node.name), toggles=False)


def _call(pair, shots: Shots, toggles: bool = True) -> None:
    anna_page, boris_page = pair
    anna, boris = _acquainted(pair)

    signals: list[str] = []  # what both browsers send over our signalling socket

    def follow(ws) -> None:
        if "/api/peer/peerjs" in ws.url:
            ws.on("framesent", lambda payload: signals.append(payload if isinstance(payload, str) else ""))

    anna_page.on("websocket", follow)
    boris_page.on("websocket", follow)
    clicked = time.monotonic()
    anna_page.click("#call-video")
    expect(anna_page.locator("#call-status")).to_have_text("Calling…")
    expect(boris_page.locator("#call-ringing")).to_be_visible()
    expect(boris_page.locator("#call-with")).to_have_text(anna)
    shots(anna_page, "anna-calling")
    shots(boris_page, "boris-ringing")

    boris_page.click("#call-accept")
    for page in (anna_page, boris_page):
        _frames_flow(page)
    setup = time.monotonic() - clicked
    kinds = [json.loads(m)["type"] for m in signals if m]
    print(f"\ncall set-up, click -> remote frames advancing on both sides (incl. the answer click): {setup:.2f} s;"
          f" {len(kinds)} signalling messages: {sorted(set(kinds))}")
    expect(anna_page.locator("#call-stage")).to_be_visible()
    assert anna_page.evaluate("document.getElementById('call-local-video').videoWidth") > 0
    expect(anna_page.locator("#call-timer")).to_have_text(re.compile(r"^0:0[0-9]$"))
    shots(anna_page, "anna-in-call")
    shots(boris_page, "boris-in-call")
    if toggles:
        _toggle_camera_and_mic(anna_page, boris_page, anna, shots)
        # Boris reloads his page: it keeps the call and dials Anna again; pictures move both ways.
        boris_page.reload()
        expect(boris_page.locator("#call-stage")).to_be_visible()
        for page in (anna_page, boris_page):
            _frames_flow(page)
        expect(anna_page.locator("#call-timer")).to_have_text(re.compile(r"^0:\d\d$"))
        _full_screen(anna_page, boris_page)

    boris_page.click("#call-hang-up")
    for page in (anna_page, boris_page):
        expect(page.locator("#call-screen")).to_have_count(0)
    if toggles:  # the call ended in full screen: the page is back in its window
        anna_page.wait_for_function("() => document.fullscreenElement === null")
    expect(anna_page.locator(".message").last).to_contain_text(f"{anna} called · 0:")
    shots(anna_page, "anna-after")


def _toggle_camera_and_mic(anna_page, boris_page, anna: str, shots: Shots) -> None:
    anna_page.click("#call-camera")  # my camera off: my own picture goes, the button says so
    expect(anna_page.locator("#call-local-video")).to_be_hidden()
    expect(anna_page.locator("#call-camera")).to_have_attribute("aria-label", "Turn camera on")
    assert anna_page.evaluate("document.getElementById('call-local-video').srcObject"
                              ".getVideoTracks().every(t => !t.enabled)")
    # Boris sees her avatar instead of a black picture, then her picture again
    expect(boris_page.locator("#call-remote-video")).to_be_hidden()
    expect(boris_page.locator("#call-with")).to_have_text(anna)
    shots(boris_page, "boris-sees-camera-off")
    anna_page.click("#call-mic")
    expect(boris_page.locator("#call-remote-muted")).to_be_visible()
    anna_page.click("#call-camera")
    expect(boris_page.locator("#call-remote-video")).to_be_visible()
    _frames_flow(boris_page)
    # Screen sharing: the screen replaces her camera on Boris's side (a fake 1280x720 screen for a
    # fake 640x480 camera), and back
    width = "document.getElementById('call-remote-video').videoWidth"
    camera_width = boris_page.evaluate(width)
    anna_page.click("#call-screen-share")
    expect(anna_page.locator("#call-screen-share")).to_have_attribute("aria-label", "Stop sharing")
    boris_page.wait_for_function(f"() => {width} !== {camera_width} && {width} > 0")
    shots(boris_page, "boris-sees-the-screen")
    anna_page.click("#call-screen-share")
    expect(anna_page.locator("#call-screen-share")).to_have_attribute("aria-label", "Share screen")
    boris_page.wait_for_function(f"() => {width} === {camera_width}")


FULL = "() => (document.fullscreenElement || {}).id === 'call-screen'"


def _full_screen(anna_page, boris_page) -> None:
    """The browser's own full screen for the call screen, and back; left in it for the hang-up."""
    expect(boris_page.locator("#call-full")).to_have_attribute("aria-label", "На весь екран")
    anna_page.click("#call-full")
    anna_page.wait_for_function(FULL)
    expect(anna_page.locator("#call-full")).to_have_attribute("aria-label", "Exit full screen")
    anna_page.click("#call-full")
    anna_page.wait_for_function("() => document.fullscreenElement === null")
    expect(anna_page.locator("#call-full")).to_have_attribute("aria-label", "Full screen")
    anna_page.click("#call-full")
    anna_page.wait_for_function(FULL)


def test_a_call_across_a_block_is_refused(pair, request):
    shots = Shots(request.node.name)
    anna_page, boris_page = pair
    anna, boris = _acquainted(pair)
    _open_chat_with(boris_page, anna)
    boris_page.click("#room-menu")
    boris_page.click("#menu-block")
    expect(boris_page.locator("#block-banner")).to_be_visible()

    anna_page.click("#call-video")
    expect(anna_page.locator("[data-sonner-toast]")).to_contain_text("You cannot call this user.")
    boris_page.wait_for_timeout(1000)
    expect(boris_page.locator("#call-screen")).to_have_count(0)
    expect(anna_page.locator("#call-screen")).to_have_count(0)
    shots(anna_page, "anna-refused")


def test_a_page_gone_mid_call_ends_it_for_the_other(pair, request):
    """Anna's page goes (closed, or a network that does not come back) in a voice call: her closed
    connection alone ends nothing (a reload would dial again), the server does once her page is gone
    for good, and Boris, on a phone in Ukrainian, gets the call's line in the chat."""
    shots = Shots(request.node.name)
    anna_page, boris_page = pair
    anna, _ = _acquainted(pair)
    anna_page.click("#call-voice")
    boris_page.click("#call-accept")
    for page in (anna_page, boris_page):
        expect(page.locator("#call-timer")).to_be_visible()
    anna_page.close()
    expect(boris_page.locator("#call-screen")).to_have_count(0, timeout=30_000)
    boris_page.locator(".chat-entry", has_text=anna).click()
    expect(boris_page.locator(".message").last).to_contain_text(re.compile(rf"{anna} \S+ · 0:"))
    shots(boris_page, "boris-after-uk")
