"""Push committed changes to every open tab of the users concerned.

Services return events only after their transaction committed; the state
layer hands them here. Each tab's state is changed through
`app.modify_state`, which sends the resulting delta over that tab's socket.
The open chat's new and changed messages go out first, as one broadcast per
room (`publish`, see realtime.live); the per-tab changes that follow a new
message are coalesced and spread (VIEWER_DELAY, OTHER_DELAY).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import operator
import sys
import weakref
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import reflex as rx

from corpchat import db
from corpchat.config import settings
from corpchat.realtime import live
from corpchat.realtime import registry as _registry
from corpchat.realtime import router as _router

log = logging.getLogger(__name__)

PUSH_CONCURRENCY = 64
GC_THRESHOLD0 = 20_000
# A new message reaches the open chat at once through the room broadcast (`live`);
# the rest (chat list preview, unread counter, read mark) may wait and be coalesced:
# a busy group then costs each tab one state change per delay, not one per message.
VIEWER_DELAY = 1.0  # the tab shows the message's chat
OTHER_DELAY = 0.1  # the message moves a chat in the tab's list
FOLD_SPREAD = 0.05  # folds of a group's viewers spread over this many seconds
LAZY = frozenset({"message"})

_registry_instance = None
_router_instance: _router.Router | None = None
_target: tuple[type, Callable[[Any, dict], Awaitable[None] | None]] | None = None
_background: set[asyncio.Task] = set()


def registry():
    global _registry_instance
    if _registry_instance is None:
        _registry_instance = _registry.create()
    return _registry_instance


_tuned = False  # see _tune_runtime
# How long a thread may hold the GIL while another waits for it (CPython's default: 5 ms).
SWITCH_INTERVAL = 0.0005


def _tune_runtime() -> None:
    """Once per worker, when the first tab connects (the app is fully loaded by then).

    Garbage collection: a worker holds a large, long-lived heap (Reflex, the compiled app)
    and every push allocates many short-lived objects, so CPython's full collections ran
    about once a second and stopped the event loop for 100-270 ms each while finding nothing
    to free: the p99 of a fan-out. Freezing what exists at that point takes it out of every
    later collection, and a larger first-generation threshold lets the garbage of a push die
    young instead of being promoted.

    The GIL: the event loop gives up the GIL at every socket call, and when a service thread
    (SQLAlchemy, in Python) takes it, the loop waited up to 5 ms to get it back - many times
    per callback. With 3,000 connected users the loop spent ~30 % of its time in callbacks
    stalled 10-100 ms that way; with a 0.5 ms switch interval, 5-10 %.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    # Services run in threads (asyncio.to_thread); the default pool has cpu+4 = 6 of them,
    # so 20 concurrent senders queued for a thread while the database sat idle.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=db.max_connections(), thread_name_prefix="service"))
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD0, 20, 20)
    sys.setswitchinterval(SWITCH_INTERVAL)


def set_target(state_cls: type, apply: Callable[[Any, dict], Awaitable[None] | None]) -> None:
    """The state class that receives events, and how it applies one."""
    global _target
    _target = (state_cls, apply)
    live.configure(state_cls.get_full_name())


_app_instance = None


def _app():
    global _app_instance
    if _app_instance is None:
        from reflex.utils.prerequisites import get_and_validate_app

        _app_instance = get_and_validate_app().app
    return _app_instance


def _routing(app):
    """(router, token manager) when several workers share Redis, else None.

    Also makes sure this worker listens for the pushes other workers route to its tabs.
    """
    global _router_instance
    manager = getattr(app.event_namespace, "_token_manager", None)
    if not settings.redis_url or manager is None or not hasattr(manager, "_get_token_owner"):
        return None
    if _router_instance is None:
        _router_instance = _router.create(settings.redis_url)
    _router_instance.ensure_listening(manager.instance_id, lambda batch: _on_routed(app, batch))
    return _router_instance, manager


def _on_routed(app, batch: list[tuple[int, str, list[dict]]]) -> None:
    # The room broadcast of another worker's message reaches this worker's viewers here.
    changed: dict[int, dict] = {}
    gone: dict[int, dict] = {}
    for _user_id, token, events in batch:
        for e in events:
            if e.get("type") in ("message", "message_updated") and live.viewing(token) == e.get("room_id"):
                changed[e["message"]["id"]] = e["message"]
            elif e.get("type") == "message_deleted" and live.viewing(token) == e.get("room_id"):
                gone[e["id"]] = e
    for user_id, token, events in batch:
        _post(app, user_id, token, events)
    if changed or gone:
        _spawn(_publish_routed(list(changed.values()), list(gone.values())))


async def _publish_routed(changed: list[dict], gone: list[dict]) -> None:
    for message in sorted(changed, key=lambda m: m["seq"]):
        await publish(message)
    for e in gone:
        await live.unpublish(e["room_id"], e["seq"], e["id"])


def _spawn(coro) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def publish(message: dict) -> None:
    """A committed new or changed message: show it in every tab of this worker that has its chat open."""
    lagging = await live.publish(message)
    if lagging:
        app = _app()
        for user_id, token in lagging:
            _post(app, user_id, token, [{"type": "fold", "room_id": message["room_id"]}])


async def unpublish(room_id: int, seq: int, message_id: int) -> None:
    await live.unpublish(room_id, seq, message_id)


async def connect(user_id: int, token: str) -> None:
    _tune_runtime()
    await registry().add(user_id, token)
    if settings.redis_url:
        _routing(_app())  # this worker now holds a tab: listen for pushes routed to it


async def _is_connected(app, token: str) -> bool:
    return await app.event_namespace._token_manager.is_token_connected(token)


class _Mailbox:
    """Events waiting for one tab of one user, applied in arrival order by one drain task at a time.

    Everything that arrived while the tab was busy (its own event, or the
    previous batch) is applied in ONE modify_state: one state lock, one delta,
    one frame, however many messages piled up. Consecutive new messages are
    applied in (room, seq) order, so concurrent senders' deliveries that
    overtook each other on the way do not look like a gap to the tab.
    """

    __slots__ = ("user_id", "events", "waiters", "task", "due", "wake")

    def __init__(self, user_id: int):
        self.user_id = user_id
        self.events: list[dict] = []
        self.waiters: list[asyncio.Future] = []
        self.task: asyncio.Task | None = None
        self.due = 0.0  # loop time at which the queued events are applied
        self.wake = asyncio.Event()


_mailboxes: dict[tuple[int, str], _Mailbox] = {}  # (user, tab token)
_semaphore: asyncio.Semaphore | None = None


def _sem() -> asyncio.Semaphore:
    global _semaphore
    if _semaphore is None:
        _semaphore = asyncio.Semaphore(PUSH_CONCURRENCY)
    return _semaphore


def _collapse(events: list[dict]) -> list[dict]:
    """Merge each run of consecutive "message" events into one per room, in seq order.

    A tab that was busy (or waited on purpose, see VIEWER_DELAY) then moves its chat
    list once per room however many messages piled up, and concurrent senders'
    deliveries that overtook each other on the way are put back in order.
    """
    out: list[dict] = []
    run: dict[int, list[dict]] = {}
    for event in events:
        if event.get("type") == "message" and isinstance(event.get("message"), dict):
            run.setdefault(event.get("room_id"), []).append(event["message"])
            continue
        out.extend(_merged(run))
        run = {}
        out.append(event)
    out.extend(_merged(run))
    return out


_seq = operator.itemgetter("seq")


def _merged(run: dict[int, list[dict]]) -> list[dict]:
    return [{"type": "messages", "room_id": room_id, "messages": sorted(ms, key=_seq)}
            for room_id, ms in run.items()]


async def _apply(app, user_id: int, token: str, events: list[dict]) -> None:
    state_cls, apply = _target
    try:
        if not await _is_connected(app, token):
            await registry().remove(user_id, token)
            await live.leave(token)
            return
        stale = False
        async with app.modify_state(rx.BaseStateToken(ident=token, cls=state_cls)) as root:
            state = await root.get_state(state_cls)
            stale = state._user_id != user_id  # logged out, maybe in as someone else
            if not stale:
                for event in events:
                    try:
                        result = apply(state, event)
                        if asyncio.iscoroutine(result):
                            await result
                    except Exception:  # one bad event must not drop the rest of the batch
                        log.exception("applying %s to tab %s failed", event.get("type"), token)
        if stale:
            await registry().remove(user_id, token)
    except Exception:  # one broken tab must not stop the others
        log.exception("push to tab %s failed", token)


async def _drain(app, token: str, box: _Mailbox) -> None:
    loop = asyncio.get_running_loop()
    try:
        while box.events:
            wait = box.due - loop.time()
            if wait > 0:
                box.wake.clear()
                try:
                    await asyncio.wait_for(box.wake.wait(), wait)
                except TimeoutError:
                    pass
                continue
            async with _sem():
                events, box.events = box.events, []
                waiters, box.waiters = box.waiters, []
                try:
                    await _apply(app, box.user_id, token, _collapse(events))
                finally:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
    finally:
        box.task = None
        if box.events:  # cancelled with events left: hand them to a new drain
            box.task = asyncio.get_running_loop().create_task(_drain(app, token, box))
        elif _mailboxes.get((box.user_id, token)) is box:
            del _mailboxes[(box.user_id, token)]


def _delay(token: str, events: list[dict]) -> float:
    spread = live.spread(token)
    kinds = {e.get("type") for e in events}
    if kinds == {"fold"}:
        return FOLD_SPREAD * spread
    if kinds - LAZY:
        return 0.0
    viewing = live.viewing(token)
    delay = VIEWER_DELAY if all(e.get("room_id") == viewing for e in events) else OTHER_DELAY
    return delay * (1 + spread)


def _post(app, user_id: int, token: str, events: list[dict], done: asyncio.Future | None = None) -> None:
    """Queue events for a tab; `done` (if any) resolves once they have been applied.

    An event marked `viewers_only` (a reaction) is dropped for a tab that does not show its
    room: applying it would change nothing there, at the cost of a state change (50 of them
    per reaction in a 50-member group)."""
    if any(e.get("viewers_only") for e in events):
        viewing = live.viewing(token)
        events = [e for e in events if not e.get("viewers_only") or e.get("room_id") == viewing]
        if not events:
            if done is not None:
                done.set_result(None)
            return
    box = _mailboxes.get((user_id, token))
    if box is None:
        box = _mailboxes[(user_id, token)] = _Mailbox(user_id)
    loop = asyncio.get_running_loop()
    due = loop.time() + _delay(token, events)
    if not box.events or due < box.due:
        box.due = due
        box.wake.set()
    box.events.extend(events)
    if done is not None:
        box.waiters.append(done)
    if box.task is None:
        box.task = loop.create_task(_drain(app, token, box))


async def deliver(user_events: dict[int, list[dict]], skip_token: str | None = None,
                  wait: bool = True) -> None:
    """Apply each user's events to each of that user's tabs (bounded concurrency, in order per tab);
    with `wait`, return once every local tab has applied them."""
    if _target is None or not user_events:
        return
    app = _app()
    loop = asyncio.get_running_loop()

    def post(uid: int, token: str, events: list[dict]) -> None:
        done = loop.create_future() if wait else None
        _post(app, uid, token, events, done)
        if done is not None:
            pending.append(done)

    tabs = await registry().tabs(user_events.keys())
    routing = _routing(app)
    pending = []
    remote: dict[str, list[tuple[int, str, list[dict]]]] = {}
    for uid, tokens in tabs.items():
        for token in tokens:
            if token == skip_token:
                continue
            if routing is not None:
                owner = await routing[1]._get_token_owner(token)
                if owner is not None and owner != routing[1].instance_id:
                    remote.setdefault(owner, []).append((uid, token, user_events[uid]))
                    continue
            post(uid, token, user_events[uid])
    for owner, batch in remote.items():
        if not await routing[0].publish(owner, batch):  # nobody listening there: apply here, as before
            for uid, token, events in batch:
                post(uid, token, events)
    if pending:
        await asyncio.gather(*pending)


_outboxes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> [(skip token, user events)]


def deliver_soon(user_events: dict[int, list[dict]], skip_token: str | None = None) -> None:
    """Fire-and-forget delivery, so the sender's own acknowledgement is not delayed.

    What is handed over in one turn of the event loop goes out together, in order: the
    messages of one statement (see services.messages.send_async) then cost each tab one
    queueing, not one per message.
    """
    loop = asyncio.get_running_loop()
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = []
        loop.call_soon(_send_outbox, loop)
    if outbox and outbox[-1][0] == skip_token:
        merged = outbox[-1][1]
        for uid, events in user_events.items():
            merged.setdefault(uid, []).extend(events)
    else:
        outbox.append((skip_token, {uid: list(events) for uid, events in user_events.items()}))


def _send_outbox(loop) -> None:
    outbox = _outboxes.pop(loop, [])
    if outbox:
        _spawn(_deliver_in_order(outbox))


async def _deliver_in_order(outbox: list[tuple[str | None, dict[int, list[dict]]]]) -> None:
    for skip_token, user_events in outbox:
        await deliver(user_events, skip_token, wait=False)


def fan_out(user_ids: Iterable[int], event: dict, skip_token: str | None = None) -> None:
    deliver_soon({uid: [event] for uid in user_ids}, skip_token)


async def sign_out_user(user_id: int) -> None:
    """Every open tab of this user forgets its login (logout, password change)."""
    await deliver({user_id: [{"type": "signed_out"}]})
