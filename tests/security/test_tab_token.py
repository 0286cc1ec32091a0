"""A tab token is not a credential (issue 11, finding 1).

Bob opens a private chat in a tab (token T) and closes it. Reflex keeps T's state
(up to an hour) and answers a hydrate on T with the whole stored state before
any on_load guard runs. Whoever reconnects with T without Bob's session cookie
(no cookie, another user's, a forged one) must get none of Bob's data in any
frame; Bob's own cookie on T still gets his screen back (a reload). Runs with
the memory state manager and with Redis.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt
import pytest
import pytest_asyncio

from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.state.base import AuthState
from corpchat.state.chat import ChatState
from tests import support
from tests import wsclient as w

PASSWORD = "correct horse 12"
REDIS_URL = support.REDIS_URL


@pytest.fixture(scope="module", params=["memory", "redis"])
def tt_app(request):
    env: dict[str, str] = {}
    if request.param == "redis":
        if not support.redis_up():
            pytest.skip(f"needs Redis at {REDIS_URL}")
        env.update(REFLEX_REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=f"tt{secrets.token_hex(4)}")
    app = support.AppProcess(env=env, log_name=f"tabtoken-{request.param}").start()
    yield app
    app.stop()


@dataclass
class World:
    url: str
    bob: w.Session
    mallory: w.Session
    secret: str
    room: int


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(tt_app) -> World:
    suffix = secrets.token_hex(3)
    bob = await w.register(tt_app.url, f"bob{suffix}", PASSWORD)
    carol = await w.register(tt_app.url, f"carol{suffix}", PASSWORD)
    mallory = await w.register(tt_app.url, f"mallory{suffix}", PASSWORD)
    secret = f"SECRET-{secrets.token_hex(8)}"
    room = rooms.open_private(bob.user_id, carol.user_id)
    for sender in (bob, carol):
        msg_service.send_sync(sender.user_id, room, f"{secret} from {sender.login}", uuid.uuid4().hex)
    return World(tt_app.url, bob, mallory, secret, room)


async def bobs_closed_tab(world: World) -> str:
    """The token of a tab in which Bob had the private chat open, now closed."""
    token = str(uuid.uuid4())
    client = w.ReflexClient(world.url, world.bob, token=token)
    try:
        await client.connect("/")
        await client.call(f"{ChatState.get_full_name()}.open_room", room_id=world.room)
        assert client.saw(world.secret), "setup: Bob's tab did not show the chat"
    finally:
        await client.close()
    await asyncio.sleep(0.5)  # the server has seen the socket go (else T counts as a duplicate tab)
    return token


def assert_nothing_of_bob(client: w.ReflexClient, world: World) -> None:
    assert client.frames, "no frame at all"
    for i, frame in enumerate(client.frames):
        text = frame.text()
        assert world.secret not in text, f"frame {i} holds Bob's messages"
        assert world.bob.login not in text, f"frame {i} holds Bob's login"
        chat = frame.delta.get(ChatState.get_full_name(), {})
        assert chat.get("my_id") != world.bob.user_id, f"frame {i} holds Bob's my_id"
        assert not chat.get("chats"), f"frame {i} holds a chat list"
        assert chat.get("room_id") in (None, 0), f"frame {i} holds Bob's open room"


def forged_cookie(world: World) -> str:
    now = int(time.time())
    token = jwt.encode({"sub": str(world.bob.user_id), "sv": 0, "iat": now, "exp": now + 3600},
                       secrets.token_hex(32), algorithm="HS256")
    return f"{w.COOKIE_NAME}={token}"


@pytest.mark.parametrize("who", ["no_cookie", "other_user", "forged", "tampered"])
async def test_replayed_token_gets_none_of_bobs_state(world, who):
    token = await bobs_closed_tab(world)
    cookies = {
        "no_cookie": "",
        "other_user": world.mallory.cookie_header,
        "forged": forged_cookie(world),
        "tampered": world.bob.cookie_header[:-4] + "AAAA",
    }
    client = w.ReflexClient(world.url, None, cookie=cookies[who] or None, token=token)
    try:
        await client.connect("/")
        assert_nothing_of_bob(client, world)
        if who == "other_user":  # Mallory gets her own (empty) screen, on the same token
            assert client.get(AuthState, "me_login") == world.mallory.login
    finally:
        await client.close()
    # Bob's stored screen is gone for good, not only hidden from that one connection.
    again = w.ReflexClient(world.url, None, token=token)
    try:
        await asyncio.sleep(0.5)
        await again.connect("/")
        assert_nothing_of_bob(again, world)
    finally:
        await again.close()


async def test_replay_without_hydrate_then_events_gets_nothing(world):
    """A socket that skips the hydrate and sends some other event first."""
    token = await bobs_closed_tab(world)
    client = w.ReflexClient(world.url, None, token=token)
    try:
        await client.connect("/", hydrate=False)
        await client.call(w.BARRIER_EVENT.rsplit(".", 1)[0] + ".set_is_hydrated", value=True)
        await client.call(f"{ChatState.get_full_name()}.load_older")
        assert not client.saw(world.secret) and world.bob.login not in str(client.state)
    finally:
        await client.close()


async def test_bobs_own_cookie_keeps_his_screen(world):
    """A reload (same token, same cookie) keeps the open chat."""
    token = await bobs_closed_tab(world)
    client = w.ReflexClient(world.url, world.bob, token=token)
    try:
        await client.connect("/")
        assert client.get(AuthState, "me_login") == world.bob.login
        assert client.get(ChatState, "room_id") == world.room
        assert client.saw(world.secret)
    finally:
        await client.close()
