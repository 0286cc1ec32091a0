"""How a tab applies a live event: one function per event type, `@on(EventType)`.

The function lives in the state code of the feature that owns the vars it
changes (any Reflex state class, a mixin of one included) and is `_`-prefixed,
so no client can call it. The acting tab and every other tab run the same
function: the acting one through `AuthState._emit`, the others through their
mailbox (realtime/mailbox.py).
"""

from __future__ import annotations

from collections.abc import Callable

_ON: dict[type, Callable] = {}
_owners: dict[type, type] = {}


def on(event_type: type):
    """Register the decorated state method as THE way a tab applies `event_type`."""

    def register(fn: Callable) -> Callable:
        if event_type in _ON and _ON[event_type].__qualname__ != fn.__qualname__:
            raise RuntimeError(f"{event_type.__name__} is applied by {_ON[event_type].__qualname__} already")
        _ON[event_type] = fn
        return fn

    return register


def handler(event_type: type) -> Callable | None:
    return _ON.get(event_type)


def owner(event_type: type) -> type | None:
    """The (non-mixin) state class whose instances apply `event_type` (found once, then cached)."""
    found = _owners.get(event_type)
    if found is None and event_type in _ON:
        found = _find_owner(_ON[event_type])
        if found is not None:
            _owners[event_type] = found
    return found


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

