"""Presence and blocking over the raw WebSocket (issue 13): what reaches the other user's tab,
and, after a block, what never does, read on the frames themselves."""

from __future__ import annotations

import asyncio
import io
import secrets

import pytest
import pytest_asyncio
from PIL import Image

from corpchat.services import avatars, birthdate, blocks, profiles, rooms
from corpchat.services import messages as msg_service
from corpchat.state.chat import ChatState
from corpchat.state.profile import ProfileState
from tests import support
from tests import wsclient as w
from tests.factories import make_group

pytestmark = pytest.mark.asyncio(loop_scope="session")

GRACE = 1.5
SETTLE = GRACE + 6  # grace, a sweep round, the lazy mailbox delay, a loaded machine
PASSWORD = "correct horse 12"
BIO = f"BIO-{secrets.token_hex(6)}"
AGE = birthdate.format_age("en", birthdate.age(birthdate.BirthDate(12, 3, 1990)))  # "36 years"
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731


@pytest.fixture(scope="module")
def people_app():
    app = support.AppProcess(env={"TAB_GRACE_SECONDS": str(GRACE)}, log_name="people").start()
    yield app
    app.stop()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


@pytest_asyncio.fixture(loop_scope="session")
async def pair(people_app):
    """Anna and Boris in one private chat; Boris has an avatar, a bio and a birth date."""
    suffix = secrets.token_hex(3)
    anna = await w.register(people_app.url, f"anna{suffix}", PASSWORD)
    boris = await w.register(people_app.url, f"boris{suffix}", PASSWORD)
    room = rooms.open_private(anna.user_id, boris.user_id)
    msg_service.send_sync(boris.user_id, room, "hello", secrets.token_hex(8))
    profiles.update_profile(boris.user_id, real_name="Boris B", bio=BIO, gender="male", birth="12.03.1990")
    avatar_id = avatars.upload_avatar(boris.user_id, _png()).current_id
    tabs: list[w.ReflexClient] = []

    async def open_tab(session):
        tab = await w.ReflexClient(people_app.url, session).connect("/")
        tabs.append(tab)
        return tab

    yield anna, boris, room, avatar_id, open_tab
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)


def presence_of(tab: w.ReflexClient, user_id: int) -> str | None:
    return (tab.get(ChatState, "presence") or {}).get(str(user_id))


async def test_presence_goes_online_and_then_last_seen(pair):
    anna, boris, room, _, open_tab = pair
    a = await open_tab(anna)
    assert presence_of(a, boris.user_id) is None  # status lines only for the open chat and the card
    await a.call(H("open_room"), room_id=room)
    assert a.get(ChatState, "room_other_id") == boris.user_id
    before = presence_of(a, boris.user_id)
    assert before == "offline" or before.startswith("last seen")
    b = await open_tab(boris)
    await a.wait_for(lambda c: presence_of(c, boris.user_id) == "online", timeout=SETTLE, what="Boris online")
    assert boris.user_id in a.get(ChatState, "online_ids")
    await b.close()
    await a.wait_for(lambda c: (presence_of(c, boris.user_id) or "").startswith("last seen at"),
                     timeout=SETTLE, what="Boris last seen")
    assert boris.user_id not in a.get(ChatState, "online_ids")


async def test_after_a_block_no_frame_carries_what_it_hides(pair):
    anna, boris, room, avatar_id, open_tab = pair
    a = await open_tab(anna)
    b = await open_tab(boris)
    await a.call(H("open_room"), room_id=room)
    await a.wait_for(lambda c: presence_of(c, boris.user_id) == "online", timeout=SETTLE)
    await a.call(H("open_profile"), user_id=boris.user_id)
    card = a.get(ChatState, "card")
    assert card["bio"] == BIO and avatar_id in card["avatar"] and card["age"]
    assert avatar_id in a.get(ChatState, "avatars")[str(boris.user_id)]  # the control: seen before

    mark = len(a.frames)
    await b.call(H("open_room"), room_id=room)
    await b.call(H("block_user"), user_id=anna.user_id)
    assert b.get(ChatState, "my_blocks") == [anna.user_id]
    await a.wait_for(lambda c: boris.user_id in (c.get(ChatState, "blocked_ids") or []), what="the block")
    card = a.get(ChatState, "card")
    assert card["hidden"] and card["bio"] == "" and card["avatar"] == "" and card["status"] == ""
    assert str(boris.user_id) not in a.get(ChatState, "presence")
    assert str(boris.user_id) not in a.get(ChatState, "avatars")
    # Boris comes and goes; Anna re-opens his card and reloads the page: nothing of his leaks.
    await b.close()
    await asyncio.sleep(GRACE + 2)
    b = await open_tab(boris)
    await a.call(H("open_profile"), user_id=boris.user_id)
    fresh = await open_tab(anna)
    await asyncio.sleep(2)
    await a.sync()
    for tab, since in ((a, mark), (fresh, 0)):
        seen = tab.all_text(tab.frames[since:])
        for secret in (avatar_id, BIO, "12 March", AGE):
            assert secret not in seen, f"{secret!r} reached Anna after the block"
        for frame in tab.frames[since:]:
            for vars_ in frame.delta.values():
                assert str(boris.user_id) not in (vars_.get("presence") or {}), "Boris's presence reached Anna"
    assert boris.user_id not in (fresh.get(ChatState, "online_ids") or [])

    # Anna cannot write to him or start a chat; nothing is stored.
    await a.call(H("card_toggled"), open=False)
    frames = await a.call(H("send_message"), form_data={"text": "are you there", "client_id": secrets.token_hex(8)})
    await a.sync()
    history, _ = msg_service.history(boris.user_id, room)
    assert all(m["text"] != "are you there" for m in history)
    frames = await a.call(H("open_user"), user_id=boris.user_id)
    assert any("cannot write" in t for t in w.ReflexClient.error_toasts(frames))

    # Unblocked: Anna sees his avatar and status again, live.
    await b.call(H("unblock_user"), user_id=anna.user_id)
    await a.wait_for(lambda c: avatar_id in (c.get(ChatState, "avatars") or {}).get(str(boris.user_id), ""),
                     what="the avatar back")
    assert presence_of(a, boris.user_id) == "online"
    assert a.get(ChatState, "blocked_ids") == []


async def test_profile_and_avatar_changes_reach_the_contact_live(pair, people_app):
    anna, boris, room, first_avatar, open_tab = pair
    second = avatars.upload_avatar(boris.user_id, _png()).current_id
    a = await open_tab(anna)
    await a.call(H("open_profile"), user_id=boris.user_id)
    assert second in a.get(ChatState, "avatars")[str(boris.user_id)]
    b = await w.ReflexClient(people_app.url, boris).connect("/profile")
    try:
        gallery = b.get(ProfileState, "gallery")
        assert [g["id"] for g in gallery] == [second, first_avatar] and gallery[0]["current"]
        name = f"Borys {secrets.token_hex(2)}"
        form = {"real_name": name, "bio": "new bio", "gender": "male", "birth": "1.4"}
        await b.call(w.handler_name(ProfileState, "save_profile"), form_data=form)
        assert b.get(ProfileState, "birth") == "01.04" and b.get(ProfileState, "real_name") == name
        await a.wait_for(lambda c: c.get(ChatState, "card")["name"] == name, what="the new name on the card")
        card = a.get(ChatState, "card")
        assert card["bio"] == "new bio" and card["birth"] == "1 April" and card["age"] == ""
        chats = a.get(ChatState, "chats") + a.get(ChatState, "chats_top")
        assert any(c["room_id"] == room and c["title"] == name for c in chats)
        # An older avatar made current again, then initials: Anna's tab follows both.
        await b.call(w.handler_name(ProfileState, "use_avatar"), avatar_id=first_avatar)
        await a.wait_for(lambda c: first_avatar in (c.get(ChatState, "avatars") or {}).get(str(boris.user_id), ""),
                         what="the older avatar")
        assert first_avatar in a.get(ChatState, "card")["avatar"]
        await b.call(w.handler_name(ProfileState, "use_initials"))
        await a.wait_for(lambda c: str(boris.user_id) not in (c.get(ChatState, "avatars") or {}), what="initials")
        # Bad input changes nothing and says why.
        frames = await b.call(w.handler_name(ProfileState, "save_profile"), form_data={**form, "birth": "31.02"})
        assert w.ReflexClient.error_toasts(frames) and b.get(ProfileState, "error") == "There is no such date."
        assert profiles.get_profile(boris.user_id, boris.user_id).birth.month == 4
    finally:
        await b.close()


async def test_group_bubbles_get_avatars_except_across_a_block(pair, people_app):
    anna, boris, _, _, open_tab = pair
    carol = await w.register(people_app.url, f"carol{secrets.token_hex(3)}", PASSWORD)
    carol_avatar = avatars.upload_avatar(carol.user_id, _png()).current_id
    boris_avatar = avatars.upload_avatar(boris.user_id, _png()).current_id
    group = make_group(anna.user_id, boris.user_id, carol.user_id)
    for who in (boris, carol):
        msg_service.send_sync(who.user_id, group, f"hi from {who.login}", secrets.token_hex(8))
    blocks.block(carol.user_id, anna.user_id)
    a = await open_tab(anna)
    await a.call(H("open_room"), room_id=group)
    shown = a.get(ChatState, "avatars")
    assert boris_avatar in shown[str(boris.user_id)]
    assert str(carol.user_id) not in shown and carol_avatar not in a.all_text()
    assert str(carol.user_id) not in a.get(ChatState, "presence")
