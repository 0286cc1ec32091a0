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


async def _push_one(app, sem: asyncio.Semaphore, user_id: int, token: str, events: list[dict]) -> None:
    state_cls, apply = _target
    async with sem:
        try:
            if not await _is_connected(app, token):
                await registry().remove(user_id, token)
                return
            async with app.modify_state(rx.BaseStateToken(ident=token, cls=state_cls)) as root:
                state = await root.get_state(state_cls)
                for event in events:
                    result = apply(state, event)
                    if asyncio.iscoroutine(result):
                        await result
        except Exception:  # one broken tab must not stop the others
            log.exception("push to tab %s failed", token)


async def deliver(user_events: dict[int, list[dict]], skip_token: str | None = None) -> None:
    """Apply each user's events to each of that user's tabs (bounded concurrency)."""
    if _target is None or not user_events:
        return
    app = _app()
    tabs = await registry().tabs(user_events.keys())
    sem = asyncio.Semaphore(PUSH_CONCURRENCY)
    jobs = [
        _push_one(app, sem, uid, token, user_events[uid])
        for uid, tokens in tabs.items() for token in tokens if token != skip_token
    ]
    if jobs:
        await asyncio.gather(*jobs)


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
