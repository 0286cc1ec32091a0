"""One socket cannot flood a chat (issue 11, finding 3): sends, edits and reactions are limited
per user with a clear, localised refusal; other users are unaffected and nothing refused is stored."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from corpchat import db
from corpchat.models import Message
from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.state.chat import ChatState
from tests import support
from tests import wsclient as w

PASSWORD = "correct horse 12"
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def limited_app():
    app = support.AppProcess(env={"SEND_BURST": "20", "SEND_PER_MINUTE": "60", "EDIT_BURST": "10",
                                  "EDIT_PER_MINUTE": "30", "REACT_BURST": "30", "REACT_PER_MINUTE": "60"},
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
