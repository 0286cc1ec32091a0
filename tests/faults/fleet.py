"""Clients that keep sending through faults, as the page does: each message has a client id; a
send counts as acknowledged only when its handler finished without an error (it answers after
the commit); anything else (an error toast, a timeout, a dropped socket) is resent with the same
client id on the next connection, which the server must store once.

Besides, each client notes whether its tab was ever shown an acknowledged message as stored (a
frame with its client id and a real id, not the "sending…" bubble), and the run reports the ones
it never was (`acked_not_shown`): measured, not asserted (see the issue 24 note, finding B).
An acknowledged send the database did not have was finding A: an exception Reflex turns into a
toast reaches the page after the next event's reply, so a send refused at the session check
looked acknowledged (1 in 18,353; fixed in state/base.py)."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from tests.bench import common
from tests.bench.client import Tab

ACK_TIMEOUT = 8.0
PACE = 0.25  # seconds between one client's acknowledged send and its next


def _stored(node, cid: str) -> bool:
    if isinstance(node, str) and cid in node and node[:1] in "{[":
        node = json.loads(node)  # a frame's payload may itself be JSON text
    if isinstance(node, dict):
        if node.get("client_id") == cid and isinstance(node.get("id"), int) and node["id"] > 0:
            return True
        node = node.values()
    if isinstance(node, (list, tuple)) or type(node).__name__ == "dict_values":
        return any(_stored(v, cid) for v in node)
    return False


def marker(client: int, n: int) -> str:
    return f"F{client}x{n}F"


@dataclass
class Client:
    index: int
    cookie: str
    room: int
    cids: list[str] = field(default_factory=list)
    acked: dict[int, float] = field(default_factory=dict)  # message number -> when (monotonic)
    attempts: int = 0
    reconnects: int = 0
    tab: Tab | None = None
    sending: str = ""  # the client id being sent now
    shown: set[str] = field(default_factory=set)  # client ids this client was shown as stored
    unshown: set[str] = field(default_factory=set)  # acknowledged, not shown as stored yet
    token: str = field(default_factory=lambda: str(uuid.uuid4()))  # the page keeps its tab's token

    async def connect(self, http: aiohttp.ClientSession, url: str, stop: asyncio.Event):
        while not stop.is_set():
            tab = Tab(http, url, self.cookie, parse=False, token=self.token)
            tab.on_raw = self._saw
            try:
                await tab.connect("/", timeout=10)
                await tab.call(common.handler("open_room"), {"room_id": self.room}, timeout=10)
                self.tab = tab
                return tab
            except Exception:
                await tab.close()
                await asyncio.sleep(0.2)
        return None

    async def run(self, http: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> None:
        send = common.handler("send_message")
        n = 0
        while not stop.is_set():
            if self.tab is None or not self.tab.connected:
                if self.tab is not None:
                    await self.tab.close()
                    self.reconnects += 1
                    # back at once (a blip) or after a while (a train through a tunnel)
                    await asyncio.sleep(random.choice((0.0, random.uniform(0.3, 2.0))))
                if await self.connect(http, url, stop) is None:
                    return
            if len(self.cids) <= n:
                self.cids.append(uuid.uuid4().hex)
            tab, errors = self.tab, len(self.tab.errors)
            self.sending = self.cids[n]
            self.attempts += 1
            try:
                await tab.call(send, {"form_data": {"text": marker(self.index, n), "client_id": self.cids[n]}},
                               timeout=ACK_TIMEOUT)
            except Exception:  # timed out or the socket went: resend on a new connection
                await tab.close()
                continue
            if len(tab.errors) > errors or not tab.connected:
                await asyncio.sleep(0.2)  # refused (database down...): the same client id again
                continue
            self.acked[n] = time.monotonic()
            if self.cids[n] not in self.shown:
                self.unshown.add(self.cids[n])  # a broadcast may come a moment after the reply
            n += 1
            await asyncio.sleep(PACE * random.uniform(0.5, 1.5))
        if self.tab is not None:
            await self.tab.close()

    def _saw(self, raw: str, _t: float) -> None:
        """A frame that shows the client id being sent as a stored message (history after a
        reconnect, the broadcast, or the handler's own reply)."""
        for cid in (self.sending, *self.unshown):
            if cid and cid not in self.shown and cid in raw and _stored(json.loads(raw)[1], cid):
                self.shown.add(cid)
                self.unshown.discard(cid)

    async def drop(self) -> None:
        """Cut the socket without a goodbye (a network drop); `run` reconnects."""
        tab = self.tab
        conn = tab._ws._conn if tab is not None and tab._ws is not None else None
        if conn is not None and conn.transport is not None:
            conn.transport.abort()


def recovery(clients: list[Client], fault_at: float) -> list[float]:
    """Per client: seconds from the fault to its first acknowledgement after it."""
    out = []
    for c in clients:
        after = [t for t in c.acked.values() if t > fault_at]
        if after:
            out.append(min(after) - fault_at)
    return out


def verify(rows: list[tuple[str, int]], clients: list[Client]) -> dict:
    """rows: (text, seq) of the room's messages. Lost: acknowledged but not stored; duplicates:
    stored more than once; order: a client's messages not stored in the order it sent them."""
    seqs: dict[str, list[int]] = {}
    for text, seq in rows:
        seqs.setdefault(text, []).append(seq)
    lost = duplicates = order = 0
    missing: list[str] = []
    for c in clients:
        previous = 0
        for n in sorted(c.acked):
            found = seqs.get(marker(c.index, n), [])
            if not found:
                lost += 1
                missing.append(f"{marker(c.index, n)} {c.cids[n]}")
                continue
            duplicates += len(found) - 1
            if min(found) <= previous:
                order += 1
            previous = min(found)
    extra = sum(len(v) - 1 for v in seqs.values() if len(v) > 1)
    return {"acked": sum(len(c.acked) for c in clients), "stored": len(rows), "lost": lost,
            "duplicates": max(duplicates, extra), "order_violations": order,
            "attempts": sum(c.attempts for c in clients), "reconnects": sum(c.reconnects for c in clients),
            "lost_markers": missing[:20], "acked_not_shown": sum(len(c.unshown) for c in clients)}
