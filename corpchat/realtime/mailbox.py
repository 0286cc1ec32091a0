"""One mailbox per open tab: the live events waiting for it, applied in one state change.

Everything that arrived while the tab was busy (its own event, or the previous
batch) is applied in ONE `app.modify_state`: one state lock, one delta, one
frame, however many events piled up. Lazy events (services/events.py) wait a
little on purpose (VIEWER_DELAY, OTHER_DELAY) so that a busy group costs each
tab one state change per delay, not one per message; the delay is spread per
tab so that a group's members do not all change state in the same instant.
"""

from __future__ import annotations

import asyncio
import logging
import operator

import reflex as rx

from corpchat.realtime import appliers, live, reflex_glue
from corpchat.realtime.ring import spread
from corpchat.services.events import Event, MessagesArrived, MessageSent, RingFold

log = logging.getLogger(__name__)

PUSH_CONCURRENCY = 64
# A new message reaches the open chat at once through the room broadcast (`live`);
# the rest (chat list preview, unread counter, read mark) may wait and be coalesced.
VIEWER_DELAY = 1.0  # the tab shows the message's chat
OTHER_DELAY = 0.1  # the message moves a chat in the tab's list
FOLD_SPREAD = 0.05  # folds of a group's viewers spread over this many seconds


class _Mailbox:
    """Events for one tab of one user, applied in arrival order by one drain task at a time.

    Consecutive new messages are applied in (room, seq) order, so concurrent senders'
    deliveries that overtook each other on the way do not look like a gap to the tab.
    """

    __slots__ = ("user_id", "events", "waiters", "task", "due", "wake")

    def __init__(self, user_id: int):
        self.user_id = user_id
        self.events: list[Event] = []
        self.waiters: list[asyncio.Future] = []
        self.task: asyncio.Task | None = None
        self.due = 0.0  # loop time at which the queued events are applied
        self.wake = asyncio.Event()


_mailboxes: dict[tuple[int, str], _Mailbox] = {}  # (user, tab token)
_semaphore: asyncio.Semaphore | None = None
# Called when a push finds a tab's socket gone: the hub tells the record of connected tabs.
on_gone = None


def _sem() -> asyncio.Semaphore:
    global _semaphore
    if _semaphore is None:
        _semaphore = asyncio.Semaphore(PUSH_CONCURRENCY)
    return _semaphore


def collapse(events: list[Event]) -> list[Event]:
    """Merge each run of consecutive MessageSent into one MessagesArrived per room, in seq order.

    A tab that was busy (or waited on purpose) then moves its chat list once per room
    however many messages piled up, and deliveries that overtook each other are put back
    in order.
    """
    out: list[Event] = []
    run: dict[int, list[dict]] = {}
    for event in _latest(events):
        if type(event) is MessageSent:
            run.setdefault(event.room_id, []).append(event.message)
            continue
        out.extend(_merged(run))
        run = {}
        out.append(event)
    out.extend(_merged(run))
    return out


def _latest(events: list[Event]) -> list[Event]:
    """Drop each `supersedes` event that a later one of its class about the same user replaces."""
    if not any(e.supersedes for e in events):
        return events
    seen: set[tuple[type, int]] = set()
    kept: list[Event] = []
    for event in reversed(events):
        if event.supersedes:
            key = (type(event), event.user_id)
            if key in seen:
                continue
            seen.add(key)
        kept.append(event)
    kept.reverse()
    return kept


_seq = operator.itemgetter("seq")


def _merged(run: dict[int, list[dict]]) -> list[Event]:
    return [MessagesArrived(room_id, tuple(sorted(ms, key=_seq))) for room_id, ms in run.items()]


async def _apply(user_id: int, token: str, events: list[Event]) -> None:
    first = appliers.first_owner(type(events[0])) or appliers.first_owner(MessagesArrived)
    try:
        if not await reflex_glue.is_connected(token):
            await _gone(user_id, token)
            return
        # A state signed in as someone else (or not yet: a tab opened on another page) skips the
        # event: the tab's record follows its login (lifecycle.tab_opened, the SignedOut applier).
        async with reflex_glue.app().modify_state(rx.BaseStateToken(ident=token, cls=first)) as root:
            for event in events:
                if not appliers.handlers(type(event)):
                    log.error("no @on function for %s", type(event).__name__)
                    continue
                try:
                    await appliers.apply(root, event, user_id)
                except Exception:  # one bad event must not drop the rest of the batch
                    log.exception("applying %s to tab %s failed", type(event).__name__, token)
    except Exception:  # one broken tab must not stop the others
        log.exception("push to tab %s failed", token)


async def _gone(user_id: int, token: str) -> None:
    await live.leave(token)
    if on_gone is not None:
        await on_gone(user_id, token)


async def _drain(token: str, box: _Mailbox) -> None:
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
                    await _apply(box.user_id, token, collapse(events))
                finally:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
    finally:
        box.task = None
        if box.events:  # cancelled with events left: hand them to a new drain
            box.task = asyncio.get_running_loop().create_task(_drain(token, box))
        elif _mailboxes.get((box.user_id, token)) is box:
            del _mailboxes[(box.user_id, token)]


def _delay(token: str, events: list[Event]) -> float:
    kinds = {type(e) for e in events}
    if kinds == {RingFold}:
        return FOLD_SPREAD * spread(token)
    if any(not e.lazy for e in events):
        return 0.0
    viewing = live.viewing(token)
    # Room 0 (presence, profiles) is no room: a tab with no chat open "views" 0 too.
    delay = VIEWER_DELAY if all(e.room_id and e.room_id == viewing for e in events) else OTHER_DELAY
    return delay * (1 + spread(token))


def post(user_id: int, token: str, events: list[Event], done: asyncio.Future | None = None) -> None:
    """Queue events for a tab; `done` (if any) resolves once they have been applied.

    A `viewers_only` event (a reaction) is dropped for a tab that does not show its room:
    applying it would change nothing there, at the cost of a state change (50 of them per
    reaction in a 50-member group)."""
    if any(e.viewers_only for e in events):
        viewing = live.viewing(token)
        events = [e for e in events if not e.viewers_only or e.room_id == viewing]
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
        box.task = loop.create_task(_drain(token, box))
