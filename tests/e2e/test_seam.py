"""The live-event seam over the real protocol: eviction from a room's broadcast, and the acting
tab and the other tabs applying one event alike."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from corpchat.realtime.ring import CHUNKS, chunk_var
from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.services.errors import NotFound
from corpchat.state.chat import ChatState
from tests import wsclient as w
from tests.e2e.helpers import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="session")

H = lambda name: w.handler_name(ChatState, name)  # noqa: E731
LIVE_VARS = {chunk_var(i) for i in range(CHUNKS)}


def live_texts(client: w.ReflexClient, since: int) -> str:
    """Everything the room broadcast put into this tab after frame `since`."""
    path = w.state_path(ChatState)
    return " ".join(str(v) for f in client.frames[since:] for k, v in f.delta.get(path, {}).items()
                    if k in LIVE_VARS)


@pytest.fixture
async def three_tabs(app_server):
    suffix = secrets.token_hex(3)
    anna = await w.register(app_server.url, f"eva{suffix}", PASSWORD)
    ben = await w.register(app_server.url, f"evb{suffix}", PASSWORD)
    room = rooms.open_private(anna.user_id, ben.user_id)
    msg_service.send_sync(anna.user_id, room, "hi", secrets.token_hex(8))
    tabs = []
    for session in (anna, anna, ben):
        c = w.ReflexClient(app_server.url, session)
        await c.connect("/")
        await c.call(H("open_room"), room_id=room)
        tabs.append(c)
    yield (*tabs, room)
    for c in tabs:
        await c.close()


async def test_evicted_tabs_get_no_frame_of_the_room_after_the_commit(three_tabs):
    """Deleting a chat for me evicts every tab of mine from its broadcast before the handler
    answers: the room's next message never reaches my other tab, even before that tab has
    applied the event itself."""
    mine, my_other, theirs, room = three_tabs
    await theirs.call(H("send_message"), form_data={"text": "before", "client_id": secrets.token_hex(8)})
    await my_other.wait_for(lambda c: "before" in live_texts(c, 0))
    mark = len(my_other.frames)
    await mine.call(H("ask_delete_chat"))
    await mine.call(H("confirm_delete"))
    await theirs.call(H("send_message"), form_data={"text": "after removal", "client_id": secrets.token_hex(8)})
    await my_other.wait_for(lambda c: c.get(ChatState, "room_id") == 0, what="the other tab closes the room")
    await asyncio.sleep(1.0)
    assert "after removal" not in live_texts(my_other, mark)
    assert "after removal" not in live_texts(mine, 0)
    assert "after removal" in live_texts(theirs, 0)
    # The chat comes back with the new message (it was only hidden), through the chat list.
    await my_other.wait_for(lambda c: any(ch["room_id"] == room for ch in c.get(ChatState, "chats") or []))


async def test_the_acting_tab_and_the_others_apply_an_edit_alike(three_tabs):
    mine, my_other, theirs, _ = three_tabs
    await mine.call(H("send_message"), form_data={"text": "draft", "client_id": secrets.token_hex(8)})
    await mine.call(H("composer_key"), key="ArrowUp", field_empty=True)
    assert mine.get(ChatState, "editing_text") == "draft"
    await mine.call(H("save_edit"), form_data={"text": "final"})
    for tab in (mine, my_other, theirs):
        await tab.wait_for(lambda c: "final" in live_texts(c, 0) or any(
            m["text"] == "final" for m in (c.get(ChatState, "messages_tail") or [])), what="the edit")
    assert mine.get(ChatState, "editing_id") == 0


SETTLED_VARS = {"messages", "messages_tail"}


def settled_changes(client: w.ReflexClient, since: int) -> list[str]:
    """Settled-window vars this tab was sent after frame `since` (a fold reads the database)."""
    path = w.state_path(ChatState)
    return [k for f in client.frames[since:] for k in f.delta.get(path, {}) if k in SETTLED_VARS]


async def removal_scenario(owner_url: str, member_url: str) -> None:
    """Issue 20#2: the owner removes C from a group of three. A and B are told (one member
    fewer, the system line) and stay on the room's broadcast: the next messages reach them from
    the shared ring, never by a fold from the database. C's tabs lose the chat, get no frame of
    the room's later messages, and an old tab of C can neither read nor post there.
    `owner_url`: the instance A's and B's tabs use; `member_url`: C's (another worker)."""
    from tests.factories import make_group

    suffix = secrets.token_hex(3)
    a = await w.register(owner_url, f"rma{suffix}", PASSWORD)
    b = await w.register(owner_url, f"rmb{suffix}", PASSWORD)
    c = await w.register(member_url, f"rmc{suffix}", PASSWORD)
    room = make_group(a.user_id, b.user_id, c.user_id, name=f"g{suffix}")
    msg_service.send_sync(a.user_id, room, "welcome", secrets.token_hex(8))
    tabs = []
    for session, url in ((a, owner_url), (b, owner_url), (c, member_url), (c, member_url)):
        tab = w.ReflexClient(url, session)
        await tab.connect("/")
        await tab.call(H("open_room"), room_id=room)
        tabs.append(tab)
    ta, tb, tc, tc2 = tabs
    try:
        assert ta.get(ChatState, "room_members") == 3
        await ta.call(H("send_message"), form_data={"text": "before removal", "client_id": secrets.token_hex(8)})
        for tab in tabs:
            await tab.wait_for(lambda cl: "before removal" in live_texts(cl, 0), what="the message before")
        await ta.call(H("remove_member"), room_id=room, user_id=c.user_id)
        for tab in (ta, tb):
            await tab.wait_for(lambda cl: cl.get(ChatState, "room_members") == 2, what="one member fewer")
            await tab.wait_for(lambda cl: f"removed rmc{suffix}" in live_texts(cl, 0), what="the system line")
        for tab in (tc, tc2):
            await tab.wait_for(lambda cl: cl.get(ChatState, "room_id") == 0, what="C's tabs close the room")
            assert all(ch["room_id"] != room for ch in tab.get(ChatState, "chats") or [])
        marks = [len(tab.frames) for tab in tabs]
        for i in range(3):
            form = {"text": f"after removal {i}", "client_id": secrets.token_hex(8)}
            await ta.call(H("send_message"), form_data=form)
        for tab in (ta, tb):
            await tab.wait_for(lambda cl: "after removal 2" in live_texts(cl, 0), what="later messages on the ring")
        await asyncio.sleep(1.0)
        for tab, mark in zip((ta, tb), marks):
            assert settled_changes(tab, mark) == [], "a member who stays must not fall off the broadcast"
        for tab, mark in zip((tc, tc2), marks[2:]):
            assert "after removal" not in live_texts(tab, mark)
            assert "after removal" not in tab.all_text(tab.frames[mark:])
        # The old tab of C asks for the room again, then writes into it: refused, nothing stored.
        mark = len(tc2.frames)
        await tc2.call(H("open_room"), room_id=room)
        await tc2.call(H("save_draft"), room_id=room, text="sneaking in")
        assert tc2.get(ChatState, "room_id") == 0 and "after removal" not in tc2.all_text(tc2.frames[mark:])
        with pytest.raises(NotFound):
            msg_service.history(c.user_id, room)
        page, _ = msg_service.history(a.user_id, room)
        assert [m["text"] for m in page if m["kind"] == "text"][-1] == "after removal 2"
    finally:
        for tab in tabs:
            await tab.close()


async def test_a_removed_member_is_evicted_and_the_others_stay_on_the_broadcast(app_server):
    await removal_scenario(app_server.url, app_server.url)
