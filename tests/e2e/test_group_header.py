"""A group's header counts its members and how many of them are online (issue 22 #8), over the
real protocol; the count is taken when the group is opened."""

from __future__ import annotations

import asyncio

import pytest

from corpchat.state.chat import ChatState
from tests import wsclient as w
from tests.security.test_group_roles import H, team  # noqa: F401  (the fixture)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_header_counts_members_and_those_online(team):  # noqa: F811
    tabs, ids, room = team
    await tabs["mem"].call(H("open_room"), room_id=room)
    assert tabs["mem"].get(ChatState, "room_members_label") == "5 members, 5 online"
    await tabs["gon"].close()
    await tabs["adb"].close()
    for _ in range(40):  # a closed tab counts until the server has seen its socket go
        await tabs["mem"].call(H("open_room"), room_id=room)
        if tabs["mem"].get(ChatState, "room_members_label") == "5 members, 3 online":
            break
        await asyncio.sleep(0.5)
    assert tabs["mem"].get(ChatState, "room_members_label") == "5 members, 3 online"
    await tabs["out"].call(H("open_room"), room_id=room)
    assert tabs["out"].get(ChatState, "room_members_label") in ("", None)
    assert w.ReflexClient.changed_vars(tabs["out"].frames, ChatState).get(ChatState.get_full_name(), {}).get(
        "room_online") in (None, 0)
