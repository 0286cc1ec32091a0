"""An asyncio client that speaks Reflex 0.10.1's real browser protocol.

Used by the security tests (raw WebSocket attacks) and meant for the load
benchmarks: it logs in through the real HTTP routes, opens the event socket the
way the compiled frontend does (`.web/utils/state.js`, `.web/utils/context.jsx`),
hydrates a route, calls handlers by their full dotted name and keeps what the
server sent.

Protocol, as read in `reflex/app.py` (EventNamespace) and
`reflex_base/event/processor/*`:

- Socket.IO / Engine.IO 4 at `<base>/_event/?token=<uuid>&EIO=4&transport=websocket`,
  Socket.IO namespace `/_event` (the browser's `io("http://host/_event", {path:
  "/_event"})` takes the namespace from the URL path).
  The token is the tab's id (sessionStorage in the browser); the server maps
  socket -> token. The login cookie and Origin travel in the upgrade request.
- The hydrate event rides in the CONNECT packet's auth payload:
  `{"event": {"name": "reflex___state____state.hydrate_and_load", "payload": {},
  "router_data": {"pathname": ..., "asPath": ..., "query": {...}}}}`.
  Without `payload.hashes` the server sends the full state snapshot; then it
  runs `on_load_internal` -> the page's on_load handlers -> `set_is_hydrated(True)`
  server-side. "Hydrated" = the root var `is_hydrated` came back True.
- Events go out as socket.io `"event"` with `{name, payload, router_data}`.
- Updates come in as socket.io `"event"` frames `{"delta": {state_path: {var: value}},
  "events": [{"name": "_redirect"|"_call_function"|"_call_script", "payload": ...}]}`.
  Var names carry the `_rx_state_` suffix on the wire; this client strips it.
- Forms go as `{"__reflex_form_data__": [[name, value], ...]}` (`form_data()`);
  a plain dict is accepted as well.
- There is no "done" marker per event. Events of one token run strictly one at a
  time, so `call()` sends a barrier after the event (the built-in
  `OnLoadInternalState.set_is_hydrated(True)`, which always produces a root-only
  delta) and waits for the barrier's frame: everything before it belongs to the
  call. A handler name the server does not know (e.g. a `_`-prefixed method) is
  only logged server-side, so the barrier is what tells "nothing happened".
- For latency: `emit()` returns the send time, every Frame has its receive time
  `t` (time.monotonic), `wait_frame(pred)` returns the first matching frame.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import socketio

DEFAULT_TIMEOUT = 15.0
COOKIE_NAME = "corpchat_session"
FIELD_MARKER = "_rx_state_"
ROOT_STATE = "reflex___state____state"
HYDRATE_EVENT = f"{ROOT_STATE}.hydrate_and_load"
ON_LOAD_INTERNAL = f"{ROOT_STATE}.reflex___state____on_load_internal_state.on_load_internal"
BARRIER_EVENT = f"{ROOT_STATE}.reflex___state____on_load_internal_state.set_is_hydrated"
# What a browser answers to `rx.call_script(js, callback=...)` events: the
# client runs no JS, it looks the code up here and sends the callback event.
BROWSER_SCRIPT_RESULTS = {"Intl.DateTimeFormat().resolvedOptions().timeZone": "UTC"}
_CALLBACK_RE = re.compile(r'ReflexEvent\("([^"]+)",\s*\{(\w+):_result\}\)')
SOCKET_PATH = "/_event"  # Engine.IO path
NAMESPACE = "/_event"  # Socket.IO namespace (socket.io-client takes it from the URL path)


# --------------------------------------------------------------------------
# HTTP: register / login / logout through the real routes
# --------------------------------------------------------------------------
class AuthError(RuntimeError):
    """The route redirected back with ?error=<key> instead of logging in."""

    def __init__(self, key: str, location: str):
        super().__init__(f"{key} (redirected to {location})")
        self.key = key
        self.location = location


@dataclass
class Session:
    """A logged-in browser: the HttpOnly cookie the server set."""

    base_url: str
    login: str
    cookie: str  # the corpchat_session value

    @property
    def cookie_header(self) -> str:
        return f"{COOKIE_NAME}={self.cookie}"

    @property
    def user_id(self) -> int:
        """`sub` of the JWT (read without verifying: the server verifies)."""
        payload = self.cookie.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims["sub"])


FORM_DATA_KEY = "__reflex_form_data__"


def form_data(*pairs: tuple[str, Any], **fields: Any) -> dict:
    """A form argument as the browser sends it (rx.form on_submit): name/value entries."""
    return {FORM_DATA_KEY: [[k, v] for k, v in (*pairs, *fields.items())]}


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


async def _post_form(base_url: str, path: str, data: dict, cookie: str | None = None,
                     origin: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> httpx.Response:
    headers = {"Origin": origin or _origin(base_url), "Accept-Language": "en"}
    if cookie:
        headers["Cookie"] = cookie
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=timeout) as http:
        return await http.post(path, data=data, headers=headers)


def _session_from(response: httpx.Response, base_url: str, login: str) -> Session:
    location = response.headers.get("location", "")
    if response.status_code != 303 or urlsplit(location).path != "/":
        query = dict(p.split("=", 1) for p in urlsplit(location).query.split("&") if "=" in p)
        raise AuthError(query.get("error", f"http {response.status_code}"), location)
    cookie = response.cookies.get(COOKIE_NAME)
    if not cookie:
        raise AuthError("no cookie set", location)
    return Session(base_url, login, cookie)


async def register(base_url: str, login: str, password: str, password_repeat: str | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> Session:
    data = {"login": login, "password": password,
            "password_repeat": password if password_repeat is None else password_repeat}
    response = await _post_form(base_url, "/api/register", data, timeout=timeout)
    return _session_from(response, base_url, login)


async def login(base_url: str, login: str, password: str, timeout: float = DEFAULT_TIMEOUT) -> Session:
    response = await _post_form(base_url, "/api/login", {"login": login, "password": password},
                                timeout=timeout)
    return _session_from(response, base_url, login)


async def logout(session: Session, timeout: float = DEFAULT_TIMEOUT) -> httpx.Response:
    return await _post_form(session.base_url, "/api/logout", {}, cookie=session.cookie_header,
                            timeout=timeout)


# --------------------------------------------------------------------------
# The event socket
# --------------------------------------------------------------------------
@dataclass
class Frame:
    """One update frame as received."""

    t: float  # time.monotonic() at receipt
    delta: dict[str, dict[str, Any]]  # state path -> {var (suffix stripped): value}
    events: list[dict]  # frontend events: _redirect, _call_function, _call_script ...
    size: int = 0  # JSON length of the raw frame (characters)

    def text(self) -> str:
        return json.dumps({"delta": self.delta, "events": self.events}, ensure_ascii=False, default=str)


def _is_barrier(frame: Frame) -> bool:
    """The reply to set_is_hydrated(True): only root vars (is_hydrated, plus router vars
    when the event's route differs from the previous one's), no frontend events."""
    return (not frame.events and list(frame.delta) == [ROOT_STATE]
            and frame.delta[ROOT_STATE].get("is_hydrated") is True)


def _strip(var: str) -> str:
    return var[: -len(FIELD_MARKER)] if var.endswith(FIELD_MARKER) else var


def state_path(state: Any) -> str:
    """A state class (or its full name) -> the dotted path used on the wire."""
    if isinstance(state, str):
        return state
    return state.get_full_name()


def handler_name(state: Any, handler: str) -> str:
    return f"{state_path(state)}.{handler}"


class ReflexClient:
    """One browser tab on one route.

    `state` holds the latest value of every var received, merged per state
    path; `frames` every update with its receive time (monotonic clock), unless
    keep_frames=False (long benchmarks), when only `on_frame(frame)` sees them.
    """

    def __init__(self, base_url: str, session: Session | None = None, *, cookie: str | None = None,
                 origin: str | None = None, token: str | None = None, headers: dict | None = None,
                 timeout: float = DEFAULT_TIMEOUT, script_results: dict[str, Any] | None = None,
                 keep_frames: bool = True, on_frame: Callable[[Frame], Any] | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.cookie = cookie if cookie is not None else (session.cookie_header if session else None)
        self.origin = origin if origin is not None else _origin(base_url)
        self.token = token or str(uuid.uuid4())
        self.extra_headers = dict(headers or {})
        self.timeout = timeout
        self.script_results = BROWSER_SCRIPT_RESULTS if script_results is None else script_results
        self.keep_frames = keep_frames
        self.on_frame = on_frame
        self.route = "/"
        self.query: dict[str, str] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.frames: list[Frame] = []
        self.frame_count = 0  # frames received, kept or not
        self.other_messages: list[tuple[str, Any]] = []  # socket messages other than "event"
        self.disconnected = asyncio.Event()
        self.sio: socketio.AsyncClient | None = None
        self._changed = asyncio.Condition()
        self._barriers = 0  # barrier replies seen
        self._hydrations = 0  # frames that set is_hydrated True (hydrate/navigation done, or a barrier)
        self._collectors: list[list[Frame]] = []
        self._call_lock = asyncio.Lock()
        self._pending_callbacks: list[asyncio.Task] = []

    # ----- connection ----------------------------------------------------
    def _router_data(self) -> dict:
        qs = urlencode(self.query)
        data = {"pathname": self.route, "asPath": self.route + ("?" + qs if qs else "")}
        if self.query:
            data["query"] = dict(self.query)
        return data

    def _hydrate_event(self, payload: dict | None = None) -> dict:
        return {"name": HYDRATE_EVENT, "payload": payload or {}, "router_data": self._router_data()}

    async def connect(self, route: str = "/", query: dict | None = None, *, hydrate: bool = True,
                      wait_hydrated: bool = True, timeout: float | None = None) -> ReflexClient:
        """Open the socket with the hydrate event in CONNECT (as the browser does).

        Waits for the page's on_load chain to finish (`is_hydrated` True) unless
        wait_hydrated is False. hydrate=False connects without any event (a
        socket that skips the page's on_load guard). Raises
        socketio.exceptions.ConnectionError when the server refuses the
        connection (e.g. a foreign Origin).
        """
        timeout = timeout or self.timeout
        self.route, self.query = route, dict(query or {})
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=timeout,
                                        websocket_extra_options=self._ws_options())
        self.sio.on("event", self._on_event, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.sio.on("*", self._on_other, namespace=NAMESPACE)
        auth = {"event": self._hydrate_event()} if hydrate else None
        mark = self._hydrations
        headers = {"Origin": self.origin, **self.extra_headers}
        await asyncio.wait_for(
            self.sio.connect(f"{self.base_url}?token={self.token}", headers=headers, auth=auth,
                             transports=["websocket"], namespaces=[NAMESPACE],
                             socketio_path=SOCKET_PATH, wait_timeout=timeout),
            timeout + 1)
        if hydrate and wait_hydrated:
            await self._wait_hydrated(mark, timeout)
            await self.sync(timeout)  # answered call_script callbacks (set_timezone) run too
        return self

    def _ws_options(self) -> dict:
        # Engine.IO moves a "Cookie" from the connect headers into its aiohttp
        # jar, which may drop it for an IP host; these headers go verbatim.
        return {"headers": {"Cookie": self.cookie}} if self.cookie else {}

    async def close(self) -> None:
        for task in self._pending_callbacks:
            task.cancel()
        if self.sio is not None and self.sio.connected:
            try:
                await asyncio.wait_for(self.sio.disconnect(), 5)
            except Exception:
                pass
        http = self.sio.eio.http if self.sio is not None else None
        if http is not None and not http.closed:
            await http.close()

    async def __aenter__(self) -> ReflexClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected and NAMESPACE in self.sio.namespaces

    # ----- receiving -----------------------------------------------------
    async def _on_event(self, data: Any) -> None:
        t = time.monotonic()
        if isinstance(data, str):
            data = json.loads(data)
        data = data if isinstance(data, dict) else {}
        raw_delta = data.get("delta") or {}
        delta = {path: {_strip(k): v for k, v in (vars_ or {}).items()} for path, vars_ in raw_delta.items()}
        events = list(data.get("events") or [])
        frame = Frame(t, delta, events, len(json.dumps(data, default=str)))
        for path, vars_ in delta.items():
            self.state.setdefault(path, {}).update(vars_)
        if _is_barrier(frame):
            self._barriers += 1
        if delta.get(ROOT_STATE, {}).get("is_hydrated") is True:
            self._hydrations += 1
        async with self._changed:
            self.frame_count += 1
            if self.keep_frames:
                self.frames.append(frame)
            for collector in self._collectors:
                collector.append(frame)
            self._changed.notify_all()
        if self.on_frame is not None:
            self.on_frame(frame)
        for event in events:
            self._answer_script(event)

    def _answer_script(self, event: dict) -> None:
        """Do what the browser does for a known call_script with a callback."""
        payload = event.get("payload") or {}
        if event.get("name") != "_call_script" or not payload.get("callback"):
            return
        code = str(payload.get("javascript_code") or "")
        match = _CALLBACK_RE.search(str(payload["callback"]))
        if code not in self.script_results or not match or not self.connected:
            return
        name, arg = match.groups()
        task = asyncio.get_running_loop().create_task(self.emit(name, {arg: self.script_results[code]}))
        self._pending_callbacks.append(task)

    async def _on_disconnect(self, *args) -> None:
        self.disconnected.set()
        async with self._changed:
            self._changed.notify_all()

    async def _on_other(self, event: str, data: Any = None) -> None:
        self.other_messages.append((event, data))

    async def wait_for(self, predicate: Callable[[ReflexClient], Any], timeout: float | None = None,
                       what: str = "condition") -> Any:
        """Wait until predicate(self) is truthy (checked after every frame); returns its value."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    pass

    async def wait_frame(self, predicate: Callable[[Frame], Any], timeout: float | None = None,
                         what: str = "a frame") -> Frame:
        """The first frame received from now on that matches (its `.t` is the receive time)."""
        seen: list[Frame] = []
        self._collectors.append(seen)
        try:
            found = await self.wait_for(lambda c: next((f for f in seen if predicate(f)), None), timeout, what)
        finally:
            self._collectors.remove(seen)
        return found

    async def _wait_hydrated(self, mark: int, timeout: float | None = None) -> None:
        await self.wait_for(lambda c: c._hydrations > mark or c.disconnected.is_set(), timeout,
                            what=f"hydration of {self.route}")
        if self._hydrations <= mark:
            raise ConnectionError(f"socket closed while hydrating {self.route}")

    # ----- sending -------------------------------------------------------
    async def emit(self, name: str, payload: dict | None = None, router_data: dict | None = None,
                   raw: Any = None) -> float:
        """Send one event without waiting; returns the send time (monotonic).

        `raw` sends that object verbatim instead of {name, payload, router_data}.
        """
        if not self.connected:
            raise ConnectionError("socket is not connected")
        data = raw if raw is not None else {
            "name": name, "payload": payload if payload is not None else {},
            "router_data": router_data if router_data is not None else self._router_data()}
        t = time.monotonic()
        await asyncio.wait_for(self.sio.emit("event", data, namespace=NAMESPACE), self.timeout)
        return t

    async def _barrier(self, timeout: float | None, what: str) -> None:
        barriers = self._barriers
        await self.emit(BARRIER_EVENT, {"value": True})
        await self.wait_for(lambda c: c._barriers > barriers or c.disconnected.is_set(), timeout, what=what)
        if self._barriers == barriers:
            raise ConnectionError(f"socket closed while waiting for {what}")

    async def call(self, name: str, *, _timeout: float | None = None, _payload: dict | None = None,
                   _router_data: dict | None = None, **payload) -> list[Frame]:
        """Emit `name` with keyword payload and return the frames it produced.

        Waits for the barrier event queued behind it, so every delta of the call
        (including all yields of a generator handler) is in the result. Use
        `_payload=` for payloads whose keys are not Python identifiers.
        """
        timeout = _timeout or self.timeout
        async with self._call_lock:
            frames: list[Frame] = []
            self._collectors.append(frames)
            try:
                await self.emit(name, _payload if _payload is not None else payload, _router_data)
                await self._barrier(timeout, f"the reply to {name}")
            finally:
                self._collectors.remove(frames)
            # Drop the barrier's own frame (the last one that looks like it).
            for i in range(len(frames) - 1, -1, -1):
                if _is_barrier(frames[i]):
                    return frames[:i] + frames[i + 1:]
            return frames

    async def sync(self, timeout: float | None = None) -> None:
        """Wait until every event sent so far has been processed (a bare barrier)."""
        async with self._call_lock:
            if self._pending_callbacks:
                await asyncio.wait_for(asyncio.gather(*self._pending_callbacks, return_exceptions=True),
                                       timeout or self.timeout)
                self._pending_callbacks.clear()
            await self._barrier(timeout, "the barrier")

    async def navigate(self, route: str, query: dict | None = None, timeout: float | None = None) -> None:
        """Client-side navigation: on_load_internal with the new route, then wait for hydration."""
        async with self._call_lock:
            self.route, self.query = route, dict(query or {})
            mark = self._hydrations
            await self.emit(ON_LOAD_INTERNAL, {})
            await self._wait_hydrated(mark, timeout)

    async def rehydrate(self, payload: dict | None = None, timeout: float | None = None) -> None:
        """Send hydrate_and_load again on the open socket (what a reconnect does), then wait."""
        async with self._call_lock:
            mark = self._hydrations
            await self.emit(HYDRATE_EVENT, payload or {})
            await self._wait_hydrated(mark, timeout)

    # ----- reading -------------------------------------------------------
    def get(self, state: Any, var: str, default: Any = None) -> Any:
        return self.state.get(state_path(state), {}).get(var, default)

    def vars_of(self, state: Any) -> dict[str, Any]:
        return dict(self.state.get(state_path(state), {}))

    def all_text(self, frames: Iterable[Frame] | None = None) -> str:
        """Everything received (or the given frames) as one JSON-ish string, for leak searches."""
        return "\n".join(f.text() for f in (self.frames if frames is None else frames))

    def saw(self, needle: str) -> bool:
        """Whether `needle` was in any kept frame or is in the merged state."""
        return needle in self.all_text() or needle in json.dumps(self.state, default=str, ensure_ascii=False)

    @staticmethod
    def frontend_events(frames: Iterable[Frame]) -> list[dict]:
        return [e for f in frames for e in f.events]

    @staticmethod
    def redirects(frames: Iterable[Frame]) -> list[str]:
        return [(e.get("payload") or {}).get("path") for f in frames for e in f.events
                if e.get("name") == "_redirect"]

    @staticmethod
    def scripts(frames: Iterable[Frame]) -> list[str]:
        """JS of _call_function/_call_script events (toasts are _call_function)."""
        out = []
        for f in frames:
            for e in f.events:
                p = e.get("payload") or {}
                if e.get("name") in ("_call_function", "_call_script"):
                    out.append(str(p.get("function") or p.get("javascript_code") or ""))
        return out

    @classmethod
    def error_toasts(cls, frames: Iterable[Frame]) -> list[str]:
        """Error toasts: our handlers' rx.toast.error and Reflex's backend-exception toast."""
        return [s for s in cls.scripts(frames) if "toast" in s and "error" in s]

    @staticmethod
    def changed_vars(frames: Iterable[Frame], state: Any | None = None) -> dict[str, dict[str, Any]]:
        """Merged delta of the given frames (optionally of one state path only)."""
        merged: dict[str, dict[str, Any]] = {}
        for f in frames:
            for path, vars_ in f.delta.items():
                if state is None or path == state_path(state):
                    merged.setdefault(path, {}).update(vars_)
        return merged


async def open_client(base_url: str, session: Session | None = None, route: str = "/",
                      query: dict | None = None, **kwargs) -> ReflexClient:
    """A connected, hydrated tab."""
    client = ReflexClient(base_url, session, **kwargs)
    try:
        await client.connect(route, query)
    except BaseException:
        await client.close()
        raise
    return client
