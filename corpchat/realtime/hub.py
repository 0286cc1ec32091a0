"""Push committed changes to every open tab of the users concerned.

Services return events only after their transaction committed; the state
layer hands them here. Each tab's state is changed through
`app.modify_state`, which sends the resulting delta over that tab's socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import reflex as rx

from corpchat.realtime import registry as _registry

log = logging.getLogger(__name__)

PUSH_CONCURRENCY = 64

_registry_instance = None
_target: tuple[type, Callable[[Any, dict], Awaitable[None] | None]] | None = None
_background: set[asyncio.Task] = set()


def registry():
    global _registry_instance
    if _registry_instance is None:
        _registry_instance = _registry.create()
    return _registry_instance


def set_target(state_cls: type, apply: Callable[[Any, dict], Awaitable[None] | None]) -> None:
    """The state class that receives events, and how it applies one."""
    global _target
    _target = (state_cls, apply)


def _app():
    from reflex.utils.prerequisites import get_and_validate_app

    return get_and_validate_app().app


async def connect(user_id: int, token: str) -> None:
    await registry().add(user_id, token)


async def disconnect(user_id: int, token: str) -> None:
    await registry().remove(user_id, token)


async def _is_connected(app, token: str) -> bool:
    return await app.event_namespace._token_manager.is_token_connected(token)


class _Mailbox:
    """Events waiting for one tab, applied in arrival order by one drain task at a time.

    Everything that arrived while the tab was busy (its own event, or the
    previous batch) is applied in ONE modify_state: one state lock, one delta,
    one frame, however many messages piled up. Consecutive new messages are
    applied in (room, seq) order, so concurrent senders' deliveries that
    overtook each other on the way do not look like a gap to the tab.
    """

    __slots__ = ("user_id", "events", "waiters", "task")

    def __init__(self, user_id: int):
        self.user_id = user_id
        self.events: list[dict] = []
        self.waiters: list[asyncio.Future] = []
        self.task: asyncio.Task | None = None


_mailboxes: dict[str, _Mailbox] = {}
_semaphore: asyncio.Semaphore | None = None


def _sem() -> asyncio.Semaphore:
    global _semaphore
    if _semaphore is None:
        _semaphore = asyncio.Semaphore(PUSH_CONCURRENCY)
    return _semaphore


def _in_order(events: list[dict]) -> list[dict]:
    """Sort each run of consecutive "message" events by (room, seq); keep everything else in place."""
    out: list[dict] = []
    run: list[dict] = []
    for event in events:
        if event.get("type") == "message" and isinstance(event.get("message"), dict):
            run.append(event)
            continue
        if run:
            out.extend(sorted(run, key=_message_key))
            run = []
        out.append(event)
    if run:
        out.extend(sorted(run, key=_message_key))
    return out


def _message_key(event: dict) -> tuple:
    m = event["message"]
    return (m.get("room_id") or 0, m.get("seq") or 0)


async def _apply(app, user_id: int, token: str, events: list[dict]) -> None:
    state_cls, apply = _target
    try:
        if not await _is_connected(app, token):
            await registry().remove(user_id, token)
            return
        async with app.modify_state(rx.BaseStateToken(ident=token, cls=state_cls)) as root:
            state = await root.get_state(state_cls)
            for event in events:
                try:
                    result = apply(state, event)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # one bad event must not drop the rest of the batch
                    log.exception("applying %s to tab %s failed", event.get("type"), token)
    except Exception:  # one broken tab must not stop the others
        log.exception("push to tab %s failed", token)


async def _drain(app, token: str, box: _Mailbox) -> None:
    try:
        while box.events:
            async with _sem():
                events, box.events = box.events, []
                waiters, box.waiters = box.waiters, []
                try:
                    await _apply(app, box.user_id, token, _in_order(events))
                finally:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
    finally:
        box.task = None
        if box.events:  # cancelled with events left: hand them to a new drain
            box.task = asyncio.get_running_loop().create_task(_drain(app, token, box))
        elif _mailboxes.get(token) is box:
            del _mailboxes[token]


def _post(app, user_id: int, token: str, events: list[dict]) -> asyncio.Future:
    """Queue events for a tab; the future resolves once they have been applied."""
    box = _mailboxes.get(token)
    if box is None:
        box = _mailboxes[token] = _Mailbox(user_id)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    box.events.extend(events)
    box.waiters.append(done)
    if box.task is None:
        box.task = loop.create_task(_drain(app, token, box))
    return done


async def deliver(user_events: dict[int, list[dict]], skip_token: str | None = None) -> None:
    """Apply each user's events to each of that user's tabs (bounded concurrency, in order per tab)."""
    if _target is None or not user_events:
        return
    app = _app()
    tabs = await registry().tabs(user_events.keys())
    pending = [
        _post(app, uid, token, user_events[uid])
        for uid, tokens in tabs.items() for token in tokens if token != skip_token
    ]
    if pending:
        await asyncio.gather(*pending)


def deliver_soon(user_events: dict[int, list[dict]], skip_token: str | None = None) -> None:
    """Fire-and-forget delivery, so the sender's own acknowledgement is not delayed."""
    task = asyncio.get_running_loop().create_task(deliver(user_events, skip_token))
    _background.add(task)
    task.add_done_callback(_background.discard)


def fan_out(user_ids: Iterable[int], event: dict, skip_token: str | None = None) -> None:
    deliver_soon({uid: [event] for uid in user_ids}, skip_token)


async def sign_out_user(user_id: int) -> None:
    """Every open tab of this user forgets its login (logout, password change)."""
    await deliver({user_id: [{"type": "signed_out"}]})
