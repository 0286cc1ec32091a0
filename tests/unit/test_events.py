"""The live-event vocabulary: every event type is applied by exactly one `@on` function, and
survives the pickling it goes through between workers (realtime/router.py)."""

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


@pytest.mark.parametrize("cls", ev.all_event_types(), ids=lambda c: c.__name__)
def test_every_event_has_one_apply_function_on_a_state(cls):
    fn, owner = appliers.handler(cls), appliers.owner(cls)
    assert fn is not None, f"add an @on({cls.__name__}) function to the state that owns its vars"
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


def test_a_second_apply_function_for_one_event_is_refused():
    with pytest.raises(RuntimeError, match="already"):
        @appliers.on(ev.ChatRead)
        def _another(self, event):  # pragma: no cover
            pass


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
