"""A tab token is not a login: a connection gets a tab's stored state only with that tab's cookie.

Reflex keeps a tab's state after its socket closed (up to an hour) and answers
the hydrate event with the whole stored state BEFORE any on_load guard runs. The
token travels in the WebSocket URL (proxy logs, history), so whoever replays it
would receive the last user's screen in the first frame. Before a connection is
linked to its token, its Cookie header is compared with the digest of the cookie
the guard accepted for that tab (AuthState._cookie_digest); on any mismatch the
stored state is reset to defaults before a single delta can be computed from it.
"""

from __future__ import annotations

import contextlib
import hmac
import logging

from starlette.requests import HTTPConnection

from corpchat.api import client_address
from corpchat.config import settings
from corpchat.realtime import reflex_glue
from corpchat.services import accounts
from corpchat.services.errors import ServiceError
from corpchat.services.rate_limits import TokenBucket
from corpchat.state.base import AuthState, _fingerprint, _session_cookie

log = logging.getLogger(__name__)
_new_tabs = TokenBucket(settings.new_tabs_burst, settings.new_tabs_per_minute)
# The tabs of each logged-in user connected to this worker (tab token -> user, user -> tokens).
_user_of: dict[str, int] = {}
_tabs_of: dict[int, set[str]] = {}


def _address(environ: dict) -> str:
    scope = environ.get("asgi.scope") or {"type": "http", "headers": []}
    return client_address.of(HTTPConnection(scope))


def cookie_matches(stored_digest: str, cookie_header: str) -> bool:
    """Only a digest the guard stored counts: an empty one (never logged in, or forgotten after a
    failed check, with the old screen maybe still in the state) matches nothing."""
    return bool(stored_digest) and hmac.compare_digest(stored_digest, _fingerprint(cookie_header))


async def check_connection(token: str, environ: dict) -> None:
    await _check_stored_state(token, environ)
    await _count_user_tab(token, environ)


async def _count_user_tab(token: str, environ: dict) -> None:
    """At most TABS_PER_USER open sockets per logged-in user on this worker: every tab loads its
    page as it connects, and one user's 225 tabs loading at once held other people's messages
    up to p99 490 ms. The per-address bucket alone let them in (one user, one address)."""
    try:
        user_id, _ = accounts.decode_token(_session_cookie(reflex_glue.connect_cookie(environ)))
    except ServiceError:
        return  # not logged in: such tabs are counted per address, and load nothing
    tabs = _tabs_of.setdefault(user_id, set())
    if token not in tabs and len(tabs) >= settings.tabs_per_user:
        # A socket whose connection failed after this hook never said goodbye: forget those.
        for stale in [t for t in tabs if not await reflex_glue.is_connected(t)]:
            _forget_tab(stale)
        tabs = _tabs_of.setdefault(user_id, set())
        if len(tabs) >= settings.tabs_per_user:
            raise ConnectionRefusedError("too many open tabs for this user")
    tabs.add(token)
    _user_of[token] = user_id


def _forget_tab(token: str) -> None:
    user_id = _user_of.pop(token, None)
    tabs = _tabs_of.get(user_id)
    if tabs is not None:
        tabs.discard(token)
        if not tabs:
            del _tabs_of[user_id]


async def _check_stored_state(token: str, environ: dict) -> None:
    # A token whose socket is still open gets a NEW token from Reflex (duplicate tab), so the
    # stored state is not handed over; resetting it here would only break the open tab.
    if await reflex_glue.is_connected(token):
        return
    # A new tab has nothing to hand over: loading (creating) and resetting its state here
    # cost every connection a whole state tree. New tabs are what one client can mint without
    # an account, so they are counted per address.
    if not await reflex_glue.has_stored_state(token):
        if not _new_tabs.take(_address(environ)):
            raise ConnectionRefusedError("too many new tabs from this address")
        return
    cookie = reflex_glue.connect_cookie(environ)
    async with reflex_glue.stored_state(token) as root:
        auth = await root.get_state(AuthState)
        if cookie_matches(auth._cookie_digest, cookie):
            return
        root.reset()
    log.debug("tab %s… connected without its session cookie: stored state reset", token[:8])


async def forget_anonymous_tab(token: str) -> None:
    """A tab that never logged in keeps nothing worth an hour of memory once its socket is gone
    (~20 KB each: one client opening anonymous tabs grew a worker by 555 MB in 70 s). Its next
    connection, if any, starts from defaults like a new tab."""
    if await reflex_glue.is_connected(token) or not await reflex_glue.has_stored_state(token):
        return
    async with reflex_glue.stored_state(token) as root:
        if (await root.get_state(AuthState))._cookie_digest:
            return
    reflex_glue.drop_stored_state(token)


async def tab_closed(token: str) -> None:
    if not await reflex_glue.is_connected(token):  # not a reconnect that came first
        _forget_tab(token)


def install(app) -> None:
    reflex_glue.add_connect_hook(app, check_connection)
    reflex_glue.add_disconnect_hook(app, tab_closed)
    reflex_glue.add_disconnect_hook(app, forget_anonymous_tab)


@contextlib.asynccontextmanager
async def lifespan(app):
    """Per worker, once the app is up: check every connection before it reaches its tab's state."""
    install(app)
    yield
