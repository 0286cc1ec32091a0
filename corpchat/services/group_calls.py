"""Group calls (issue 23, item 5): what a group's members see of its call and who may join it. The
call's lifecycle is services/calls.py's; this adds the group's side: the banner (room_call), the
tiles (participants), joining from the banner (joinable) and telling the group (news). No Reflex."""

from __future__ import annotations

from sqlalchemy import text

from corpchat import db
from corpchat.services import validate
from corpchat.services.access import access_room
from corpchat.services.errors import Forbidden, NotFound
from corpchat.services.events import GroupCallChanged, Push
from corpchat.services.message_views import display_name
from corpchat.services.visibility import blocked_either_way, blocked_set, room_members


def participants(actor_id: int, call_id) -> list[dict]:
    """The others in my call now, for my tiles (nothing unless I am in it). A blocked person's
    photo is not shown (their initials are)."""
    call_id = validate.ident(call_id)
    with db.session() as s:
        rows = s.exec(text(
            "SELECT m.peer_id, m.user_id, m.mic, m.camera, u.login, u.real_name, u.avatar_id "
            "FROM call_members m JOIN calls c ON c.id = m.call_id JOIN users u ON u.id = m.user_id "
            "WHERE m.call_id = :c AND m.state = 'joined' AND c.state <> 'ended' AND m.user_id <> :u "
            "AND EXISTS (SELECT 1 FROM call_members me WHERE me.call_id = :c AND me.user_id = :u "
            "AND me.state = 'joined') ORDER BY m.joined_at"), params={"c": call_id, "u": actor_id}).all()
        hidden = blocked_set(s, actor_id) if rows else set()
    return [{"peer_id": r.peer_id, "user_id": r.user_id, "name": display_name(r), "mic": r.mic, "camera": r.camera,
             "avatar_id": "" if r.user_id in hidden else (r.avatar_id or "")} for r in rows]


def room_call(actor_id: int, room_id) -> dict | None:
    """The call running in a group of mine, for its banner: {call_id, kind, count, mine} (mine: I am
    in it, from another tab); None when none runs (or the chat is a private one: its calls ring,
    they have no banner)."""
    with db.session() as s:
        room, _ = access_room(s, actor_id, room_id)
        if room.kind == "private":
            return None
        row = s.exec(text(
            "SELECT c.id, c.kind, count(m.user_id) FILTER (WHERE m.state = 'joined') AS n, "
            "bool_or(m.user_id = :u AND m.state = 'joined') AS mine FROM calls c "
            "LEFT JOIN call_members m ON m.call_id = c.id WHERE c.room_id = :r AND c.state <> 'ended' "
            "GROUP BY c.id ORDER BY c.id DESC LIMIT 1"), params={"r": room.id, "u": actor_id}).first()
    return {"call_id": row.id, "kind": row.kind, "count": row.n, "mine": bool(row.mine)} if row and row.n else None


# ----- inside calls.py's transaction -------------------------------------------------------
def joinable(s, actor_id: int, call, state):
    """My place in the call as accept() should take it: in a group, any member may join (never rung
    for it, or declined it: as one who left), though never with someone on either side of a block."""
    if _kind(s, call.room_id) == "private":
        if state is None:
            raise NotFound()
        return state
    access_room(s, actor_id, call.room_id)
    if any(blocked_either_way(s, actor_id, u) for u in _inside(s, call.id)):
        raise Forbidden("err.call_no_join")  # not which of them: that would tell of the block
    return "left" if state == "declined" else state


def news(s, call) -> list[Push]:
    """A group call's members changed: every member of the group hears how many are in it now."""
    if _kind(s, call.room_id) == "private":
        return []
    inside = tuple(_inside(s, call.id)) if call.state != "ended" else ()
    return [Push(room_members(s, call.room_id), GroupCallChanged(call.room_id, call_id=call.id, kind=call.kind,
                                                                 count=len(inside), inside=inside))]


def _kind(s, room_id: int) -> str:
    return s.exec(text("SELECT kind FROM rooms WHERE id = :r"), params={"r": room_id}).scalar()


def _inside(s, call_id: int) -> list[int]:
    return list(s.exec(text("SELECT user_id FROM call_members WHERE call_id = :c AND state = 'joined'"),
                       params={"c": call_id}).scalars())
