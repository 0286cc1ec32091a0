"""Connections that never send a byte must not take the app down (issue 19, finding 2).

Granian's default `--http auto` waits forever to sniff HTTP/1 vs HTTP/2 on a silent socket:
about 1,100 of them made /ping, login and new WebSockets time out for everyone. The server now
speaks HTTP/1.1 with a header-read timeout (HTTP_HEADER_TIMEOUT_SECONDS, 5 s by default), so a
new user still logs in and chats at once, and the silent sockets are closed by the server.
"""

from __future__ import annotations

import secrets
import selectors
import socket
import time
import uuid

from sqlalchemy import text

from corpchat import db
from corpchat.services import rooms
from corpchat.state.chat import ChatState
from tests import wsclient as w

IDLE = 1500
HEADER_TIMEOUT_S = 5.0  # the shipped default; the app under test does not override it
CHAT_WITHIN_S = 2.0  # the bound for logging in and sending with the idle sockets open
PASSWORD = "correct horse 12"


def _open_idle(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setblocking(False)
        out.append(s)
    return out


def _closed_by_server(sockets: list[socket.socket], deadline: float) -> int:
    """Wait until each socket reads EOF (or a reset) or the deadline passes; returns how many closed."""
    open_ = set(sockets)
    with selectors.DefaultSelector() as sel:  # epoll: select() stops at descriptor 1024
        for s in sockets:
            sel.register(s, selectors.EVENT_READ)
        while open_ and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                try:
                    if s.recv(1) != b"":
                        continue
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    pass
                open_.discard(s)
                sel.unregister(s)
    return len(sockets) - len(open_)


async def test_idle_sockets_neither_starve_users_nor_stay_open(app_server):
    port = app_server.port
    idle = _open_idle(port, IDLE)
    opened_at = time.monotonic()
    try:
        start = time.monotonic()
        suffix = secrets.token_hex(3)
        anna = await w.register(app_server.url, f"idle_anna{suffix}", PASSWORD)
        boris = await w.register(app_server.url, f"idle_boris{suffix}", PASSWORD)
        room = rooms.open_private(anna.user_id, boris.user_id)
        body = f"still here {uuid.uuid4().hex}"
        async with w.ReflexClient(app_server.url, anna) as tab:
            await tab.connect("/")
            await tab.call(w.handler_name(ChatState, "open_room"), room_id=room)
            frames = await tab.call(w.handler_name(ChatState, "send_message"),
                                    form_data=w.form_data(text=body, client_id=uuid.uuid4().hex))
            assert not tab.error_toasts(frames)
        chatted = time.monotonic() - start
        with db.engine().connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM messages WHERE room_id=:r AND text=:t"),
                                {"r": room, "t": body}).scalar() == 1
        closed = _closed_by_server(idle, opened_at + HEADER_TIMEOUT_S + 5)
        closed_after = time.monotonic() - opened_at
        print(f"\n{IDLE} idle sockets: register x2 + connect + send took {chatted:.2f} s; "
              f"{closed} closed by the server after {closed_after:.1f} s")
        assert chatted < CHAT_WITHIN_S
        assert closed == IDLE, f"{IDLE - closed} idle sockets still open after {closed_after:.1f} s"
    finally:
        for s in idle:
            s.close()
