"""Throttling that stops guessing without handing anyone a way to lock an account
(issue 11, finding 4), and registration per address. Driven through the service with
different client addresses; tests/security/test_http.py does it once over HTTP."""

from __future__ import annotations

import secrets

import pytest

from corpchat.services import accounts
from corpchat.services.errors import NotAuthenticated, Throttled
from corpchat.services.throttle import FailureCounter, LoginThrottle

PASSWORD = "correct horse 12"


@pytest.fixture(autouse=True)
def fresh_counters(monkeypatch):
    """The limits of .env.example's defaults, counted from zero."""
    monkeypatch.setattr(accounts, "_logins", LoginThrottle(5, 300))
    monkeypatch.setattr(accounts, "_registrations", FailureCounter(5, 600))


def new_login(prefix: str) -> str:
    login = f"{prefix}{secrets.token_hex(3)}"
    accounts.register(login, PASSWORD, ip=f"10.77.{secrets.randbelow(250)}.{secrets.randbelow(250)}")
    return login


def fail(login: str, ip: str) -> type[Exception]:
    with pytest.raises((NotAuthenticated, Throttled)) as err:
        accounts.authenticate(login, "wrong password", ip=ip)
    return err.type


def test_ten_wrong_passwords_from_x_do_not_lock_out_y():
    login = new_login("own")
    outcomes = [fail(login, "203.0.113.10") for _ in range(10)]
    assert outcomes[:5] == [NotAuthenticated] * 5 and outcomes[5:] == [Throttled] * 5
    assert accounts.authenticate(login, PASSWORD, ip="198.51.100.20").login == login
    with pytest.raises(Throttled):  # the guessing address itself stays throttled
        accounts.authenticate(login, PASSWORD, ip="203.0.113.10")


def test_one_address_guessing_many_logins_is_stopped():
    logins = [new_login("spr") for _ in range(6)]
    outcomes = [fail(login, "203.0.113.11") for login in logins for _ in range(4)]
    assert outcomes.count(NotAuthenticated) == 20 and outcomes[-1] is Throttled
    with pytest.raises(Throttled):
        accounts.authenticate(logins[-1], PASSWORD, ip="203.0.113.11")
    assert accounts.authenticate(logins[-1], PASSWORD, ip="198.51.100.21").login == logins[-1]


def test_a_spray_from_many_addresses_never_locks_out_the_owner_where_they_logged_in():
    login = new_login("bot")
    home = "198.51.100.22"
    assert accounts.authenticate(login, PASSWORD, ip=home).login == login
    for n in range(40):  # a botnet: few guesses per address, many addresses
        for _ in range(3):
            fail(login, f"192.0.2.{n}")
    # Unknown addresses are stopped for this login now, even with the right password ...
    with pytest.raises(Throttled):
        accounts.authenticate(login, PASSWORD, ip="192.0.2.200")
    # ... and the owner, from where they logged in before, is not.
    assert accounts.authenticate(login, PASSWORD, ip=home).login == login
    # The owner's own typos from home count against home only, like anyone's.
    for _ in range(2):
        fail(login, home)
    assert accounts.authenticate(login, PASSWORD, ip=home).login == login


def test_registration_is_limited_per_address():
    for i in range(5):
        accounts.register(f"reg{secrets.token_hex(3)}{i}", PASSWORD, ip="203.0.113.12")
    with pytest.raises(Throttled) as err:
        accounts.register(f"reg{secrets.token_hex(3)}", PASSWORD, ip="203.0.113.12")
    assert err.value.key == "err.throttled_register"
    assert accounts.register(f"reg{secrets.token_hex(3)}", PASSWORD, ip="203.0.113.13")
