"""REGISTRATION and DIRECTORY (19#7f): who may join, and whom a user can find and look at."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import sys

import pytest

from corpchat.services import accounts, directory, presence, profiles, rooms
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.messages import send_sync
from tests.factories import make_user

PASSWORD = "password123"


def _mode(monkeypatch, **changes):
    monkeypatch.setattr(directory, "settings", dataclasses.replace(directory.settings, **changes))


def _login() -> str:
    return "d" + secrets.token_hex(5)


def test_registration_open_closed_and_by_invitation(monkeypatch):
    assert accounts.register(_login(), PASSWORD)  # open: the default
    _mode(monkeypatch, registration="closed")
    with pytest.raises(Forbidden) as closed:
        accounts.register(_login(), PASSWORD)
    assert closed.value.key == "err.registration_closed"
    assert accounts.register(_login(), PASSWORD, by_admin=True)  # the administrator still can
    _mode(monkeypatch, registration="invite", registration_invite_code="let-me-in-2026")
    for wrong in (None, "", "let-me-in", ["let-me-in-2026"]):
        with pytest.raises(Invalid) as refused:
            accounts.register(_login(), PASSWORD, invite=wrong)
        assert refused.value.key == "err.invite_wrong"
    assert accounts.register(_login(), PASSWORD, invite=" let-me-in-2026 ")


def test_directory_of_contacts_shows_only_the_people_i_share_a_chat_with(monkeypatch, db_clean):
    me, mate, stranger = (make_user(n) for n in ("dirme", "dirmate", "dirstranger"))
    send_sync(me, rooms.open_private(me, mate), "hi", secrets.token_hex(8))
    everyone = {p["id"] for p in rooms.search_users(me, "dir")}
    assert everyone == {mate, stranger}
    _mode(monkeypatch, directory="contacts")
    assert {p["id"] for p in rooms.search_users(me, "dir")} == {mate}
    assert {p["id"] for p in rooms.search_users(me, "DIRSTRANGER")} == {stranger}  # an exact login
    assert profiles.get_profile(me, mate).user_id == mate
    with pytest.raises(NotFound):
        profiles.get_profile(me, stranger)
    assert set(presence.people_views(me, [mate, stranger])) == {mate}
    rooms.open_private(me, stranger)  # found by exact login: the chat makes them known
    assert profiles.get_profile(me, stranger).user_id == stranger


def test_the_administrator_creates_an_account_from_the_command_line():
    login = _login()
    done = subprocess.run([sys.executable, "-m", "corpchat.cli", "create-user", login], input=PASSWORD + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert accounts.authenticate(login, PASSWORD, ip="198.51.100.90").login == login


@pytest.mark.parametrize("changes", [{"registration": "sometimes"}, {"registration": "invite"},
                                     {"registration": "invite", "registration_invite_code": "short"},
                                     {"directory": "friends"}])
def test_a_wrong_setting_stops_the_start(changes):
    from corpchat.config import ConfigError
    from corpchat.runtime_checks import check_startup

    with pytest.raises(ConfigError):
        check_startup(dataclasses.replace(directory.settings, **changes))
