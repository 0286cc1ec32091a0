"""realtime.hub.deliver_soon and the mailbox: what one turn hands over goes out together, in order;
a viewers-only event is queued only for tabs showing its room."""

from __future__ import annotations

import asyncio

from corpchat.realtime import hub, mailbox
from corpchat.services.events import ChatRead, MessageEdited, ReactionChanged


def _read(n: int) -> ChatRead:
    return ChatRead(room_id=1, seq=n)


async def test_one_turn_of_fan_outs_is_delivered_once_merged_and_in_order(monkeypatch):
    calls = []

    async def deliver(user_events, skip_token=None, wait=True, only=()):
        calls.append((skip_token, {uid: [e.seq for e in events] for uid, events in user_events.items()}))

    monkeypatch.setattr(hub, "deliver", deliver)
    hub.deliver_soon({1: [_read(1)], 2: [_read(1)]})
    hub.deliver_soon({2: [_read(2)], 3: [_read(2)]})
    mine = {1: [_read(3)]}
    hub.deliver_soon(mine, skip_token="tab-a")
    hub.deliver_soon({1: [_read(4)]}, skip_token="tab-a")
    hub.deliver_soon({1: [_read(5)]})
    assert calls == []  # nothing before the turn ends
    for _ in range(3):
        await asyncio.sleep(0)
    assert calls == [(None, {1: [1], 2: [1, 2], 3: [2]}), ("tab-a", {1: [3, 4]}), (None, {1: [5]})]
    assert mine == {1: [_read(3)]}  # the caller's lists are not changed by the merge
    hub.deliver_soon({6: [_read(6)]})  # a later turn is a delivery of its own
    for _ in range(3):
        await asyncio.sleep(0)
    assert calls[-1] == (None, {6: [6]}) and len(calls) == 4


async def test_a_reaction_is_queued_only_for_tabs_showing_its_room(monkeypatch):
    monkeypatch.setattr(mailbox, "_mailboxes", {})
    monkeypatch.setattr(mailbox.live, "viewing", lambda token: 7 if token == "shows-7" else 3)
    reaction = ReactionChanged(7, {})
    edit = MessageEdited(7, {})
    mailbox.post(1, "elsewhere", [reaction])
    mailbox.post(1, "elsewhere-too", [reaction, edit])
    mailbox.post(2, "shows-7", [reaction])
    queued = {token: box.events for (_, token), box in mailbox._mailboxes.items()}
    for box in mailbox._mailboxes.values():
        box.task.cancel()  # nothing is applied here (no app): only what was queued matters
    assert queued == {"elsewhere-too": [edit], "shows-7": [reaction]}
