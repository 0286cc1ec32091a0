"""One socket cannot flood a chat (issue 11, finding 3): sends, edits and reactions are limited
per user with a clear, localised refusal; other users are unaffected and nothing refused is stored."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time

import pytest
from sqlalchemy import func, select

from corpchat import db
from corpchat.models import Message
from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.state.chat import ChatState
from corpchat.state.profile import ProfileState
from tests import support
from tests import wsclient as w

PASSWORD = "correct horse 12"
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def limited_app():
    app = support.AppProcess(env={"SEND_BURST": "20", "SEND_PER_MINUTE": "60", "EDIT_BURST": "10",
                                  "EDIT_PER_MINUTE": "30", "REACT_BURST": "30", "REACT_PER_MINUTE": "60",
                                  "PROFILE_BURST": "10", "PROFILE_PER_MINUTE": "20",
                                  "NEW_TABS_BURST": "50", "NEW_TABS_PER_MINUTE": "60"},
                             log_name="limits").start()
    yield app
    app.stop()


def stored(room: int) -> int:
    with db.session() as s:
        return s.exec(select(func.count()).select_from(Message).where(Message.room_id == room)).scalar_one()


async def send(tab, text: str) -> list[str]:
    frames = await tab.call(H("send_message"), form_data={"text": text, "client_id": secrets.token_hex(8)})
    return w.ReflexClient.error_toasts(frames)


async def test_a_flood_is_cut_at_the_burst_and_others_still_send(limited_app):
    url, suffix = limited_app.url, secrets.token_hex(3)
    mallory = await w.register(url, f"rlm{suffix}", PASSWORD)
    olena = await w.register(url, f"rlo{suffix}", PASSWORD)
    room = rooms.open_private(mallory.user_id, olena.user_id)
    msg_service.send_sync(olena.user_id, room, "hi", secrets.token_hex(8))
    tabs = []
    for session in (mallory, olena):
        tab = w.ReflexClient(url, session)
        await tab.connect("/")
        await tab.call(H("open_room"), room_id=room)
        tabs.append(tab)
    flood, victim = tabs
    try:
        refusals = []
        for i in range(60):
            refusals += await send(flood, f"spam {i}")
        assert stored(room) <= 1 + 20 + 2  # the burst, plus what one second refilled
        assert refusals and all("too fast" in r for r in refusals), refusals[:3]
        assert not await send(victim, "I can still write"), "another user is not limited by the flood"
        # Reactions and edits have their own limits, with the same refusal.
        target = (await victim.wait_for(lambda c: next((m for k in range(8) for m in c.get(ChatState, f"live{k}") or []
                                                        if m["text"] == "I can still write"), None)))
        reacted = []
        for emoji in ["👍", "👎"] * 20:
            reacted += w.ReflexClient.error_toasts(await flood.call(H("react"), message_id=target["id"], emoji=emoji))
        assert reacted and all("too fast" in r for r in reacted)
    finally:
        for tab in tabs:
            await tab.close()


def _live_texts(tab) -> set[str]:
    return {m["text"] for k in range(8) for m in tab.get(ChatState, f"live{k}") or []}


async def _round_trips(sender, receiver, n: int, tag: str) -> list[float]:
    """Seconds from a send until the other side's page holds the message, n times."""
    out = []
    for i in range(n):
        text = f"{tag} {i} {secrets.token_hex(3)}"
        start = time.monotonic()
        assert not await send(sender, text)
        await receiver.wait_for(lambda c, t=text: t in _live_texts(c), timeout=10)
        out.append(time.monotonic() - start)
    return out


async def test_a_name_flipped_in_a_loop_reaches_contacts_a_bounded_number_of_times(limited_app):
    """19#4: 320 name changes in 16 s were 64,000 frames to 200 contacts, and a bystander pair's
    delivery went from 5 to 84 ms p50. Now: the profile rate limit, pushes only for a real change
    and each contact tab applying only the latest queued change of a user."""
    url, suffix = limited_app.url, secrets.token_hex(3)
    mallory = await w.register(url, f"pfm{suffix}", PASSWORD)
    contacts = [await w.register(url, f"pfc{suffix}{i}", PASSWORD) for i in range(20)]
    anna, boris = [await w.register(url, f"pf{n}{suffix}", PASSWORD) for n in "ab"]
    for c in contacts:  # a real conversation each: these are mallory's contacts
        msg_service.send_sync(c.user_id, rooms.open_private(c.user_id, mallory.user_id), "hi", secrets.token_hex(8))
    pair_room = rooms.open_private(anna.user_id, boris.user_id)
    msg_service.send_sync(anna.user_id, pair_room, "hi", secrets.token_hex(8))
    tabs = [w.ReflexClient(url, s, keep_frames=False) for s in contacts]
    sender, receiver = w.ReflexClient(url, anna), w.ReflexClient(url, boris)
    flipper = w.ReflexClient(url, mallory)
    try:
        for tab in tabs:
            await tab.connect("/")
        for tab in (sender, receiver):
            await tab.connect("/")
            await tab.call(H("open_room"), room_id=pair_room)
        await flipper.connect("/profile")
        baseline = await _round_trips(sender, receiver, 9, "before")  # within the send burst (20)
        await asyncio.sleep(1)
        frames_before = sum(t.frame_count for t in tabs)

        async def flip() -> int:
            refused = 0
            for i in range(320):
                frames = await flipper.call(w.handler_name(ProfileState, "save_profile"), form_data={
                    "real_name": f"Mallory {i}", "bio": "", "gender": "unspecified", "birth": ""})
                refused += any("too fast" in t for t in w.ReflexClient.error_toasts(frames))
            return refused

        flipping = asyncio.create_task(flip())
        during = await _round_trips(sender, receiver, 9, "during")
        refused = await flipping
        await asyncio.sleep(1.5)  # the last lazy pushes land
        frames = sum(t.frame_count for t in tabs) - frames_before
        p50_before, p50_during = statistics.median(baseline), statistics.median(during)
        print(f"\n320 name changes: {320 - refused} accepted, {frames} frames to 20 contact tabs "
              f"(before the fix: 6,400); bystander p50 {p50_before * 1000:.1f} ms -> {p50_during * 1000:.1f} ms")
        assert refused >= 300
        assert frames <= 20 * 15  # the burst and what the loop's seconds refilled, at most
        # A ratio with a floor: on 2 shared cores a few ms of noise is not a regression.
        assert p50_during <= max(3 * p50_before, p50_before + 0.05)
    finally:
        for tab in (*tabs, sender, receiver, flipper):
            await tab.close()


async def test_new_tabs_are_counted_per_address(limited_app):
    """19#3: tab tokens cost nothing to mint; one address opening them in a loop is cut off at
    NEW_TABS_BURST, and another address (here behind the trusted proxy) is not."""
    async def open_one(address: str) -> bool:
        tab = w.ReflexClient(limited_app.url, keep_frames=False, headers={"X-Forwarded-For": address})
        try:
            await tab.connect("/login", timeout=10)
            return True
        except Exception:
            return False
        finally:
            await tab.close()

    opened = [await open_one("192.0.2.77") for _ in range(70)]
    print(f"\n70 new tabs from one address: {sum(opened)} opened, the rest refused")
    assert 50 <= sum(opened) <= 55 and not any(opened[60:])
    assert await open_one("192.0.2.78")
