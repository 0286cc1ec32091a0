"""The PeerServer protocol that the `peerjs@1.5.5` client speaks, served by CorpChat itself
(issue 23), so call set-up never leaves our server and every message is checked:

- `GET /api/peer/<key>/id`: the id route (the client asks it only when it has no id; ours always
  has one, issued by services/calls.py when its tab joined a call): the signed-in user's peer id.
- `WS /api/peer/peerjs?key=&id=&token=`: the socket. Opened only with the session cookie, from one
  of our Origins, for a peer id the calls service issued to that user, with the token it gave
  that tab (so nobody registers or takes another user's or tab's id). The server says OPEN; the
  client sends HEARTBEAT, OFFER, ANSWER, CANDIDATE, LEAVE, EXPIRE with a `dst`, which we forward
  with `src` set by us, only to a peer of the same live call. A message for a peer not connected
  yet waits a few seconds, then its sender gets EXPIRE, as PeerServer does.

Refused: a message over 64 KB or that is not a JSON object of a known type with a peer id for
`dst` (the socket is closed: a client that sends one is not ours), and floods (a token bucket per
socket, then a count per user and per address shared by all workers through services/throttle.py,
so sockets spread over workers or tabs get no more; a socket that keeps sending past either is
closed). When a socket of a live call
goes and its peer does not come back within RECONNECT_SECONDS, the member hangs up: a closed tab
leaves no one ringing into the void or stuck "busy".

With several workers (REFLEX_REDIS_URL) the worker holding a peer's socket says so in Redis, and
a message for a peer on another worker rides the realtime router's channel to it
(realtime/router.py), so two people on different workers reach each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from corpchat.api import client_address
from corpchat.config import settings
from corpchat.realtime import hub, lifecycle
from corpchat.realtime import router as _router
from corpchat.services import accounts, calls
from corpchat.services.errors import ServiceError
from corpchat.services.events import pushes
from corpchat.services.rate_limits import TokenBucket
from corpchat.services.throttle import SharedRate

KEY = "corpchat"
PATH = "/api/peer"
MAX_MESSAGE_BYTES = 64 * 1024
FORWARDED = {"OFFER", "ANSWER", "CANDIDATE", "LEAVE", "EXPIRE"}
QUEUE_SECONDS = 5.0
QUEUE_MAX = 64
PEERS_FRESH_SECONDS = 2.0
RECONNECT_SECONDS = 10.0
OVERFLOWS_BEFORE_CLOSE = 20

# Per 10 s: a user's tabs together get the rate of two sockets, an address that of eight users.
_RATE = max(1, settings.signal_messages_per_second)
_per_user = SharedRate(20 * _RATE, 10, "signal-user")
_per_address = SharedRate(160 * _RATE, 10, "signal-ip")

_sockets: dict[str, WebSocket] = {}
_queued: dict[str, list[tuple[float, str, dict]]] = {}  # dst -> (expires, src, message)
_leaving: dict[str, asyncio.TimerHandle] = {}


async def _identity(conn) -> accounts.Identity | None:
    try:
        return await accounts.verify_token_async(conn.cookies.get(settings.cookie_name))
    except ServiceError:
        return None


async def peer_id_route(request: Request) -> PlainTextResponse:
    identity = await _identity(request)
    if identity is None:
        return PlainTextResponse("Not signed in", status_code=401)
    if request.path_params["key"] != KEY:
        return PlainTextResponse("Invalid key", status_code=404)
    live = await asyncio.to_thread(calls.live_peer_id, identity.user_id)
    return PlainTextResponse(live or "No call", status_code=200 if live else 404,
                             headers={"Cache-Control": "no-store"})


def _origin_allowed(ws: WebSocket) -> bool:
    origin = (ws.headers.get("origin") or "").rstrip("/").lower()
    return origin in settings.app_origins  # browsers always send one on a WebSocket


async def peer_socket(ws: WebSocket) -> None:
    q = ws.query_params
    peer_id, token = q.get("id", ""), q.get("token", "")
    identity = await _identity(ws) if _origin_allowed(ws) else None
    if identity is None or q.get("key") != KEY:
        await ws.close(code=1008)  # before accept: the handshake gets 403
        return
    peer = await asyncio.to_thread(calls.peer, peer_id)
    if (peer is None or peer.user_id != identity.user_id or not peer.live
            or not hmac.compare_digest(peer.token.encode(), token.encode())):
        await ws.close(code=1008)
        return
    await ws.accept()
    old = _sockets.get(peer_id)
    _sockets[peer_id] = ws
    if (routed := hub.routing()) is not None:
        await routed[0].claim_peer(peer_id, routed[1])
    if (pending := _leaving.pop(peer_id, None)) is not None:
        pending.cancel()
    if old is not None:
        with contextlib.suppress(Exception):
            await old.close(code=4000)
    await ws.send_text('{"type":"OPEN"}')
    for _, _, message in _queued.pop(peer_id, []):
        await ws.send_text(json.dumps(message))
    try:
        await _serve(ws, peer)
    except WebSocketDisconnect:
        pass
    finally:
        if _sockets.get(peer_id) is ws:
            del _sockets[peer_id]
            if (routed := hub.routing()) is not None:
                with contextlib.suppress(Exception):
                    await routed[0].release_peer(peer_id, routed[1])
            _leaving[peer_id] = asyncio.get_running_loop().call_later(
                RECONNECT_SECONDS, lambda: asyncio.ensure_future(_gone(peer)))


def _shared_take(user_id: int, address: str) -> bool:
    user_ok = _per_user.take(str(user_id))
    return _per_address.take(address) and user_ok


async def _serve(ws: WebSocket, peer: calls.Peer) -> None:
    address = client_address.of(ws)
    rate = max(1, settings.signal_messages_per_second)
    bucket, overflows = TokenBucket(2 * rate, 60 * rate), 0
    allowed, fresh_at = set(), 0.0
    while True:
        raw = await ws.receive()
        if raw["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(raw.get("code", 1000))
        data = raw.get("text") if raw.get("text") is not None else raw.get("bytes")
        if data is None or len(data) > MAX_MESSAGE_BYTES:
            await ws.close(code=1009)
            return
        message = _parse(data)
        if message is None:
            await ws.close(code=1003)
            return
        if message["type"] == "HEARTBEAT":
            continue
        if not bucket.take(0) or not await asyncio.to_thread(_shared_take, peer.user_id, address):
            overflows += 1
            if overflows > OVERFLOWS_BEFORE_CLOSE:
                await ws.close(code=1008)
                return
            continue
        dst = message["dst"]
        if dst not in allowed or time.monotonic() - fresh_at > PEERS_FRESH_SECONDS:
            allowed, fresh_at = await asyncio.to_thread(calls.call_peers, peer.call_id), time.monotonic()
        if peer.peer_id not in allowed:  # the call ended, or I left it
            await ws.close(code=1000)
            return
        if dst not in allowed or dst == peer.peer_id:
            await ws.send_text(json.dumps({"type": "EXPIRE", "src": dst, "dst": peer.peer_id}))
            continue
        await _deliver(dst, {"type": message["type"], "src": peer.peer_id, "dst": dst,
                             "payload": message.get("payload")})


def _parse(data) -> dict | None:
    try:
        message = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    if message["type"] == "HEARTBEAT":
        return message
    dst = message.get("dst")
    if message["type"] not in FORWARDED or not isinstance(dst, str) or not 1 <= len(dst) <= 40:
        return None
    return message


async def _deliver(dst: str, message: dict) -> None:
    text = json.dumps(message)
    if await _send_here(dst, text):
        return
    if (routed := hub.routing()) is not None:
        router, me = routed
        owner = await router.peer_owner(dst)
        if owner and owner != me and await router.publish_signal(owner, dst, text):
            return
    _queue(dst, message)


async def _send_here(dst: str, text: str) -> bool:
    target = _sockets.get(dst)
    if target is None:
        return False
    try:
        await target.send_text(text)
        return True
    except Exception:
        return False


def _routed_signal(dst: str, text: str) -> None:
    """A message another worker routed here for a socket of this worker."""
    async def send() -> None:
        if not await _send_here(dst, text):
            _queue(dst, json.loads(text))
    asyncio.get_running_loop().create_task(send())


def _queue(dst: str, message: dict) -> None:
    now = time.monotonic()
    waiting = [m for m in _queued.get(dst, []) if m[0] > now][-QUEUE_MAX + 1:]
    waiting.append((now + QUEUE_SECONDS, message["src"], message))
    _queued[dst] = waiting
    asyncio.get_running_loop().call_later(QUEUE_SECONDS, lambda: asyncio.ensure_future(_expire(dst)))


async def _expire(dst: str) -> None:
    """Messages that waited for `dst` in vain: their senders get EXPIRE (the client's "peer unavailable")."""
    now = time.monotonic()
    waiting = _queued.get(dst, [])
    keep = [m for m in waiting if m[0] > now]
    for _, src, _ in (m for m in waiting if m[0] <= now):
        if (sender := _sockets.get(src)) is not None:
            with contextlib.suppress(Exception):
                await sender.send_text(json.dumps({"type": "EXPIRE", "src": dst, "dst": src}))
    if keep:
        _queued[dst] = keep
    else:
        _queued.pop(dst, None)


async def _gone(peer: calls.Peer) -> None:
    _leaving.pop(peer.peer_id, None)
    if peer.peer_id in _sockets:
        return
    try:
        result = await asyncio.to_thread(calls.hang_up, peer.user_id, peer.call_id)
    except ServiceError:
        return
    for p in pushes(result):
        await hub.push(p)


async def _last_tab(user_id: int) -> None:
    for p in pushes(await asyncio.to_thread(calls.leave_all, user_id)):
        await hub.push(p)


def install() -> None:
    """Once per worker: a user whose last tab is gone (lifecycle's grace period over) leaves their call."""
    global _installed
    if not _installed:
        _installed = True
        lifecycle.on_last_tab(_last_tab)
        _router.on_signal(_routed_signal)


_installed = False

routes = [
    Route(PATH + "/{key}/id", peer_id_route, methods=["GET"]),
    WebSocketRoute(PATH + "/peerjs", peer_socket),
]
