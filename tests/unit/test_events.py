"""The live-event vocabulary: every event type a tab applies has its `@on` functions, none
client-callable, and every event survives the pickling it goes through between workers
(realtime/router.py)."""

from __future__ import annotations

import pickle

import pytest

import corpchat.corpchat  # noqa: F401  (loads every state, so every @on function is registered)
from corpchat.realtime import appliers
from corpchat.services import events as ev
from corpchat.services.events import Event, Push

SAMPLE = {"id": 7, "room_id": 3, "seq": 9, "text": "hi", "reactions": []}


def sample(cls: type[Event]) -> Event:
    kwargs = {"room_id": 3}
    fields = cls.__dataclass_fields__
    if "message" in fields:
        kwargs["message"] = SAMPLE
    if "messages" in fields:
        kwargs["messages"] = (SAMPLE,)
    for name in ("message_id", "seq"):
        if name in fields:
            kwargs[name] = 9
    return cls(**kwargs)


NOT_APPLIED = {ev.RoomLeft}  # realtime's own: consumed by the hub, never reaches a state


@pytest.mark.parametrize("cls", sorted(set(ev.all_event_types()) - NOT_APPLIED, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)
def test_every_event_is_applied_by_functions_on_states(cls):
    fns = appliers.handlers(cls)
    assert fns, f"add an @on({cls.__name__}) function to the state that owns its vars"
    for fn in fns:
        owner = appliers.owner(fn)
        assert owner is not None and fn.__name__.startswith("_"), "apply functions must not be client-callable"
        assert fn.__name__ not in owner.event_handlers


@pytest.mark.parametrize("cls", ev.all_event_types(), ids=lambda c: c.__name__)
def test_every_event_survives_the_trip_between_workers(cls):
    push = Push((1, 2), sample(cls))
    batch = [(1, "tab", [push.event])]
    assert pickle.loads(pickle.dumps(batch)) == batch
    assert pickle.loads(pickle.dumps(push)) == push


def test_ring_events_carry_what_the_ring_needs():
    for cls in ev.all_event_types():
        fields = cls.__dataclass_fields__
        if cls.ring == "upsert":
            assert "message" in fields, cls
        elif cls.ring == "remove":
            assert {"message_id", "seq"} <= set(fields), cls
        else:
            assert cls.ring == "", cls


def test_several_functions_apply_one_event_in_their_order():
    """A feature reacts to another's event (a call ends when a block starts) with its own @on;
    a tab runs the functions by `order`, then in the order they were registered."""
    before = list(appliers._ON[ev.BlockChanged])

    @appliers.on(ev.BlockChanged, order=10)
    def _late(self, event):  # pragma: no cover
        pass

    @appliers.on(ev.BlockChanged, order=-10)
    def _early(self, event):  # pragma: no cover
        pass

    @appliers.on(ev.BlockChanged, order=10)
    def _later(self, event):  # pragma: no cover
        pass

    try:
        names = [fn.__name__ for fn in appliers.handlers(ev.BlockChanged)]
        assert names == ["_early", *[e[2].__name__ for e in before], "_late", "_later"]
    finally:
        appliers._ON[ev.BlockChanged] = before


def test_pushes_reads_none_one_or_several():
    a, b = Push((1,), ev.ChatRead(3, 4)), Push((2,), ev.ChatHidden(3), evict=(2,))
    assert ev.pushes(None) == [] and ev.pushes(a) == [a] and ev.pushes([a, None, b]) == [a, b]


def test_a_tab_applies_only_the_latest_profile_avatar_and_presence_of_each_user():
    """19#4: a name flipped 320 times was 320 state changes per contact tab; queued, one."""
    from corpchat.realtime.mailbox import collapse
    from corpchat.services.events import AvatarChanged, BlockChanged, PresenceChanged, ProfileChanged

    queued = [ProfileChanged(user_id=1, display_name=f"n{i}") for i in range(50)]
    queued += [AvatarChanged(user_id=1, avatar_id="a"), ProfileChanged(user_id=2, display_name="x"),
               BlockChanged(blocker=3, blocked=4, active=True), PresenceChanged(user_id=1, online=True),
               PresenceChanged(user_id=1, online=False), AvatarChanged(user_id=1, avatar_id="b")]
    assert collapse(queued) == [
        ProfileChanged(user_id=1, display_name="n49"), ProfileChanged(user_id=2, display_name="x"),
        BlockChanged(blocker=3, blocked=4, active=True), PresenceChanged(user_id=1, online=False),
        AvatarChanged(user_id=1, avatar_id="b")]
