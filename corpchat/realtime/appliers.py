"""How a tab applies a live event: the functions registered with `@on(EventType)`.

Each function lives in the state code of the feature that owns the vars it changes (any
Reflex state class, a mixin of one included) and is `_`-prefixed, so no client can call it.
Several features may react to one event type (a removed member also leaves a group call):
each registers its own function, and a tab runs all of them, in `order` (lower first; equal
orders in the order their modules were imported), each on its own state. The acting tab and
every other tab run the same functions: the acting one through `AuthState._emit`, the others
through their mailbox (realtime/mailbox.py).
"""

from __future__ import annotations

from collections.abc import Callable

_ON: dict[type, list[tuple[int, int, Callable]]] = {}  # type -> [(order, registration, fn)]
_owners: dict[Callable, type] = {}
_registered = 0


def on(event_type: type, order: int = 0):
    """Register the decorated state method as one way a tab applies `event_type`."""

    def register(fn: Callable) -> Callable:
        global _registered
        entries = _ON.setdefault(event_type, [])
        # A module imported twice (reloads, tests) registers the same function again: replace it.
        entries[:] = [e for e in entries if e[2].__qualname__ != fn.__qualname__]
        _registered += 1
        entries.append((order, _registered, fn))
        entries.sort(key=lambda e: (e[0], e[1]))
        return fn

    return register


def handlers(event_type: type) -> list[Callable]:
    """The functions that apply `event_type`, in the order a tab runs them."""
    return [fn for _, _, fn in _ON.get(event_type, ())]


def owner(fn: Callable) -> type | None:
    """The (non-mixin) state class whose instances run `fn` (found once, then cached)."""
    found = _owners.get(fn)
    if found is None:
        found = _find_owner(fn)
        if found is not None:
            _owners[fn] = found
    return found


def first_owner(event_type: type) -> type | None:
    fns = handlers(event_type)
    return owner(fns[0]) if fns else None


async def apply(root_or_state, event, user_id: int | None = None) -> bool:
    """Run every function for `event` on its state (reached from `root_or_state`). False when a
    state is signed in as someone other than `user_id` (the tab logged out meanwhile)."""
    import asyncio

    ok = True
    for fn in handlers(type(event)):
        cls = owner(fn)
        state = root_or_state if isinstance(root_or_state, cls) else await root_or_state.get_state(cls)
        if user_id is not None and state._user_id != user_id:
            ok = False
            continue
        result = fn(state, event)
        if asyncio.iscoroutine(result):
            await result
    return ok


def _find_owner(fn: Callable) -> type | None:
    import reflex as rx

    todo, best = [rx.State], None
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if getattr(cls, "_mixin", False) or getattr(cls, fn.__name__, None) is not fn:
            continue
        if best is None or issubclass(best, cls):  # the most basic class that has it
            best = cls
    return best
