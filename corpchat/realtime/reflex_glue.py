"""Every private Reflex 0.10.1 internal CorpChat relies on, in one place.

Reflex has no public API for who is connected or for a socket going away
(reflex#5669, PR #6126), so these functions reach into its event namespace,
token manager and state manager. tests/unit/test_reflex_glue.py pins each of
them: a Reflex upgrade that renames one fails there, not in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import Awaitable, Callable

import reflex as rx

log = logging.getLogger(__name__)

# Reflex's suffix of a state field on the wire (`reflex_base.vars` field naming).
WIRE_SUFFIX = "_rx_state_"

_app_instance = None


def app():
    """The running rx.App of this worker."""
    global _app_instance
    if _app_instance is None:
        from reflex.utils.prerequisites import get_and_validate_app

        _app_instance = get_and_validate_app().app
    return _app_instance


def namespace(the_app=None):
    """The Socket.IO namespace that carries every tab's events (`/_event`)."""
    return (the_app or app()).event_namespace


def token_manager(the_app=None):
    return namespace(the_app)._token_manager


def instance_id(the_app=None) -> str:
    """This worker's id among the workers sharing Redis (Reflex resets it when a worker starts)."""
    return token_manager(the_app).instance_id


def local_sid(token: str, the_app=None) -> str | None:
    """The Socket.IO sid of a tab whose socket is on THIS worker, else None."""
    manager = token_manager(the_app)
    record = manager.token_to_socket.get(token)
    if record is None or getattr(record, "instance_id", manager.instance_id) != manager.instance_id:
        return None
    return record.sid


async def is_connected(token: str, the_app=None) -> bool:
    """Whether the tab has a socket on any worker (with Redis: a record kept by Reflex in Redis)."""
    return await token_manager(the_app).is_token_connected(token)


async def token_owner(token: str, the_app=None) -> str | None:
    """The instance id of the worker holding the tab's socket (Redis only; None without Redis)."""
    manager = token_manager(the_app)
    get_owner = getattr(manager, "_get_token_owner", None)
    if get_owner is None:
        return None
    return await get_owner(token)


def sid_token(sid: str, the_app=None) -> str | None:
    """The tab token of a socket of this worker."""
    return namespace(the_app).sid_to_token.get(sid)


# ---------------------------------------------------------------------------
# The connect request
# ---------------------------------------------------------------------------
def connect_token(environ: dict) -> str | None:
    """The tab token of a connecting socket (the `?token=` of the upgrade request, as Reflex reads it)."""
    tokens = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("token", [])
    return tokens[0] if tokens else None


def connect_cookie(environ: dict) -> str:
    """The Cookie header of a connecting socket, joined exactly as Reflex joins it for
    `router.headers.cookie`: the digest compared here must be the one the guard stored."""
    from reflex.app import _decode_asgi_headers

    headers = _decode_asgi_headers(environ.get("asgi.scope", {}).get("headers", []))
    return headers.get("cookie", "")


# ---------------------------------------------------------------------------
# Connect / disconnect hooks
# ---------------------------------------------------------------------------
ConnectHook = Callable[[str, dict], Awaitable[None]]  # (token, environ)
TokenHook = Callable[[str], Awaitable[None]]  # (token)

_background: set[asyncio.Task] = set()


def add_connect_hook(the_app, hook: ConnectHook) -> None:
    """`hook(token, environ)` runs before a connecting socket's token is linked to it and before
    its hydrate event (which rides in the CONNECT packet) is processed. If it raises, the
    connection is refused: better than handing over a tab unchecked."""
    _hooks(the_app)[0].append(hook)


def add_disconnect_hook(the_app, hook: TokenHook) -> None:
    """`hook(token)` runs, as a task, once a socket linked to a tab token went away."""
    _hooks(the_app)[1].append(hook)


def _hooks(the_app) -> tuple[list[ConnectHook], list[TokenHook]]:
    """Wrap the namespace's on_connect/on_disconnect once (there is no public hook, reflex#5669).

    The wrappers are instance attributes, which python-socketio's dispatch (`getattr(self,
    "on_" + event)`) finds before the class methods."""
    ns = namespace(the_app)
    hooks = getattr(ns, "_corpchat_hooks", None)
    if hooks is not None:
        return hooks
    hooks = ns._corpchat_hooks = ([], [])
    original_connect = ns.on_connect
    original_disconnect = ns.on_disconnect

    async def on_connect(sid: str, environ: dict, auth=None):
        token = connect_token(environ)
        if token:
            for hook in hooks[0]:
                await hook(token, environ)
        return await original_connect(sid, environ, auth)

    def on_disconnect(sid: str, reason=None):
        token = ns.sid_to_token.get(sid)  # read before Reflex forgets the socket
        result = original_disconnect(sid)
        if token:
            loop = asyncio.get_running_loop()
            for hook in hooks[1]:
                task = loop.create_task(hook(token))
                _background.add(task)
                task.add_done_callback(_finished)
        return result

    ns.on_connect = on_connect
    ns.on_disconnect = on_disconnect
    return hooks


def _finished(task: asyncio.Task) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("disconnect hook failed", exc_info=task.exception())


# ---------------------------------------------------------------------------
# A tab's stored state
# ---------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def stored_state(token: str, the_app=None):
    """The tab's whole stored state tree, under its lock, saved on exit and sent to NO socket
    (unlike app.modify_state, which pushes the delta to the tab's current socket)."""
    the_app = the_app or app()
    root_cls = the_app._state
    async with the_app.state_manager.modify_state(rx.BaseStateToken(ident=token, cls=root_cls)) as root:
        yield root


async def has_stored_state(token: str, the_app=None) -> bool:
    """Whether the state manager holds a state for this tab (a new tab has none yet). Where it
    cannot tell (Redis), True: callers then look, to be safe."""
    the_app = the_app or app()
    manager = the_app.state_manager
    key = rx.BaseStateToken(ident=token, cls=the_app._state)
    states = getattr(manager, "states", None)
    if isinstance(states, dict):  # memory
        return key.cache_key in states
    # Redis keeps one key per substate, written only when it changed: no single key tells.
    return True


def leave_requirements_txt_alone() -> None:
    """Reflex's init rewrites requirements.txt at a first start (see corpchat/reflex_launcher.py).
    _init looks the function up on the module at call time, so replacing it here holds."""
    from reflex.utils import frontend_skeleton

    frontend_skeleton.initialize_requirements_txt = lambda *args, **kwargs: False


def tune_http_server(header_timeout_seconds: float, backlog: int) -> None:
    """Reflex builds Granian's Server with its defaults (reflex.utils.exec.run_granian_backend_prod
    imports `granian.server.Server` at call time), and those keep a socket that never sends a byte
    open forever: `--http auto` waits to sniff HTTP/1 vs HTTP/2 with no timeout, so ~1,100 silent
    connections starved every user. HTTP/1.1 only, with a header-read timeout that also covers
    idle keep-alive connections, closes them; HTTP/2 and TLS belong to the reverse proxy in front.
    Also raises this process's open-files limit to its hard limit (workers inherit it)."""
    import resource

    import granian.server
    from granian.constants import HTTPModes
    from granian.http import HTTP1Settings

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
    base = granian.server.Server
    if getattr(base, "_corpchat_tuned", False):
        return

    class TunedServer(base):
        _corpchat_tuned = True

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("http", HTTPModes.http1)
            kwargs.setdefault("http1_settings", HTTP1Settings(header_read_timeout=int(header_timeout_seconds * 1000)))
            kwargs.setdefault("backlog", backlog)
            super().__init__(*args, **kwargs)

    granian.server.Server = TunedServer


def drop_stored_state(token: str, the_app=None) -> bool:
    """Forget a tab's stored state now instead of after Reflex's hour (memory manager; with Redis
    the keys expire by themselves). Not while an event holds its lock. Returns whether dropped."""
    the_app = the_app or app()
    manager = the_app.state_manager
    purge = getattr(manager, "_purge_token", None)
    if purge is None:
        return False
    key = manager._coerce_token(rx.BaseStateToken(ident=token, cls=the_app._state))
    lock = manager._states_locks.get(key.lock_key)
    if lock is not None and lock.locked():
        return False
    purge(key)
    return True
