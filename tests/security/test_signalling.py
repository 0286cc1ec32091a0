"""The PeerServer route (api/signalling.py) attacked over a raw WebSocket, on the real app: no
cookie, a foreign Origin, someone else's peer id, another tab's token, a message to a peer outside
the call, malformed and 1 MB messages, a flood. The control: two members of a call exchange an
OFFER, as the peerjs client does."""

from __future__ import annotations

import asyncio
import json
import secrets

import aiohttp
import pytest

from corpchat.services import calls, rooms
from tests import wsclient as w
from tests.e2e.helpers import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _people(url: str, n: int) -> list[w.Session]:
    sfx = secrets.token_hex(3)
    return [await w.register(url, f"sig{i}{sfx}", PASSWORD) for i in range(n)]


def _answered(a: w.Session, b: w.Session, room: int) -> tuple[calls.Seat, calls.Seat]:
    mine = calls.start(a.user_id, room, "video")
    return mine, calls.accept(b.user_id, mine.call_id)


def _ws_url(url: str, seat: calls.Seat | None, **override) -> str:
    q = {"key": "corpchat", "id": seat.peer_id if seat else "", "token": seat.peer_token if seat else "",
         "version": "1.5.5", **override}
    return url.replace("http", "ws", 1) + "/api/peer/peerjs?" + "&".join(f"{k}={v}" for k, v in q.items())


async def _open(http: aiohttp.ClientSession, url: str, session: w.Session | None, seat, origin: str | None = None,
                **override):
    headers = {"Origin": origin or url}
    if session is not None:
        headers["Cookie"] = session.cookie_header
    return await http.ws_connect(_ws_url(url, seat, **override), headers=headers, max_msg_size=0)


async def _refused(http, *args, **kwargs) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await _open(http, *args, **kwargs)
    assert err.value.status == 403


async def _next(ws, timeout: float = 3.0) -> dict | None:
    """The next message, or None when nothing came (or the socket closed)."""
    try:
        msg = await ws.receive(timeout=timeout)
    except TimeoutError:
        return None
    return json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT else None


@pytest.fixture
async def call(app_server):
    anna, boris, eve, carl = await _people(app_server.url, 4)
    a, b = _answered(anna, boris, rooms.open_private(anna.user_id, boris.user_id))
    e, c = _answered(eve, carl, rooms.open_private(eve.user_id, carl.user_id))
    async with aiohttp.ClientSession() as http:
        yield app_server.url, http, (anna, a), (boris, b), (eve, e), (carl, c)


async def test_members_of_a_call_exchange_offers(call):
    url, http, (anna, a), (boris, b), *_ = call
    wa, wb = await _open(http, url, anna, a), await _open(http, url, boris, b)
    assert await _next(wa) == {"type": "OPEN"} and await _next(wb) == {"type": "OPEN"}
    await wb.send_str(json.dumps({"type": "HEARTBEAT"}))
    await wb.send_str(json.dumps({"type": "OFFER", "dst": a.peer_id, "src": "forged", "payload": {"sdp": "x"}}))
    got = await _next(wa)
    assert got == {"type": "OFFER", "src": b.peer_id, "dst": a.peer_id, "payload": {"sdp": "x"}}  # src is ours
    async with http.get(f"{url}/api/peer/corpchat/id", headers={"Cookie": anna.cookie_header}) as r:
        assert r.status == 200 and await r.text() == a.peer_id
    async with http.get(f"{url}/api/peer/corpchat/id") as r:
        assert r.status == 401


async def test_no_cookie_foreign_origin_or_someone_elses_id_is_refused(call):
    url, http, (anna, a), (boris, b), (eve, e), _ = call
    await _refused(http, url, None, a)  # no cookie
    await _refused(http, url, anna, a, origin="http://evil.example")
    await _refused(http, url, eve, a)  # Anna's id and token, Eve's cookie
    await _refused(http, url, anna, a, token=b.peer_token)  # Anna's id, another tab's token
    await _refused(http, url, anna, a, token="")
    await _refused(http, url, anna, a, key="peerjs")
    await _refused(http, url, anna, None, id="cc" + "0" * 32)  # an id nobody issued
    ws = await _open(http, url, anna, a)  # the control
    assert await _next(ws) == {"type": "OPEN"}


async def test_a_message_to_a_peer_outside_the_call_goes_nowhere(call):
    url, http, (anna, a), (boris, b), (eve, e), _ = call
    wa, we = await _open(http, url, anna, a), await _open(http, url, eve, e)
    await _next(wa), await _next(we)
    await wa.send_str(json.dumps({"type": "OFFER", "dst": e.peer_id, "payload": {"sdp": "x"}}))
    assert await _next(wa) == {"type": "EXPIRE", "src": e.peer_id, "dst": a.peer_id}
    assert await _next(we, 1.0) is None


async def test_oversized_and_malformed_messages_close_the_socket(call):
    url, http, (anna, a), (boris, b), *_ = call
    wb = await _open(http, url, boris, b)
    await _next(wb)
    for bad in ("x" * (1024 * 1024), "not json", json.dumps([1]), json.dumps({"type": "OFFER"}),
                json.dumps({"type": "OPEN", "dst": b.peer_id}), json.dumps({"type": "OFFER", "dst": ["x"]})):
        wa = await _open(http, url, anna, a)
        assert await _next(wa) == {"type": "OPEN"}
        if len(bad) > 100:
            bad = json.dumps({"type": "CANDIDATE", "dst": b.peer_id, "payload": {"c": bad}})
        await wa.send_str(bad)
        msg = await wa.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING), bad[:40]
        await wa.close()
    assert await _next(wb, 1.0) is None  # nothing of it reached Boris


async def test_a_flood_is_throttled_then_cut(call):
    url, http, (anna, a), (boris, b), *_ = call
    wa, wb = await _open(http, url, anna, a), await _open(http, url, boris, b)
    await _next(wa), await _next(wb)
    sent = 0
    for i in range(2000):
        try:
            await wa.send_str(json.dumps({"type": "CANDIDATE", "dst": b.peer_id, "payload": {"i": i}}))
            sent += 1
        except ConnectionResetError:
            break
    received = 0
    while await _next(wb, 1.0) is not None:
        received += 1
    print(f"\nflood: {sent} sent, {received} forwarded before the socket was cut")
    assert received <= 200, received  # a burst of 100 (2 s of 50/s) and what refilled meanwhile
    msg = await wa.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    await asyncio.sleep(0)
