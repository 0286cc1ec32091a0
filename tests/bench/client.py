"""A lean Reflex 0.10.1 event-socket client for load generation.

It speaks the same protocol as the compiled frontend (and tests/wsclient.py),
but directly on one aiohttp WebSocket per tab, without python-socketio, so a
load-generator process can hold thousands of tabs and look at every frame
cheaply:

- Engine.IO 4 over WebSocket at ``/_event/?EIO=4&transport=websocket&token=<uuid>``,
  Socket.IO namespace ``/_event``; the login cookie and Origin travel in the
  upgrade request.
- The hydrate event rides in the namespace CONNECT packet (``40/_event,{auth}``).
- Events go out as ``42/_event,["event",{name,payload,router_data}]``; updates
  come in the same way carrying ``{"delta": {state_path: {var_rx_state_: v}}, "events": [...]}``.
- The server pings (``2``); the client answers ``3``.

Every frame is handed raw (with its receive time, ``time.perf_counter()``) to
the tab's ``on_raw`` hook before anything else; JSON decoding and merging into
``tab.state`` happen only when ``parse`` is on (or for short frames, which is
how barrier replies are recognised cheaply).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

COOKIE_NAME = "corpchat_session"
ROOT = "reflex___state____state"
HYDRATE = f"{ROOT}.hydrate_and_load"
BARRIER = f"{ROOT}.reflex___state____on_load_internal_state.set_is_hydrated"
NS = "/_event"
SUFFIX = "_rx_state_"
EVENT_PREFIX = f"42{NS},"
_CALLBACK_RE = re.compile(r'ReflexEvent\("([^"]+)",\s*\{(\w+):_result\}\)')
# What a browser answers to the app's call_script callbacks.
SCRIPT_RESULTS = {"Intl.DateTimeFormat().resolvedOptions().timeZone": "UTC"}
SHORT_FRAME = 600  # frames shorter than this are always decoded (barrier replies are ~100 chars)


class LoginError(RuntimeError):
    pass


async def login(http: aiohttp.ClientSession, base_url: str, user: str, password: str,
                timeout: float = 30) -> str:
    """POST /api/login like the login form does; returns the session cookie value."""
    async with http.post(f"{base_url}/api/login", data={"login": user, "password": password},
                         headers={"Origin": base_url, "Accept-Language": "en"}, allow_redirects=False,
                         timeout=aiohttp.ClientTimeout(total=timeout)) as r:
        cookie = r.cookies.get(COOKIE_NAME)
        if r.status != 303 or r.headers.get("location") != "/" or cookie is None:
            raise LoginError(f"login {user}: HTTP {r.status} -> {r.headers.get('location')}")
        return cookie.value


def _strip(var: str) -> str:
    return var[: -len(SUFFIX)] if var.endswith(SUFFIX) else var


def is_barrier(obj: dict) -> bool:
    """The reply to set_is_hydrated(True): only root vars, no frontend events."""
    delta = obj.get("delta") or {}
    return (not obj.get("events") and list(delta) == [ROOT]
            and delta[ROOT].get("is_hydrated" + SUFFIX) is True)


class Tab:
    """One browser tab: one socket, one client token."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, cookie: str | None, *,
                 parse: bool = True, token: str | None = None):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.cookie = cookie
        self.parse = parse
        self.token = token or str(uuid.uuid4())
        self.route = "/"
        self.state: dict[str, dict[str, Any]] = {}
        self.on_raw: Callable[[str, float], None] | None = None
        self.frames = 0
        self.bytes = 0
        self.last_t = 0.0  # receive time of the latest frame
        self.barriers = 0
        self.errors: list[str] = []  # error toasts / server-side exception events seen
        self.closed = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._connect_error: str | None = None
        self._waiters: list[tuple[Callable[[Tab], Any], asyncio.Future]] = []
        self._tasks: set[asyncio.Task] = set()
        self._hydrate = True

    # ----- connection --------------------------------------------------
    def router_data(self) -> dict:
        return {"pathname": self.route, "asPath": self.route}

    async def connect(self, route: str = "/", timeout: float = 30, wait_hydrated: bool = True,
                      hydrate: bool = True) -> Tab:
        """Open the socket; with hydrate (as the browser does) the hydrate event rides in the
        namespace CONNECT and this waits for the page's on_load chain (`is_hydrated`)."""
        self.route = route
        self._hydrate = hydrate
        wait_hydrated = wait_hydrated and hydrate
        headers = {"Origin": self.base_url}
        if self.cookie:
            headers["Cookie"] = f"{COOKIE_NAME}={self.cookie}"
        url = f"{self.base_url}/_event/?EIO=4&transport=websocket&token={self.token}"
        self._ws = await self.http.ws_connect(url, headers=headers, autoping=True, max_msg_size=0,
                                              timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
                                              compress=0)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        hydrated = self.until(lambda t: t.get(ROOT, "is_hydrated") is True) if wait_hydrated else None
        await asyncio.wait_for(self._connected.wait(), timeout)
        if self._connect_error:
            raise ConnectionError(self._connect_error)
        if hydrated is not None:
            await asyncio.wait_for(hydrated, timeout)
            await self.barrier(timeout)  # the browser's call_script callbacks have run too
        return self

    async def close(self) -> None:
        for w in self._waiters:
            if not w[1].done():
                w[1].cancel()
        if self._ws is not None and not self._ws.closed:
            try:
                await asyncio.wait_for(self._ws.close(), 5)
            except (TimeoutError, Exception):
                pass
        if self._reader is not None:
            self._reader.cancel()

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed and not self.closed.is_set()

    async def _send(self, text: str) -> None:
        await self._ws.send_str(text)

    async def _read(self) -> None:
        ws = self._ws
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                        break
                    continue
                data: str = msg.data
                if data.startswith(EVENT_PREFIX):
                    self._on_frame(data[len(EVENT_PREFIX):], time.perf_counter())
                elif data == "2":
                    await ws.send_str("3")
                elif data[0] == "0":  # Engine.IO open: join the namespace with the hydrate event
                    auth = {"event": {"name": HYDRATE, "payload": {}, "router_data": self.router_data()}}
                    await ws.send_str(f"40{NS}," + (json.dumps(auth) if self._hydrate else "{}"))
                elif data.startswith(f"40{NS}"):
                    self._connected.set()
                elif data.startswith(f"44{NS}"):
                    self._connect_error = data
                    self._connected.set()
                elif data.startswith(f"41{NS}") or data == "1":
                    break
        except (asyncio.CancelledError, Exception):
            pass
        finally:
            self.closed.set()
            self._connected.set()
            for _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(ConnectionError("socket closed"))
            self._waiters.clear()

    # ----- frames --------------------------------------------------------
    def _on_frame(self, raw: str, t: float) -> None:
        self.frames += 1
        self.bytes += len(raw)
        self.last_t = t
        if self.on_raw is not None:
            self.on_raw(raw, t)
        if not (self.parse or len(raw) < SHORT_FRAME or "_call_" in raw):
            return
        obj = json.loads(raw)[1]
        if isinstance(obj, str):
            obj = json.loads(obj)
        for path, vars_ in (obj.get("delta") or {}).items():
            target = self.state.setdefault(path, {})
            for k, v in vars_.items():
                target[_strip(k)] = v
        if is_barrier(obj):
            self.barriers += 1
        for event in obj.get("events") or ():
            self._on_frontend_event(event)
        if self._waiters:
            keep = []
            for pred, fut in self._waiters:
                if fut.done():
                    continue
                try:
                    value = pred(self)
                except Exception as exc:  # a broken predicate fails its waiter, not the socket
                    fut.set_exception(exc)
                    continue
                if value:
                    fut.set_result(value)
                else:
                    keep.append((pred, fut))
            self._waiters = keep

    def _on_frontend_event(self, event: dict) -> None:
        name = event.get("name")
        payload = event.get("payload") or {}
        if name == "_call_function":
            fn = str(payload.get("function") or "")
            if "toast" in fn and "error" in fn:
                self.errors.append(fn[:300])
        elif name == "_call_script" and payload.get("callback"):
            code = str(payload.get("javascript_code") or "")
            match = _CALLBACK_RE.search(str(payload["callback"]))
            if code in SCRIPT_RESULTS and match:
                handler, arg = match.groups()
                task = asyncio.get_running_loop().create_task(self.emit(handler, {arg: SCRIPT_RESULTS[code]}))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def get(self, path: str, var: str, default: Any = None) -> Any:
        return self.state.get(path, {}).get(var, default)

    def until(self, pred: Callable[[Tab], Any]) -> asyncio.Future:
        """A future resolved by the first frame after which pred(tab) is truthy."""
        fut = asyncio.get_running_loop().create_future()
        value = pred(self)
        if value:
            fut.set_result(value)
        elif self.closed.is_set():
            fut.set_exception(ConnectionError("socket closed"))
        else:
            self._waiters.append((pred, fut))
        return fut

    # ----- sending -------------------------------------------------------
    async def emit(self, name: str, payload: dict | None = None) -> float:
        """Send one event; returns the send time (perf_counter)."""
        if not self.connected:
            raise ConnectionError("socket is not connected")
        data = json.dumps(["event", {"name": name, "payload": payload or {}, "router_data": self.router_data()}])
        t = time.perf_counter()
        await self._send(EVENT_PREFIX + data)
        return t

    async def barrier(self, timeout: float = 30) -> float:
        """Wait until everything sent so far was processed; returns when the barrier reply came."""
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._tasks), return_exceptions=True), timeout)
        n = self.barriers
        fut = self.until(lambda t: t.barriers > n)
        await self.emit(BARRIER, {"value": True})
        await asyncio.wait_for(fut, timeout)
        return time.perf_counter()

    async def call_frame(self, name: str, payload: dict | None, needle: str, timeout: float = 30) -> float:
        """Emit a handler event; returns the time until the first frame containing `needle`
        (the handler's own delta: Reflex sends it when the handler returns), then waits
        for a barrier so the next call starts clean."""
        got: asyncio.Future = asyncio.get_running_loop().create_future()
        previous = self.on_raw

        def on_raw(raw: str, t: float) -> None:
            if previous is not None:
                previous(raw, t)
            if not got.done() and needle in raw:
                got.set_result(t)

        self.on_raw = on_raw
        try:
            t0 = await self.emit(name, payload)
            t1 = await asyncio.wait_for(got, timeout)
        finally:
            self.on_raw = previous
        await self.barrier(timeout)
        return t1 - t0

    async def call(self, name: str, payload: dict | None = None, timeout: float = 30) -> float:
        """Emit a handler event and wait for its barrier; returns the round trip in seconds."""
        n = self.barriers
        fut = self.until(lambda t: t.barriers > n)
        t0 = await self.emit(name, payload)
        await self.emit(BARRIER, {"value": True})
        await asyncio.wait_for(fut, timeout)
        return time.perf_counter() - t0


def new_http(limit: int = 0) -> aiohttp.ClientSession:
    """One HTTP session per load-generator process (connections are not limited)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, force_close=False),
                                 cookie_jar=aiohttp.DummyCookieJar())
