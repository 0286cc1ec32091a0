"""A group's header counts its members and how many of them are online (issue 22 #8), over the
real protocol; the count is taken when the group is opened."""

from __future__ import annotations

import asyncio

import pytest

from corpchat.state.chat import ChatState
from tests.factories import block
from tests.security.test_group_roles import H, team  # noqa: F401  (the fixture)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_header_counts_members_and_those_online(team):  # noqa: F811
    tabs, ids, room = team
    await tabs["mem"].call(H("open_room"), room_id=room)
    assert tabs["mem"].get(ChatState, "room_members_label") == "5 members"
    assert tabs["mem"].get(ChatState, "room_online_label") == "5 online"
    # the settings page's page of members: online dots (and photos) as this tab may see them,
    # none for someone blocked either way
    block(ids["adb"], ids["mem"])
    await tabs["mem"].call(H("open_panel"))
    online = set(tabs["mem"].get(ChatState, "online_ids") or [])
    assert {ids["own"], ids["adm"], ids["gon"]} <= online and ids["adb"] not in online
    await tabs["mem"].call(H("close_panel"))
    await tabs["gon"].close()
    await tabs["adb"].close()
    for _ in range(40):  # a closed tab counts until the server has seen its socket go
        await tabs["mem"].call(H("open_room"), room_id=room)
        if tabs["mem"].get(ChatState, "room_online_label") == "3 online":
            break
        await asyncio.sleep(0.5)
    assert tabs["mem"].get(ChatState, "room_online_label") == "3 online"
    await tabs["out"].call(H("open_room"), room_id=room)
    assert tabs["out"].get(ChatState, "room_online_label") in ("", None)
    # a member going lowers it at once in the tabs that have the group open
    await tabs["own"].call(H("remove_member"), room_id=room, user_id=ids["adm"])
    await tabs["mem"].wait_for(lambda c: c.get(ChatState, "room_members_label") == "4 members", what="one fewer")
    assert tabs["mem"].get(ChatState, "room_online_label") == "2 online"
