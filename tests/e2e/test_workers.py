"""Two app instances sharing Redis and PostgreSQL (as several workers or hosts do):
users connected to different instances exchange messages and reactions live."""

from __future__ import annotations

import itertools
import os
import secrets

import pytest
from playwright.sync_api import expect

from tests import support
from tests.e2e.helpers import bubble as _bubble
from tests.e2e.helpers import open_chat_with as _open_chat_with
from tests.e2e.helpers import register, unique
from tests.e2e.helpers import send_text as _send
from tests.security.test_http import error_of, logged_in, post

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_up() -> bool:
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except Exception:
        return False


@pytest.fixture(scope="module")
def two_instances():
    if not _redis_up():
        pytest.skip(f"needs Redis at {REDIS_URL} (.ci/run starts one)")
    apps = []
    try:
        for name in ("w1", "w2"):
            env = {"REFLEX_REDIS_URL": REDIS_URL, "REFLEX_WEB_WORKDIR": str(support.ROOT / f".web-{name}"),
                   "GRANIAN_WORKERS": "1"}
            apps.append(support.AppProcess(env=env, log_name=name).start())
        yield apps
    finally:
        for app in apps:
            app.stop()


def test_users_on_different_instances_chat_live(browser, two_instances, shots):
    one, two = two_instances
    ctx_a = browser.new_context(base_url=one.url, viewport={"width": 1000, "height": 700})
    ctx_b = browser.new_context(base_url=two.url, viewport={"width": 1000, "height": 700})
    try:
        anna, boris = ctx_a.new_page(), ctx_b.new_page()
        a, b = unique("wa"), unique("wb")
        register(anna, a)
        register(boris, b)
        _open_chat_with(anna, b)
        _send(anna, "hello across workers")
        entry = boris.locator(".chat-entry", has_text=a)
        expect(entry.locator(".unread")).to_have_text("1")
        entry.click()
        expect(_bubble(boris, "across workers")).to_be_visible()
        _send(boris, "and back again")
        expect(_bubble(anna, "back again")).to_be_visible()
        _bubble(anna, "back again").locator(".react-button").click()
        anna.locator(".quick-reaction", has_text="🎉").click()
        expect(_bubble(boris, "back again").locator(".reaction")).to_contain_text("🎉")
        shots(anna, "instance-1")
        shots(boris, "instance-2")
    finally:
        ctx_a.close()
        ctx_b.close()


def test_a_removed_member_on_another_worker_is_evicted_there(two_instances):
    """Issue 20#2 across workers: the owner's tabs on one instance, the removed member's on the
    other; the eviction travels with the push (RoomLeft) and is applied there."""
    import asyncio
    import threading

    from tests.e2e.test_seam import removal_scenario

    one, two = two_instances
    failure: list[BaseException] = []

    def run() -> None:  # sync Playwright may hold this thread's event loop: a thread of its own
        try:
            asyncio.run(removal_scenario(one.url, two.url))
        except BaseException as exc:  # noqa: BLE001 (re-raised below, in the test's thread)
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the scenario did not finish in 120 s"
    if failure:
        raise failure[0]


def test_wrong_passwords_spread_over_two_workers_count_once(two_instances):
    """The login throttle counts in Redis: alternating between the workers does not buy twice
    the guesses (in-process counters allowed 2 x 5 here), and the owner's address that logged
    in before still gets in."""
    from corpchat.config import settings

    one, two = two_instances
    login = f"thr{secrets.token_hex(3)}"
    assert logged_in(post(one, "/api/register", {"login": login, "password": "correct horse 12",
                                                 "password_repeat": "correct horse 12"}))
    guesser = "127.0.0.41"  # loopback answers from any 127/8 source
    errors = [error_of(post(app, "/api/login", {"login": login, "password": "wrong password"},
                            local_address=guesser))
              for app in itertools.islice(itertools.cycle(two_instances), 2 * settings.login_max_failures)]
    assert errors.count("err.bad_credentials") == settings.login_max_failures, errors
    assert errors[settings.login_max_failures:] == ["err.throttled"] * settings.login_max_failures
    for app in two_instances:  # every worker refuses the guessing address now
        r = post(app, "/api/login", {"login": login, "password": "correct horse 12"}, local_address=guesser)
        assert error_of(r) == "err.throttled"
    # The owner, from the address the account was registered from, is not locked out.
    assert logged_in(post(two, "/api/login", {"login": login, "password": "correct horse 12"}))
