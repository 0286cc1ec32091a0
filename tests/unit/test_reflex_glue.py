"""Contract of corpchat/realtime/reflex_glue.py with the installed Reflex.

Every private Reflex internal CorpChat uses is exercised here on a real
EventNamespace, token manager and memory state manager (no server): a Reflex
upgrade that renames or reshapes one of them fails HERE, loudly, instead of
silently turning off the tab guard or the disconnect signal in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import uuid

import pytest
import reflex as rx
from reflex import app as reflex_app
from reflex.app import EventNamespace
from reflex.istate.manager.memory import StateManagerMemory
from reflex.utils import prerequisites
from reflex.utils import token_manager as tm

from corpchat.realtime import reflex_glue
from corpchat.state import tab_guard
from corpchat.state.base import AuthState, _fingerprint
from corpchat.state.chat import ChatState


class FakeApp:
    """What EventNamespace and reflex_glue read from rx.App."""

    def __init__(self):
        self._state = rx.State
        self._event_processor = None
        self.state_manager = StateManagerMemory()
        self.event_namespace = EventNamespace("/_event", self)


@pytest.fixture
def fake_app(monkeypatch):
    app = FakeApp()
    monkeypatch.setattr(reflex_glue, "_app_instance", app)
    return app


def environ(token: str | None, cookie: str = "") -> dict:
    headers = [(b"host", b"127.0.0.1")]
    if cookie:
        headers += [(b"cookie", part.encode()) for part in cookie.split("\n")]
    return {"QUERY_STRING": f"token={token}&EIO=4&transport=websocket" if token else "EIO=4",
            "asgi.scope": {"headers": headers, "client": ("127.0.0.1", 5000)}, "REMOTE_ADDR": "127.0.0.1"}


def test_private_names_still_exist():
    assert callable(prerequisites.get_and_validate_app)
    assert callable(reflex_app._decode_asgi_headers)
    assert {"sid", "instance_id"} <= {f.name for f in dataclasses.fields(tm.SocketRecord)}
    for name in ("token_to_socket", "sid_to_token", "instance_id"):
        assert hasattr(tm.LocalTokenManager(), name), name
    assert inspect.iscoroutinefunction(tm.TokenManager.is_token_connected)
    assert inspect.iscoroutinefunction(tm.RedisTokenManager._get_token_owner)
    # The wrapped handlers, with the arguments the wrappers pass on.
    assert list(inspect.signature(EventNamespace.on_connect).parameters) == ["self", "sid", "environ", "auth"]
    assert list(inspect.signature(EventNamespace.on_disconnect).parameters) == ["self", "sid"]
    assert hasattr(rx.State, "reset")


def test_wire_suffix_is_reflex_s():
    root = rx.State(_reflex_internal_init=True)
    auth = root.get_substate(AuthState.get_full_name().split(".")[1:])
    auth.me_login = "x"
    delta = asyncio.run(root._get_resolved_delta())
    assert delta[AuthState.get_full_name()] == {"me_login" + reflex_glue.WIRE_SUFFIX: "x"}


def test_connect_request_is_read_as_reflex_reads_it():
    env = environ("tok", "a=1\ncorpchat_session=abc")
    assert reflex_glue.connect_token(env) == "tok"
    assert reflex_glue.connect_token(environ(None)) is None
    assert reflex_glue.connect_cookie(env) == "a=1; corpchat_session=abc"  # repeated headers joined by "; "
    assert reflex_glue.connect_cookie(environ("t")) == ""


async def test_hooks_wrap_connect_and_disconnect(fake_app):
    ns = fake_app.event_namespace
    seen = []

    async def before(token, env):
        seen.append(("connect", token, reflex_glue.sid_token("sid1")))  # not linked yet

    async def after(token):
        seen.append(("gone", token, await reflex_glue.is_connected(token)))

    reflex_glue.add_connect_hook(fake_app, before)
    reflex_glue.add_disconnect_hook(fake_app, after)
    reflex_glue.add_disconnect_hook(fake_app, after)  # a second hook: the wrapper is installed once
    token = str(uuid.uuid4())
    # Dispatch as python-socketio does (disconnect comes with a reason).
    await ns.trigger_event("connect", "sid1", environ(token))
    assert reflex_glue.sid_token("sid1") == token
    assert reflex_glue.local_sid(token) == "sid1"
    assert await reflex_glue.is_connected(token)
    assert await reflex_glue.token_owner(token) is None  # local manager: no owner lookup
    assert reflex_glue.instance_id() == ns._token_manager.instance_id
    await ns.trigger_event("disconnect", "sid1", "client disconnect")
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == [("connect", token, None), ("gone", token, False), ("gone", token, False)]
    assert reflex_glue.local_sid(token) is None


async def test_stored_state_reset_clears_backend_and_public_vars(fake_app):
    token = str(uuid.uuid4())
    async with reflex_glue.stored_state(token) as root:
        chat = await root.get_state(ChatState)
        chat._user_id, chat._cookie_digest, chat.me_login, chat.my_id = 5, "d", "bob", 5
        chat.chats = [{"id": 1}]
    async with reflex_glue.stored_state(token) as root:
        chat = await root.get_state(ChatState)
        assert chat.me_login == "bob"  # kept between connections
        root.reset()
    async with reflex_glue.stored_state(token) as root:
        chat = await root.get_state(ChatState)
        assert (chat._user_id, chat._cookie_digest, chat.me_login, chat.my_id, chat.chats) == (0, "", "", 0, [])


async def test_tab_guard_resets_unless_the_cookie_matches(fake_app):
    good = "corpchat_session=good"

    async def leave_tab(token):
        async with reflex_glue.stored_state(token) as root:
            auth = await root.get_state(AuthState)
            auth._user_id, auth._cookie_digest, auth.me_login = 5, _fingerprint(good), "bob"

    async def login_after(token, cookie):
        await tab_guard.check_connection(token, environ(token, cookie))
        async with reflex_glue.stored_state(token) as root:
            return (await root.get_state(AuthState)).me_login

    for cookie, kept in [(good, "bob"), ("", ""), ("corpchat_session=other", ""), ("x=1", "")]:
        token = str(uuid.uuid4())
        await leave_tab(token)
        assert await login_after(token, cookie) == kept, cookie


async def test_tab_guard_leaves_a_connected_tab_alone(fake_app):
    """Reflex gives a duplicate connection of an open tab a new token; the open tab keeps its state."""
    token = str(uuid.uuid4())
    async with reflex_glue.stored_state(token) as root:
        auth = await root.get_state(AuthState)
        auth._cookie_digest, auth.me_login = _fingerprint("corpchat_session=good"), "bob"
    await fake_app.event_namespace._token_manager.link_token_to_sid(token, "sid-open")
    await tab_guard.check_connection(token, environ(token, ""))
    async with reflex_glue.stored_state(token) as root:
        assert (await root.get_state(AuthState)).me_login == "bob"


async def test_has_stored_state_on_the_memory_manager():
    """tab_guard skips new tabs with it: a wrong answer would hand a stored screen over."""
    from types import SimpleNamespace

    import reflex as rx
    from reflex.istate.manager.memory import StateManagerMemory

    from corpchat.realtime import reflex_glue
    from corpchat.state.chat import ChatState

    root = ChatState.get_root_state()
    manager = StateManagerMemory()
    the_app = SimpleNamespace(state_manager=manager, _state=root)
    assert await reflex_glue.has_stored_state("never-seen", the_app) is False
    async with manager.modify_state(rx.BaseStateToken(ident="seen-tab", cls=root)):
        pass
    assert await reflex_glue.has_stored_state("seen-tab", the_app) is True


async def test_an_anonymous_tab_is_forgotten_when_its_socket_goes(fake_app):
    """A tab that never logged in loses its stored state at disconnect; a logged-in tab keeps it
    (a reconnect shows the same screen); a tab still connected is left alone."""
    anonymous, logged_in, open_tab = (str(uuid.uuid4()) for _ in range(3))
    for token in (anonymous, logged_in, open_tab):
        async with reflex_glue.stored_state(token) as root:
            auth = await root.get_state(AuthState)
            auth.me_login = "seen"
            if token == logged_in:
                auth._cookie_digest = _fingerprint("corpchat_session=good")
    await fake_app.event_namespace._token_manager.link_token_to_sid(open_tab, "sid-open")
    for token in (anonymous, logged_in, open_tab):
        await tab_guard.forget_anonymous_tab(token)
    assert await reflex_glue.has_stored_state(anonymous) is False
    assert await reflex_glue.has_stored_state(logged_in) is True
    assert await reflex_glue.has_stored_state(open_tab) is True


def test_the_requirements_txt_hook_still_exists():
    from reflex.utils import frontend_skeleton

    assert callable(getattr(frontend_skeleton, "initialize_requirements_txt", None))
