"""Call control over the real protocol (issue 23): what other features do to a running call. A
block during a call ends it on both sides; a member removed from a group leaves its call; a
second caller finds the callee busy; answering in one tab stops the ringing in the other."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text

from corpchat import db
from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.state.chat import ChatState
from tests import wsclient as w
from tests.e2e.helpers import PASSWORD
from tests.factories import make_group

pytestmark = pytest.mark.asyncio(loop_scope="session")
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731


def _phase(tab: w.ReflexClient) -> str:
    return tab.get(ChatState, "call_phase") or ""


def _call_state(user_id: int) -> str | None:
    with db.session() as s:
        return s.exec(text("SELECT c.state FROM calls c JOIN call_members m ON m.call_id = c.id "
                           "WHERE m.user_id = :u ORDER BY c.id DESC LIMIT 1"), params={"u": user_id}).scalar()


async def _people(url: str, *names: str) -> list[w.Session]:
    sfx = secrets.token_hex(3)
    return [await w.register(url, f"{n}{sfx}", PASSWORD) for n in names]


async def _tab(url: str, session: w.Session, tabs: list) -> w.ReflexClient:
    tab = await w.ReflexClient(url, session).connect("/")
    tabs.append(tab)
    return tab


async def _in_call(url, caller, callee, room, tabs, *, callee_tabs: int = 1):
    mine = await _tab(url, caller, tabs)
    theirs = [await _tab(url, callee, tabs) for _ in range(callee_tabs)]
    frames = await mine.call(H("start_call"), room_id=room, kind="video")
    assert not w.ReflexClient.error_toasts(frames), w.ReflexClient.error_toasts(frames)
    for t in theirs:
        await t.wait_for(lambda c: _phase(c) == "ringing", 10, what="the callee's tab rings")
    await theirs[0].call(H("accept_call"))
    await mine.wait_for(lambda c: _phase(c) == "connecting", 10, what="the caller hears the answer")
    return mine, theirs


async def test_a_block_during_a_call_ends_it_for_both(app_server):
    tabs: list[w.ReflexClient] = []
    anna, boris = await _people(app_server.url, "anna", "boris")
    room = rooms.open_private(anna.user_id, boris.user_id)
    msg_service.send_sync(anna.user_id, room, "hi", secrets.token_hex(8))
    try:
        mine, (theirs, other_tab) = await _in_call(app_server.url, anna, boris, room, tabs, callee_tabs=2)
        await other_tab.wait_for(lambda c: _phase(c) == "", 10, what="answered elsewhere: the other tab stops")
        assert theirs.get(ChatState, "call_peer_id") and not other_tab.get(ChatState, "call_peer_id")
        await theirs.call(H("block_user"), user_id=anna.user_id)
        for t in (mine, theirs):
            await t.wait_for(lambda c: _phase(c) == "", 10, what="the block ends the call")
        assert _call_state(anna.user_id) == "ended"
        frames = await mine.call(H("start_call"), room_id=room, kind="voice")
        assert any("You cannot call this user." in t for t in w.ReflexClient.error_toasts(frames))
    finally:
        for t in tabs:
            await t.close()


async def test_busy_and_a_removed_member_leaves_the_group_call(app_server):
    tabs: list[w.ReflexClient] = []
    olga, petr, ivan, zoya = await _people(app_server.url, "olga", "petr", "ivan", "zoya")
    group = make_group(olga.user_id, petr.user_id, ivan.user_id, name="Crew")
    msg_service.send_sync(olga.user_id, group, "hi all", secrets.token_hex(8))
    try:
        mine, (theirs,) = await _in_call(app_server.url, olga, petr, group, tabs)
        ivan_tab = await _tab(app_server.url, ivan, tabs)
        await ivan_tab.wait_for(lambda c: _phase(c) == "ringing", 10, what="Ivan's tab rings (a late tab too)")
        await ivan_tab.call(H("accept_call"))
        # Zoya calls Petr, who is in the group call: busy, and nothing rings
        room = rooms.open_private(zoya.user_id, petr.user_id)
        zoya_tab = await _tab(app_server.url, zoya, tabs)
        frames = await zoya_tab.call(H("start_call"), room_id=room, kind="video")
        assert any("Busy: already in another call." in t for t in w.ReflexClient.error_toasts(frames))
        assert _phase(zoya_tab) == ""
        # Olga removes Ivan from the group: his tab leaves the call, the two others stay in it
        await mine.call(H("remove_member"), room_id=group, user_id=ivan.user_id)
        await ivan_tab.wait_for(lambda c: _phase(c) == "", 10, what="the removed member leaves the call")
        with db.session() as s:
            state = s.exec(text("SELECT m.state FROM call_members m JOIN calls c ON c.id = m.call_id "
                                "WHERE c.room_id = :r AND m.user_id = :u"), params={"r": group, "u": ivan.user_id})
            assert state.scalar() == "left"
        assert _call_state(olga.user_id) == "active" and _phase(theirs) != ""
    finally:
        for t in tabs:
            await t.close()
