"""A group call in three headless Chromium processes (issue 23, item 5): a mesh through CorpChat's own
signalling. Anna starts a video call from the group's header; Boris answers the ring; Vera, on a
phone in Ukrainian, declines it and joins from the banner. Each sees the two others' pictures
move; Vera's camera off shows her avatar to the others; Anna's screen reaches both; Vera leaving
takes her tile away and she comes back from the banner; the owner removing Boris from the group
drops him out; the last one alone ends the call."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Shots
from tests.e2e.helpers import pick_person, register, unique
from tests.e2e.test_calls_browser import media_browsers

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def three_browsers():
    with media_browsers(3) as browsers:
        yield browsers


@pytest.fixture
def trio(three_browsers, app_server, request):
    """Anna and Boris on laptops, Vera on a phone, in the languages the test names with
    `@pytest.mark.parametrize("trio", [locales], indirect=True)`: English, English, Ukrainian if not."""
    locales = getattr(request, "param", ("en-US", "en-US", "uk-UA"))
    pages = []
    for b, viewport, locale in zip(three_browsers, ({"width": 1000, "height": 700}, {"width": 900, "height": 700},
                                                    PHONE), locales, strict=True):
        ctx = b.new_context(viewport=viewport, locale=locale, base_url=app_server.url,
                            permissions=["camera", "microphone"])
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        pages.append(page)
    yield pages
    for p in pages:
        p.context.close()


def _remote_tiles(page):
    return page.locator("#call-grid .call-tile[data-peer]")


def _pictures_move(page, count: int) -> None:
    """`count` remote tiles, each <video> with a picture whose time advances."""
    expect(_remote_tiles(page)).to_have_count(count)
    ready = ("() => { const vs = [...document.querySelectorAll('#call-grid .call-tile[data-peer] video')];"
             f" return vs.length === {count} && vs.every(v => v.videoWidth > 0 && v.currentTime > 0); }}")
    page.wait_for_function(ready, timeout=30_000)
    times = page.evaluate("[...document.querySelectorAll('#call-grid .call-tile[data-peer] video')]"
                          ".map(v => v.currentTime)")
    page.wait_for_function(
        "(t0) => [...document.querySelectorAll('#call-grid .call-tile[data-peer] video')]"
        ".every((v, i) => v.currentTime > t0[i] + 0.5)", arg=times, timeout=30_000)


def _sound_flows(page, count: int) -> None:
    """`count` remote tiles, all showing avatars (a voice call has no pictures), each playing a live
    microphone track whose time advances."""
    expect(_remote_tiles(page)).to_have_count(count)
    expect(page.locator("#call-grid .call-tile[data-peer][data-picture='off'] .tile-avatar")).to_have_count(count)
    media = "[...document.querySelectorAll('#call-grid .call-tile[data-peer] video')]"
    page.wait_for_function(
        f"() => {{ const vs = {media}; return vs.length === {count} && vs.every(v => v.srcObject"
        " && v.srcObject.getAudioTracks().some(t => t.readyState === 'live')"
        " && v.srcObject.getVideoTracks().length === 0 && v.currentTime > 0); }", timeout=30_000)
    times = page.evaluate(f"{media}.map(v => v.currentTime)")
    page.wait_for_function(f"(t0) => {media}.every((v, i) => v.currentTime > t0[i] + 0.5)", arg=times,
                           timeout=30_000)


def _group_of_three(trio, name: str) -> tuple[str, str, str]:
    """The three register; Anna makes the group `name` with the two others; all three open it."""
    logins = unique("ca"), unique("cb"), unique("cv")
    for page, login in zip(trio, logins, strict=True):
        register(page, login)
    anna = trio[0]
    anna.click("#new-group")
    anna.fill("#new-group-name", name)
    pick_person(anna, logins[1])
    pick_person(anna, logins[2])
    anna.click("#new-group-create")
    expect(anna.locator("#room-title")).to_have_text(name)
    for page in trio[1:]:
        page.locator(".chat-entry", has_text=name).click()
        expect(page.locator("#room-title")).to_have_text(name)
    return logins


def _tile(page, name: str):
    return _remote_tiles(page).filter(has_text=name)


@pytest.mark.timeout(300)
def test_a_group_video_call_of_three(trio, request):
    shots = Shots(request.node.name)
    anna, boris, vera = trio
    a, b, v = _group_of_three(trio, "Standup")

    # Anna calls the group; Boris answers the ring, Vera declines it and sees the banner instead.
    anna.click("#call-video")
    expect(anna.locator("#call-status")).to_have_text("Calling…")
    for page in (boris, vera):
        expect(page.locator("#call-ringing")).to_be_visible()
        expect(page.locator("#call-with")).to_have_text("Standup")
        expect(page.locator("#call-caller")).to_have_text(a)
    shots(vera, "vera-ringing-uk")
    boris.click("#call-accept")
    vera.click("#call-decline")
    expect(vera.locator("#room-call-banner")).to_contain_text("Триває відеодзвінок · 2 учасники")
    shots(vera, "vera-banner-uk")
    _pictures_move(anna, 1)
    _pictures_move(boris, 1)
    expect(anna.locator("#call-timer")).to_have_text(re.compile(r"^0:\d\d$"))

    vera.click("#room-call-join")
    for page in trio:
        _pictures_move(page, 2)
    expect(_tile(anna, v)).to_be_visible()
    expect(_tile(vera, a)).to_be_visible()
    shots(vera, "vera-in-call-phone-uk")
    shots(anna, "anna-in-call")

    # Vera's camera off: the others see her avatar in her tile; on again: her picture.
    vera.click("#call-camera")
    for page in (anna, boris):
        expect(_tile(page, v)).to_have_attribute("data-picture", "off")
        expect(_tile(page, v).locator(".tile-avatar")).to_be_visible()
        expect(_tile(page, v).locator("video")).to_be_hidden()
    shots(anna, "anna-sees-vera-camera-off")
    vera.click("#call-mic")
    expect(_tile(boris, v).locator(".tile-muted")).to_be_visible()
    shots(vera, "vera-camera-and-mic-off-uk")
    vera.click("#call-camera")
    expect(_tile(anna, v)).to_have_attribute("data-picture", "on")

    # Anna shares her screen: it replaces her camera on both connections (the fake screen's size
    # is not the fake camera's), and back.
    width = ("(name) => [...document.querySelectorAll('#call-grid .call-tile[data-peer]')]"
             ".find(t => t.textContent.includes(name)).querySelector('video').videoWidth")
    camera = [page.evaluate(f"({width})('{a}')") for page in (boris, vera)]
    anna.click("#call-screen-share")
    expect(anna.locator("#call-screen-share")).to_have_attribute("aria-label", "Stop sharing")
    for page, w in zip((boris, vera), camera, strict=True):
        page.wait_for_function(f"() => {{ const w = ({width})('{a}'); return w > 0 && w !== {w}; }}")
    shots(vera, "vera-sees-anna-screen-uk")
    anna.click("#call-screen-share")
    expect(anna.locator("#call-screen-share")).to_have_attribute("aria-label", "Share screen")
    for page, w in zip((boris, vera), camera, strict=True):
        page.wait_for_function(f"() => ({width})('{a}') === {w}")

    # Vera hangs up: her tile goes for the others, the call goes on; she comes back from the banner.
    vera.click("#call-hang-up")
    expect(vera.locator("#call-screen")).to_have_count(0)
    for page in (anna, boris):
        expect(_remote_tiles(page)).to_have_count(1)
        expect(_tile(page, v)).to_have_count(0)
    expect(vera.locator("#room-call-banner")).to_contain_text("2 учасники")
    vera.click("#room-call-join")
    for page in trio:
        _pictures_move(page, 2)

    # The owner removes Boris from the group (from her other tab): he drops out of the call.
    admin = anna.context.new_page()
    admin.goto("/")
    admin.locator(".chat-entry", has_text="Standup").click()
    admin.click("#room-menu")
    admin.click("#menu-group")
    panel = admin.locator("#group-page")
    panel.locator(".member", has_text=b).locator(".member-menu").click()
    admin.locator(".remove-member").click()
    admin.click("#confirm-ok")
    expect(boris.locator("#call-screen")).to_have_count(0)
    expect(boris.locator(".chat-entry", has_text="Standup")).to_have_count(0)
    for page in (anna, vera):
        expect(_remote_tiles(page)).to_have_count(1)
        expect(_tile(page, b)).to_have_count(0)
    shots(vera, "vera-after-boris-removed-uk")
    admin.close()

    # Vera leaves: Anna alone, the call ends for her too, and the chat records it.
    vera.click("#call-hang-up")
    expect(anna.locator("#call-screen")).to_have_count(0)
    expect(vera.locator("#room-call-banner")).to_have_count(0)
    expect(anna.locator(".message").last).to_contain_text(f"{a} called · 0:")
    shots(anna, "anna-after")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("trio", [("en-US", "ru-RU", "en-US")], indirect=True, ids=["boris-ru"])
def test_a_group_voice_call_and_a_reload(trio, request):
    """A voice-only call: no pictures anywhere, every microphone heard. Boris (Russian) reloads his
    page in the middle and is back in the call with both."""
    shots = Shots(request.node.name)
    anna, boris, vera = trio
    a, b, v = _group_of_three(trio, "Sync")

    anna.click("#call-voice")
    expect(boris.locator("#call-ringing")).to_be_visible()
    boris.click("#call-accept")
    expect(vera.locator("#call-ringing")).to_be_visible()
    vera.click("#call-decline")
    expect(vera.locator("#room-call-banner")).to_contain_text("Voice call in progress · 2 participants")
    vera.click("#room-call-join")
    for page in trio:
        _sound_flows(page, 2)
    expect(anna.locator("#call-camera")).to_have_count(0)  # nothing to turn on in a voice call
    expect(anna.locator("#call-grid .call-tile.mine .tile-voice")).to_be_visible()  # not "camera off"
    shots(boris, "boris-voice-call-ru")

    # Boris reloads: the page keeps its call; he dials both again and they answer.
    boris.reload()
    expect(boris.locator("#call-screen")).to_be_visible()
    for page in trio:
        _sound_flows(page, 2)
    shots(boris, "boris-after-reload-ru")

    for page in (anna, vera):
        page.click("#call-hang-up")
    expect(boris.locator("#call-screen")).to_have_count(0)
    expect(boris.locator(".message").last).to_contain_text(re.compile(rf"{a} звонил\S* · 0:"))
