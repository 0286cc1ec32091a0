"""realtime.hub.deliver_soon: what one turn of the event loop hands over goes out together, in order."""

from __future__ import annotations

import asyncio

from corpchat.realtime import hub


async def test_one_turn_of_fan_outs_is_delivered_once_merged_and_in_order(monkeypatch):
    calls = []

    async def deliver(user_events, skip_token=None, wait=True):
        calls.append((skip_token, {uid: [e["n"] for e in events] for uid, events in user_events.items()}))

    monkeypatch.setattr(hub, "deliver", deliver)
    hub.fan_out([1, 2], {"n": 1})
    hub.fan_out([2, 3], {"n": 2})
    mine = {1: [{"n": 3}]}
    hub.deliver_soon(mine, skip_token="tab-a")
    hub.deliver_soon({1: [{"n": 4}]}, skip_token="tab-a")
    hub.fan_out([1], {"n": 5})
    assert calls == []  # nothing before the turn ends
    for _ in range(3):
        await asyncio.sleep(0)
    assert calls == [(None, {1: [1], 2: [1, 2], 3: [2]}), ("tab-a", {1: [3, 4]}), (None, {1: [5]})]
    assert mine == {1: [{"n": 3}]}  # the caller's lists are not changed by the merge
    hub.fan_out([6], {"n": 6})  # a later turn is a delivery of its own
    for _ in range(3):
        await asyncio.sleep(0)
    assert calls[-1] == (None, {6: [6]}) and len(calls) == 4


async def test_a_reaction_is_queued_only_for_tabs_showing_its_room(monkeypatch):
    monkeypatch.setattr(hub, "_mailboxes", {})
    monkeypatch.setattr(hub.live, "viewing", lambda token: 7 if token == "shows-7" else 3)
    reaction = {"type": "message_updated", "room_id": 7, "message": {}, "viewers_only": True}
    edit = {"type": "message_updated", "room_id": 7, "message": {}}
    hub._post(None, 1, "elsewhere", [reaction])
    hub._post(None, 1, "elsewhere-too", [reaction, edit])
    hub._post(None, 2, "shows-7", [reaction])
    queued = {token: box.events for (_, token), box in hub._mailboxes.items()}
    for box in hub._mailboxes.values():
        box.task.cancel()  # nothing is applied here (no app): only what was queued matters
    assert queued == {"elsewhere-too": [edit], "shows-7": [reaction]}
