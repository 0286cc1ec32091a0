"""The open chat's window as the page assembles it from settled + live (broadcast) + pending,
checked over the real Socket.IO protocol (tests/wsclient.py) against the shared app.

What a user must see: every message once, in order, also after more messages than the
live ring holds (the tab folds), and edits, reactions and deletions of live messages.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy import text as sql

from corpchat.db import engine
from corpchat.realtime.ring import COVER, FOLD_LAG
from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.state.chat import LIVE_WINDOW, TRIM_SLACK, ChatState
from tests import wsclient as w
from tests.e2e.helpers import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="session")


def shown(client: w.ReflexClient) -> list[dict]:
    """The bubbles on the page, in page order (the same rules as components/messages.py)."""
    v = client.vars_of(ChatState)
    live = []
    if v.get("live_room") == v.get("room_id") and not v.get("has_newer"):
        hidden = set(v.get("hidden_ids") or [])
        for k in v.get("live_order") or []:
            live += [m for m in v.get(f"live{k}") or []
                     if m["seq"] > (v.get("settled_seq") or 0) and m["id"] not in hidden]
    return list(v.get("messages") or []) + list(v.get("messages_tail") or []) + live + list(v.get("pending") or [])


def texts(client) -> list[str]:
    return [m["text"] for m in shown(client)]


H = lambda name: w.handler_name(ChatState, name)  # noqa: E731


def newest_in_order(expected: list[str]):
    """The page shows the newest of `expected`, in order: at least LIVE_WINDOW of them (the
    window keeps that many settled messages, older ones load on scroll, plus the live ones)."""
    def check(client) -> bool:
        seen = texts(client)
        return len(seen) >= LIVE_WINDOW and seen == expected[-len(seen):]
    return check


@pytest.fixture
async def pair(app_server):
    suffix = secrets.token_hex(3)
    anna = await w.register(app_server.url, f"lwa{suffix}", PASSWORD)
    ben = await w.register(app_server.url, f"lwb{suffix}", PASSWORD)
    room = rooms.open_private(anna.user_id, ben.user_id)
    msg_service.send_sync(anna.user_id, room, "hi", secrets.token_hex(8))  # Ben sees the chat from now on
    clients = []
    for session in (anna, ben):
        c = w.ReflexClient(app_server.url, session)
        await c.connect("/")
        await c.call(H("open_room"), room_id=room)
        clients.append(c)
    yield clients[0], clients[1], room
    for c in clients:
        await c.close()


async def send(client, text: str) -> None:
    frames = await client.call(H("send_message"), form_data={"text": text, "client_id": secrets.token_hex(8)})
    errors = w.ReflexClient.error_toasts(frames)
    assert not errors, errors


async def test_more_messages_than_the_ring_holds_all_shown_once_in_order(pair):
    anna, ben, _ = pair
    n = COVER + 40  # the ring is reused: Anna's tab must fold in between
    for i in range(n):
        await send(ben, f"live {i}")
    expected = ["hi"] + [f"live {i}" for i in range(n)]
    await anna.wait_for(newest_in_order(expected), timeout=30)
    await ben.wait_for(newest_in_order(expected), timeout=30)
    seqs = [m["seq"] for m in shown(anna)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # A reload (the full state again, then on_load) shows the same window.
    again = w.ReflexClient(anna.base_url, anna.session)
    await again.connect("/")
    await again.call(H("open_room"), room_id=pair[2])
    assert texts(again)[-50:] == expected[-50:]
    await again.close()


def window_frames(client, since: int) -> list[dict]:
    """ChatState deltas after frame `since` that re-sent the tab's own settled window."""
    path = w.state_path(ChatState)
    return [f.delta[path] for f in client.frames[since:] if path in f.delta
            and ({"messages", "messages_tail"} & set(f.delta[path]))]


async def test_a_busy_room_is_shown_from_the_ring_alone_and_scrolls_back(pair):
    anna, ben, _ = pair
    # Past the point where the settled window is cut back, whatever this tab's fold lag
    # (FOLD_LAG .. 1.5 FOLD_LAG: it rides by message 286 at the latest).
    n = LIVE_WINDOW + TRIM_SLACK + 2 * FOLD_LAG
    for i in range(n):
        await send(ben, f"busy {i}")
    expected = ["hi"] + [f"busy {i}" for i in range(n)]
    await anna.wait_for(newest_in_order(expected), timeout=30)
    await anna.wait_for(lambda c: not c.get(ChatState, "messages") and not c.get(ChatState, "messages_tail"))
    # Riding: more messages reach the tab through the broadcast only, never a window of its own.
    mark = len(anna.frames)
    for i in range(n, n + FOLD_LAG + 10):
        await send(ben, f"busy {i}")
    expected += [f"busy {i}" for i in range(n, n + FOLD_LAG + 10)]
    await anna.wait_for(newest_in_order(expected), timeout=30)
    assert window_frames(anna, mark) == []
    # Scrolling back: the shown messages become the settled window, the page before joins them.
    before = len(texts(anna))
    await anna.call(H("load_older"))
    seqs = [m["seq"] for m in shown(anna)]
    assert len(seqs) > before and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert texts(anna) == expected[-len(seqs):]


async def test_a_message_deleted_for_me_stays_hidden_when_the_room_is_opened_again(pair):
    anna, ben, room = pair
    for text in ("one", "two"):
        await send(ben, text)
    await anna.wait_for(lambda c: texts(c) == ["hi", "one", "two"])
    await anna.call(H("delete_for_me"), message_id=shown(anna)[-1]["id"])
    await anna.call(H("open_room"), room_id=room)
    assert texts(anna) == ["hi", "one"]
    assert texts(ben) == ["hi", "one", "two"]


async def test_a_slow_send_shows_sending_then_the_stored_message_once(pair):
    anna, _, room = pair
    with engine().connect() as conn:  # another transaction holds the room's row: the send waits
        conn.execute(sql("SELECT 1 FROM rooms WHERE id = :r FOR UPDATE"), {"r": room})
        call = asyncio.ensure_future(send(anna, "slow one"))
        await anna.wait_for(lambda c: [m.get("status") for m in shown(c) if m["text"] == "slow one"] == ["sending"])
        conn.commit()
    await call
    await anna.wait_for(lambda c: texts(c) == ["hi", "slow one"] and not c.get(ChatState, "pending"))
    assert shown(anna)[-1]["seq"] == 2


async def test_edit_react_and_delete_live_messages(pair):
    anna, ben, _ = pair
    for text in ("first", "second", "third"):
        await send(ben, text)
    await anna.wait_for(lambda c: texts(c) == ["hi", "first", "second", "third"])
    _, first, second, third = shown(anna)

    await ben.call(H("start_edit"), message_id=second["id"])
    await ben.call(H("save_edit"), form_data={"text": "second, edited"})
    await anna.wait_for(lambda c: texts(c) == ["hi", "first", "second, edited", "third"])
    assert shown(anna)[2]["edited"]

    await anna.call(H("react"), message_id=first["id"], emoji="👍")
    await ben.wait_for(lambda c: shown(c)[1]["reactions"]
                       and shown(c)[1]["reactions"][0]["user_ids"] == [anna.session.user_id])

    await anna.call(H("delete_for_me"), message_id=third["id"])
    assert texts(anna) == ["hi", "first", "second, edited"]
    assert texts(ben) == ["hi", "first", "second, edited", "third"]  # only for Anna

    await ben.call(H("ask_delete_for_all"), message_id=first["id"])
    await ben.call(H("confirm_delete"))
    await anna.wait_for(lambda c: texts(c) == ["hi", "second, edited"])
    await ben.wait_for(lambda c: texts(c) == ["hi", "second, edited", "third"])


async def test_arrow_up_edits_my_last_live_message(pair):
    anna, ben, _ = pair
    await send(anna, "mine, live")
    await send(ben, "his")
    await anna.wait_for(lambda c: texts(c) == ["hi", "mine, live", "his"])
    await anna.call(H("composer_key"), key="ArrowUp", field_empty=True)
    assert anna.get(ChatState, "editing_text") == "mine, live"


def chat_list(client) -> list[int]:
    """The room ids of the chat list in page order (the same rules as components/sidebar.py)."""
    v = client.vars_of(ChatState)
    top = [c["room_id"] for c in v.get("chats_top") or []]
    return top + [c["room_id"] for c in v.get("chats") or [] if c["room_id"] not in set(v.get("top_ids") or [])]


async def test_a_new_message_moves_one_chat_without_resending_the_list(app_server):
    suffix = secrets.token_hex(3)
    anna = await w.register(app_server.url, f"lwc{suffix}", PASSWORD)
    others = [await w.register(app_server.url, f"lwo{i}{suffix}", PASSWORD) for i in range(12)]
    room_of = {}
    for o in others:  # twelve chats, the first one oldest
        room_of[o.login] = rooms.open_private(anna.user_id, o.user_id)
        msg_service.send_sync(o.user_id, room_of[o.login], f"hello from {o.login}", secrets.token_hex(8))
    client = w.ReflexClient(app_server.url, anna)
    await client.connect("/")
    try:
        before = chat_list(client)
        assert before == [room_of[o.login] for o in reversed(others)]
        for o in (others[0], others[5], others[0]):
            mark = len(client.frames)
            sender = w.ReflexClient(app_server.url, o)
            await sender.connect("/")
            await sender.call(H("open_room"), room_id=room_of[o.login])
            await send(sender, f"news from {o.login}")
            await sender.close()
            await client.wait_for(lambda c, r=room_of[o.login]: chat_list(c)[0] == r)
            moved = [f for f in client.frames[mark:] if w.state_path(ChatState) in f.delta
                     and "chats_top" in f.delta[w.state_path(ChatState)]]
            assert moved and not any("chats" in f.delta[w.state_path(ChatState)] for f in moved)
        after = chat_list(client)
        assert after[:2] == [room_of[others[0].login], room_of[others[5].login]]
        assert sorted(after) == sorted(before)  # every chat once
        top = client.get(ChatState, "chats_top")
        assert top[0]["preview"].endswith(f"news from {others[0].login}") and top[0]["unread"] == 3  # hello + 2 news
    finally:
        await client.close()
