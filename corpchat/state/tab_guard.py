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
from corpchat.services.rate_limits import TokenBucket
from corpchat.state.base import AuthState, _fingerprint

log = logging.getLogger(__name__)
_new_tabs = TokenBucket(settings.new_tabs_burst, settings.new_tabs_per_minute)


def _address(environ: dict) -> str:
    scope = environ.get("asgi.scope") or {"type": "http", "headers": []}
    return client_address.of(HTTPConnection(scope))


def cookie_matches(stored_digest: str, cookie_header: str) -> bool:
    """Only a digest the guard stored counts: an empty one (never logged in, or forgotten after a
    failed check, with the old screen maybe still in the state) matches nothing."""
    return bool(stored_digest) and hmac.compare_digest(stored_digest, _fingerprint(cookie_header))


async def check_connection(token: str, environ: dict) -> None:
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


def install(app) -> None:
    reflex_glue.add_connect_hook(app, check_connection)
    reflex_glue.add_disconnect_hook(app, forget_anonymous_tab)


@contextlib.asynccontextmanager
async def lifespan(app):
    """Per worker, once the app is up: check every connection before it reaches its tab's state."""
    install(app)
    yield
