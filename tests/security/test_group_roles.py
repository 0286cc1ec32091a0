"""The group role matrix over the raw WebSocket (issue 22): every forbidden action a client can
send is refused with an error toast, changes nothing in the database and leaks nothing."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from corpchat import db
from corpchat.models import GroupLog, Message, Participant, Room
from corpchat.state.chat import ChatState
from tests import wsclient as w
from tests.e2e.helpers import PASSWORD
from tests.factories import make_group

pytestmark = pytest.mark.asyncio(loop_scope="session")

H = lambda name: w.handler_name(ChatState, name)  # noqa: E731
MISSING = 2_000_000_000


def snapshot(room: int) -> tuple:
    """Everything an administrative action could change: name, members and roles, log, messages."""
    with db.session() as s:
        name = s.exec(select(Room.name).where(Room.id == room)).scalar_one_or_none()
        people = sorted(s.exec(select(Participant.user_id, Participant.role)
                               .where(Participant.room_id == room)).all())
        logs = s.exec(select(func.count()).select_from(GroupLog).where(GroupLog.room_id == room)).scalar_one()
        msgs = s.exec(select(func.count()).select_from(Message).where(Message.room_id == room)).scalar_one()
    return name, [tuple(p) for p in people], logs, msgs


@pytest.fixture
async def team(app_server):
    suffix = secrets.token_hex(3)
    names = ("own", "adm", "adb", "mem", "out", "gon")
    sessions = {n: await w.register(app_server.url, f"gr{n}{suffix}", PASSWORD) for n in names}
    ids = {n: s.user_id for n, s in sessions.items()}
    room = make_group(ids["own"], ids["adm"], ids["adb"], ids["mem"], ids["gon"],
                      admins=(ids["adm"], ids["adb"]), name="Roles")
    tabs = {}
    for n, session in sessions.items():
        tab = w.ReflexClient(app_server.url, session)
        await tab.connect("/")
        if n != "out":
            await tab.call(H("open_room"), room_id=room)
        tabs[n] = tab
    yield tabs, ids, room
    for tab in tabs.values():
        await tab.close()


def _matrix(ids: dict, room: int) -> list[tuple[str, str, dict]]:
    return [
        ("mem", "change_role", {"room_id": room, "user_id": ids["mem"], "role": "admin"}),
        ("mem", "change_role", {"room_id": room, "user_id": ids["mem"], "role": "owner"}),
        ("mem", "transfer_ownership", {"room_id": room, "user_id": ids["mem"]}),
        ("mem", "add_members", {"room_id": room, "user_ids": [ids["out"]]}),
        ("mem", "remove_member", {"room_id": room, "user_id": ids["adm"]}),
        ("mem", "rename_group", {"room_id": room, "new_name": "mine"}),
        ("mem", "delete_group", {"room_id": room}),
        ("adm", "change_role", {"room_id": room, "user_id": ids["own"], "role": "member"}),
        ("adm", "change_role", {"room_id": room, "user_id": ids["adb"], "role": "member"}),
        ("adm", "change_role", {"room_id": room, "user_id": ids["mem"], "role": "owner"}),
        ("adm", "remove_member", {"room_id": room, "user_id": ids["own"]}),
        ("adm", "remove_member", {"room_id": room, "user_id": ids["adb"]}),
        ("adm", "transfer_ownership", {"room_id": room, "user_id": ids["adm"]}),
        ("adm", "delete_group", {"room_id": room}),
        ("out", "add_members", {"room_id": room, "user_ids": [ids["out"]]}),
        ("out", "rename_group", {"room_id": room, "new_name": "taken"}),
        ("out", "remove_member", {"room_id": room, "user_id": ids["mem"]}),
        ("out", "delete_group", {"room_id": room}),
        ("own", "add_members", {"room_id": room, "user_ids": [MISSING]}),
        ("own", "add_members", {"room_id": room, "user_ids": "1,2"}),
        ("own", "add_members", {"room_id": room, "user_ids": [ids["out"]] * 5000}),
        ("own", "remove_member", {"room_id": room, "user_id": MISSING}),
        ("own", "change_role", {"room_id": room, "user_id": ids["mem"], "role": "god"}),
        ("own", "rename_group", {"room_id": room, "new_name": "x" * 10_000}),
        ("own", "rename_group", {"room_id": room, "new_name": "   "}),
        ("own", "rename_group", {"room_id": MISSING, "new_name": "forged"}),
        ("own", "rename_group", {"room_id": "1 OR 1=1", "new_name": "forged"}),
        ("own", "rename_group", {"room_id": -1, "new_name": "forged"}),
        ("own", "delete_group", {"room_id": [room]}),
    ]


async def test_every_forbidden_group_action_is_refused_and_changes_nothing(team):
    tabs, ids, room = team
    for actor, name, payload in _matrix(ids, room):
        before = snapshot(room)
        frames = await tabs[actor].call(H(name), _payload=payload)
        assert w.ReflexClient.error_toasts(frames), f"{actor} {name} {str(payload)[:80]}: no error shown"
        assert snapshot(room) == before, f"{actor} {name} {str(payload)[:80]} changed the group"


async def test_a_removed_member_cannot_read_or_post_from_an_old_tab(team):
    tabs, ids, room = team
    old = tabs["gon"]
    assert not w.ReflexClient.error_toasts(
        await tabs["own"].call(H("remove_member"), room_id=room, user_id=ids["gon"]))
    await old.wait_for(lambda c: c.get(ChatState, "room_id") == 0, what="the removed member's tab closes the group")
    before = snapshot(room)
    frames = await old.call(H("open_room"), room_id=room)
    assert old.get(ChatState, "room_id") != room and w.ReflexClient.error_toasts(frames)
    await old.call(H("send_message"), form_data={"text": "still here?", "client_id": secrets.token_hex(8)})
    assert snapshot(room) == before
    assert "still here?" not in str(w.ReflexClient.changed_vars(old.frames))


async def test_html_in_a_group_name_is_stored_as_text(team):
    tabs, _, room = team
    name = '<img src=x onerror="alert(1)"> & <b>Team</b>'
    frames = await tabs["own"].call(H("rename_group"), room_id=room, new_name=name)
    assert not w.ReflexClient.error_toasts(frames)
    assert snapshot(room)[0] == name


async def test_a_member_never_gets_an_audit_log_entry(team):
    tabs, ids, room = team
    await tabs["own"].call(H("rename_group"), room_id=room, new_name="Logged rename")
    member = tabs["mem"]
    await member.call(H("open_panel"))
    frames = await member.call(H("show_panel_tab"), tab="log")
    frames += await member.call(H("more_log"))
    assert w.ReflexClient.error_toasts(frames)
    assert not member.get(ChatState, "log")
    shown = [v for f in member.frames for v in f.delta.get(w.state_path(ChatState), {}).get("log", []) or []]
    assert shown == []
