"""Accounts on a real PostgreSQL: registration, login, tokens, revocation, throttling."""

from __future__ import annotations

import time

import jwt
import pytest

from corpchat.config import settings
from corpchat.services import accounts
from corpchat.services.errors import Conflict, Invalid, NotAuthenticated, Throttled

PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def fresh_throttle(monkeypatch):
    monkeypatch.setattr(accounts, "_logins", accounts.LoginThrottle(5, 300))


def test_register_and_login(db_clean):
    ident = accounts.register("Alice", PASSWORD, PASSWORD)
    assert ident.login == "Alice"
    assert accounts.authenticate("alice", PASSWORD).user_id == ident.user_id
    assert accounts.authenticate("ALICE", PASSWORD).user_id == ident.user_id


@pytest.mark.parametrize("variant", ["alice", "ALICE", "aLiCe"])
def test_duplicate_login_in_any_case_is_refused(db_clean, variant):
    accounts.register("Alice", PASSWORD)
    with pytest.raises(Conflict) as err:
        accounts.register(variant, PASSWORD)
    assert err.value.key == "err.login_taken"


@pytest.mark.parametrize("login", ["ab", "a" * 33, "bad login", "<script>", "", None, 5, ["x"], {"a": 1}])
def test_bad_logins_are_refused(db_clean, login):
    with pytest.raises(Invalid):
        accounts.register(login, PASSWORD)


def test_password_rules(db_clean):
    with pytest.raises(Invalid) as short:
        accounts.register("bob", "short")
    assert short.value.key == "err.password_short"
    with pytest.raises(Invalid) as long_:
        accounts.register("bob", "я" * 37)  # 74 bytes in UTF-8
    assert long_.value.key == "err.password_long"
    with pytest.raises(Invalid) as mismatch:
        accounts.register("bob", PASSWORD, PASSWORD + "x")
    assert mismatch.value.key == "err.password_mismatch"
    assert accounts.register("bob", "x" * 72).login == "bob"  # exactly 72 bytes is fine


def test_bad_credentials_are_generic(db_clean):
    accounts.register("carol", PASSWORD)
    with pytest.raises(NotAuthenticated) as wrong:
        accounts.authenticate("carol", "wrong password")
    with pytest.raises(NotAuthenticated) as unknown:
        accounts.authenticate("nobody", "wrong password")
    assert wrong.value.key == unknown.value.key == "err.bad_credentials"
    with pytest.raises(NotAuthenticated):
        accounts.authenticate("carol", "x" * 100)


def test_throttling_per_login_and_per_ip(db_clean):
    accounts.register("dave", PASSWORD)
    for _ in range(5):
        with pytest.raises(NotAuthenticated):
            accounts.authenticate("dave", "nope-nope", ip="10.0.0.1")
    with pytest.raises(Throttled):  # even the right password waits now, from that address
        accounts.authenticate("dave", PASSWORD, ip="10.0.0.1")
    assert accounts.authenticate("dave", PASSWORD, ip="10.0.0.2").login == "dave"
    for i in range(20):
        with pytest.raises((NotAuthenticated, Throttled)):
            accounts.authenticate(f"spray{i}", "nope-nope", ip="10.9.9.9")
    accounts.register("erin", PASSWORD)
    with pytest.raises(Throttled):
        accounts.authenticate("erin", PASSWORD, ip="10.9.9.9")
    assert accounts.authenticate("erin", PASSWORD, ip="10.0.0.3").login == "erin"


def test_token_roundtrip_and_revocation_on_logout(db_clean):
    ident = accounts.register("frank", PASSWORD)
    token = accounts.issue_token(ident)
    assert accounts.verify_token(token).user_id == ident.user_id
    accounts.logout(ident.user_id)
    with pytest.raises(NotAuthenticated):
        accounts.verify_token(token)
    fresh = accounts.issue_token(accounts.authenticate("frank", PASSWORD))
    assert accounts.verify_token(fresh).user_id == ident.user_id


# The tabs re-check their session through verify_token_async (the event loop's own connection).
async def test_async_token_check_agrees_with_the_sync_one(db_clean):
    ident = accounts.register("heidi", PASSWORD)
    token = accounts.issue_token(ident)
    assert await accounts.verify_token_async(token) == accounts.verify_token(token) == ident
    for bad in ("", "not.a.token", None, 42, "x" * 5000):
        with pytest.raises(NotAuthenticated):
            await accounts.verify_token_async(bad)
    accounts.logout(ident.user_id)
    with pytest.raises(NotAuthenticated):
        await accounts.verify_token_async(token)


def test_password_change_revokes_old_tokens(db_clean):
    ident = accounts.register("grace", PASSWORD)
    old = accounts.issue_token(ident)
    with pytest.raises(Invalid) as wrong:  # the session is fine; the form is not
        accounts.change_password(ident.user_id, "wrong password", "new password 1")
    assert wrong.value.key == "err.wrong_current_password"
    assert accounts.verify_token(old).user_id == ident.user_id  # a failed change revokes nothing
    new_ident = accounts.change_password(ident.user_id, PASSWORD, "new password 1", "new password 1")
    with pytest.raises(NotAuthenticated):
        accounts.verify_token(old)
    assert accounts.verify_token(accounts.issue_token(new_ident)).user_id == ident.user_id
    with pytest.raises(NotAuthenticated):
        accounts.authenticate("grace", PASSWORD)
    assert accounts.authenticate("grace", "new password 1").user_id == ident.user_id


def _claims(ident, **overrides):
    now = int(time.time())
    claims = {"sub": str(ident.user_id), "sv": ident.session_version, "iat": now, "exp": now + 60}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_forged_tokens_are_refused(db_clean):
    ident = accounts.register("heidi", PASSWORD)
    secret = settings.jwt_secret
    unsigned = jwt.encode(_claims(ident), key=None, algorithm="none")
    other_key = jwt.encode(_claims(ident), "another-secret-that-is-long-enough-000000", algorithm="HS256")
    expired = jwt.encode(_claims(ident, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), secret,
                         algorithm="HS256")
    no_exp = jwt.encode(_claims(ident, exp=None), secret, algorithm="HS256")
    no_iat = jwt.encode(_claims(ident, iat=None), secret, algorithm="HS256")
    no_sub = jwt.encode(_claims(ident, sub=None), secret, algorithm="HS256")
    good = accounts.issue_token(ident)
    head, body, sig = good.split(".")
    tampered_body = jwt.encode(_claims(ident, sub="999999"), "x" * 40, algorithm="HS256").split(".")[1]
    tampered = ".".join([head, tampered_body, sig])
    for token in [unsigned, other_key, expired, no_exp, no_iat, no_sub, tampered, "", "garbage", None, 42,
                  {"sub": "1"}, "a" * 10_000]:
        with pytest.raises(NotAuthenticated):
            accounts.verify_token(token)


def test_short_or_default_secret_is_refused():
    from dataclasses import replace

    from corpchat.config import ConfigError

    for bad in ["", "secret", "change-me", "x" * 31]:
        with pytest.raises(ConfigError):
            replace(settings, jwt_secret=bad).check_secret()
    replace(settings, jwt_secret="y" * 32).check_secret()
