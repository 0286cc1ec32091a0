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


def restart():
    """A new process: every in-memory count and cache is gone; the database stays."""
    accounts._logins = LoginThrottle(5, 300)


def test_a_spray_from_four_addresses_does_not_lock_the_owner_out_after_a_restart():
    """19#6, scenario 1: known addresses were in process memory, so after a restart the owner,
    from home, was refused like any stranger."""
    login = new_login("rst")
    home = "198.51.100.30"
    assert accounts.authenticate(login, PASSWORD, ip=home).login == login
    restart()
    for n in range(4):
        outcomes = [fail(login, f"192.0.2.{40 + n}") for _ in range(5)]
        assert outcomes == [NotAuthenticated] * 5
    with pytest.raises(Throttled):  # a new address is refused while the spray lasts ...
        accounts.authenticate(login, PASSWORD, ip="192.0.2.99")
    restart()
    for n in range(4):
        for _ in range(5):
            fail(login, f"192.0.2.{50 + n}")
    assert accounts.authenticate(login, PASSWORD, ip=home).login == login  # ... home never is


def test_failures_at_a_shared_address_do_not_lock_out_the_users_behind_it():
    """19#6, scenario 2: an office behind one NAT address; someone there fails 21 times."""
    office = "203.0.113.40"
    colleagues = [new_login("nat") for _ in range(3)]
    for login in colleagues:
        assert accounts.authenticate(login, PASSWORD, ip=office).login == login
    restart()
    guessed = [new_login("tgt") for _ in range(6)]
    outcomes = [fail(login, office) for login in guessed for _ in range(4)]
    assert outcomes.count(NotAuthenticated) == 20 and outcomes[-1] is Throttled
    for login in colleagues:  # everyone who logged in from the office before still can
        assert accounts.authenticate(login, PASSWORD, ip=office).login == login
    # A colleague's own typos at the office count against that colleague only.
    for _ in range(3):
        fail(colleagues[0], office)
    assert accounts.authenticate(colleagues[1], PASSWORD, ip=office).login == colleagues[1]
    with pytest.raises(Throttled):  # and the guessing goes on being refused
        accounts.authenticate(guessed[0], PASSWORD, ip=office)


def test_known_addresses_are_bounded_per_user():
    from sqlalchemy import text

    from corpchat import db

    login = new_login("many")
    for n in range(30):
        accounts.authenticate(login, PASSWORD, ip=f"198.51.100.{100 + n}")
    with db.engine().connect() as conn:
        rows = conn.execute(text("SELECT address FROM login_addresses la JOIN users u ON u.id = la.user_id "
                                 "WHERE u.login = :l"), {"l": login}).scalars().all()
    assert len(rows) == 20 and "198.51.100.129" in rows and "198.51.100.100" not in rows


def test_registration_is_limited_per_address():
    for i in range(5):
        accounts.register(f"reg{secrets.token_hex(3)}{i}", PASSWORD, ip="203.0.113.12")
    with pytest.raises(Throttled) as err:
        accounts.register(f"reg{secrets.token_hex(3)}", PASSWORD, ip="203.0.113.12")
    assert err.value.key == "err.throttled_register"
    assert accounts.register(f"reg{secrets.token_hex(3)}", PASSWORD, ip="203.0.113.13")
