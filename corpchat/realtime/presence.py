"""Presence from the connection lifecycle: a user's first tab / last tab gone -> PresenceChanged.

lifecycle.py fires each edge once per user across workers (after its grace
period for reloads), so each becomes one service call (at most one row write)
and one push to the user's presence watchers.
"""

from __future__ import annotations

import asyncio

from corpchat.realtime import hub, lifecycle
from corpchat.services import presence

_installed = False


async def _first_tab(user_id: int) -> None:
    await hub.push(await asyncio.to_thread(presence.went_online, user_id))


async def _last_tab(user_id: int) -> None:
    await hub.push(await asyncio.to_thread(presence.went_offline, user_id))


def install() -> None:
    """Once per worker process (the app module is imported once per worker)."""
    global _installed
    if not _installed:
        _installed = True
        lifecycle.on_first_tab(_first_tab)
        lifecycle.on_last_tab(_last_tab)
