"""The live-event seam over the real protocol: eviction from a room's broadcast, and the acting
tab and the other tabs applying one event alike."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from corpchat.realtime.ring import CHUNKS, chunk_var
from corpchat.services import messages as msg_service
from corpchat.services import rooms
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
