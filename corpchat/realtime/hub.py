"""The one entry into the real-time layer: `push(Push(audience, event))` after a commit.

A service returns its Pushes (services/events.py) once its transaction has
committed; the state layer hands them here one by one, in order. The Push and
its event's class say which roads it takes, the caller never chooses:
1. `Push.evict`: those users' tabs leave the room's broadcast first (live.evict
   here; a RoomLeft routed to the other workers, applied there before their
   mailboxes);
2. `ring`: the room's live ring changes and is broadcast once to every tab of
   this worker showing the room (live.publish / live.unpublish); tabs that lag
   behind the ring are asked to fold (RingFold);
3. the mailbox of every open tab of every user in the audience (or only
   `to_tabs`), where it is applied by the event type's `@on` function
   (mailbox.py, appliers.py). With several workers a tab's events go to the
   worker holding its socket (router.py), which also updates its own rings.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable

from corpchat.config import settings
from corpchat.realtime import lifecycle, live, mailbox, reflex_glue, runtime
from corpchat.realtime import router as _router
from corpchat.services.events import Event, Push, RingFold, RoomLeft, SignedOut

log = logging.getLogger(__name__)

_router_instance: _router.Router | None = None
_background: set[asyncio.Task] = set()


mailbox.on_gone = lifecycle.tab_left


async def push(p: Push, *, from_tab: str | None = None, wait: bool = False) -> None:
    """Deliver a committed change. `from_tab`: the acting tab, which applied the event itself
    (see AuthState._emit) and is skipped; `wait`: return once this worker's tabs applied it."""
    event = p.event
    if p.evict:
        await live.evict(event.room_id, p.evict)
    await _to_rings(event)
    user_events: dict[int, list[Event]] = {uid: [RoomLeft(event.room_id)] for uid in p.evict}
    for uid in p.audience:
        user_events.setdefault(uid, []).append(event)
    if wait:
        await deliver(user_events, from_tab, only=p.to_tabs)
    else:
        deliver_soon(user_events, from_tab, only=p.to_tabs)


async def _to_rings(event: Event) -> None:
    if event.ring == "upsert":
        await republish(event.message)
    elif event.ring == "remove":
        await live.unpublish(event.room_id, event.seq, event.message_id)


async def republish(message: dict) -> None:
    """A committed message into this worker's rings of its room (also one a ring missed, lost
    on its way from another worker); viewers that lag behind the ring are asked to fold."""
    for user_id, token in await live.publish(message):
        mailbox.post(user_id, token, [RingFold(message["room_id"])])


async def connect(user_id: int, token: str) -> None:
    """The chat page is up in this tab (its user's tabs are lifecycle's record, from the guard)."""
    runtime.tune()
    if settings.redis_url:
        _routing()  # this worker now holds a tab: listen for pushes routed to it


def routing():
    """(router, this worker's instance id) when several workers share Redis, else None (for
    api/signalling.py, whose messages ride the same channels)."""
    return _routing()


def _routing():
    """(router, this worker's instance id) when several workers share Redis, else None.

    Also makes sure this worker listens for the pushes other workers route to its tabs.
    """
    global _router_instance
    if not settings.redis_url:
        return None
    if _router_instance is None:
        _router_instance = _router.create(settings.redis_url)
    me = reflex_glue.instance_id()
    _router_instance.ensure_listening(me, _on_routed)
    return _router_instance, me


def _on_routed(batch: list[tuple[int, str, list[Event]]]) -> None:
    """Another worker's events for tabs of this one: evictions first, then this worker's rings
    (the room broadcast of another worker's message reaches this worker's viewers here), then
    the mailboxes."""
    evict: dict[int, set[int]] = {}
    ring_events: dict[tuple, Event] = {}
    for user_id, token, events in batch:
        for e in events:
            if type(e) is RoomLeft:
                evict.setdefault(e.room_id, set()).add(user_id)
            elif e.ring and live.viewing(token) == e.room_id:
                key = (e.message["id"],) if e.ring == "upsert" else ("gone", e.message_id)
                ring_events[key] = e
    if evict or ring_events:
        _spawn(_apply_routed(evict, list(ring_events.values())))
    for user_id, token, events in batch:
        _post_local(user_id, token, events)


async def _apply_routed(evict: dict[int, set[int]], ring_events: list[Event]) -> None:
    for room_id, users in evict.items():
        await live.evict(room_id, users)
    upserts = sorted((e for e in ring_events if e.ring == "upsert"), key=lambda e: e.message["seq"])
    for e in upserts + [e for e in ring_events if e.ring == "remove"]:
        await _to_rings(e)


def _spawn(coro) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def deliver(user_events: dict[int, list[Event]], skip_token: str | None = None,
                  wait: bool = True, only: Iterable[str] = ()) -> None:
    """Queue each user's events for each of that user's tabs (or only the tabs in `only`);
    with `wait`, return once every local tab has applied them."""
    if not user_events:
        return
    loop = asyncio.get_running_loop()
    only = set(only)
    pending = []

    def post(uid: int, token: str, events: list[Event]) -> None:
        done = loop.create_future() if wait else None
        if _post_local(uid, token, events, done) and done is not None:
            pending.append(done)

    tabs = await lifecycle.tabs(user_events.keys())
    routing = _routing()
    remote: dict[str, list[tuple[int, str, list[Event]]]] = {}
    for uid, tokens in tabs.items():
        for token in tokens:
            if token == skip_token or (only and token not in only):
                continue
            if routing is not None:
                owner = await reflex_glue.token_owner(token)
                if owner is not None and owner != routing[1]:
                    remote.setdefault(owner, []).append((uid, token, user_events[uid]))
                    continue
            post(uid, token, user_events[uid])
    for owner, batch in remote.items():
        if not await routing[0].publish(owner, batch):  # nobody listening there: apply here, as before
            for uid, token, events in batch:
                post(uid, token, events)
    if pending:
        await asyncio.gather(*pending)


def _post_local(user_id: int, token: str, events: list[Event], done=None) -> bool:
    """Queue events for a tab of this worker; RoomLeft is realtime's own (the eviction was done
    already, here or in _on_routed), never a tab's. False: nothing left to queue."""
    if any(type(e) is RoomLeft for e in events):
        events = [e for e in events if type(e) is not RoomLeft]
        if not events:
            return False
    mailbox.post(user_id, token, events, done)
    return True


_outboxes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> [(skip, only, user events)]


def deliver_soon(user_events: dict[int, list[Event]], skip_token: str | None = None,
                 only: Iterable[str] = ()) -> None:
    """Fire-and-forget delivery, so the acting tab's own answer is not delayed.

    What is handed over in one turn of the event loop goes out together, in order: the
    messages of one statement (see services.send) then cost each tab one queueing, not one
    per message.
    """
    loop = asyncio.get_running_loop()
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = []
        loop.call_soon(_send_outbox, loop)
    only = tuple(only)
    if outbox and outbox[-1][0] == skip_token and outbox[-1][1] == only:
        merged = outbox[-1][2]
        for uid, events in user_events.items():
            merged.setdefault(uid, []).extend(events)
    else:
        outbox.append((skip_token, only, {uid: list(events) for uid, events in user_events.items()}))


def _send_outbox(loop) -> None:
    outbox = _outboxes.pop(loop, [])
    if outbox:
        _spawn(_deliver_in_order(outbox))


async def _deliver_in_order(outbox) -> None:
    for skip_token, only, user_events in outbox:
        await deliver(user_events, skip_token, wait=False, only=only)


async def sign_out_user(user_id: int) -> None:
    """Every open tab of this user forgets its login (logout, password change), before the
    HTTP answer that caused it goes out."""
    await push(Push((user_id,), SignedOut()), wait=True)
