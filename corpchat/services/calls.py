"""Calls (issue 23): who may call whom, the ring -> answered / declined / missed -> ended lifecycle,
and the peer ids the signalling route (api/signalling.py) believes. No Reflex here.

The server decides everything a browser could lie about: only members of the chat ring or join;
never across a block (the one rule, visibility.blocked_either_way); one live call per user, said
by the database (a partial unique index), so a second ring finds the callee busy even when two
callers race; a ring unanswered for `call_ring_seconds` is missed. A member gets a random peer id
and a random peer token when they join, returned only to the tab that joined (the handler's own
answer, never a push): the signalling socket must show the user's session cookie and that token,
so nobody registers or takes another user's or another tab's id, and a message passes only
between peers of one live call.

The call's record in the chat is one system message, written when it ends (its duration, or
"missed" / "declined"), keyed by the call so a retried end writes it once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from corpchat import db
from corpchat.config import settings
from corpchat.services import group_calls, rate_limits, system_messages, validate
from corpchat.services.access import access_room
from corpchat.services.errors import Conflict, Forbidden, Invalid, NotFound
from corpchat.services.events import CallAccepted, CallEnded, CallMediaChanged, CallRinging, Push
from corpchat.services.message_views import display_name
from corpchat.services.visibility import blocked_either_way, room_members

KINDS = ("video", "voice")
MAX_PARTICIPANTS = 6  # a mesh: every participant sends to every other one


@dataclass(frozen=True)
class Seat:
    """What the one tab that started or joined a call gets (and no other tab)."""

    call_id: int
    room_id: int
    kind: str
    peer_id: str
    peer_token: str
    remote_peers: tuple[str, ...]  # the peers already in the call, for this tab to dial
    pushes: list[Push] = field(default_factory=list)
    group: bool = False  # a group's call (tiles; the tab's chat list may not hold the chat)
    since: datetime | None = None  # joining a call that runs: when it was first answered (the timer's start)


@dataclass(frozen=True)
class Peer:
    """A peer id as the signalling route sees it."""

    peer_id: str
    user_id: int
    call_id: int
    token: str
    live: bool  # the member is in the call and the call has not ended


def start(actor_id: int, room_id, kind) -> Seat:
    """Ring the other members of the chat; the caller joins at once (their tab shows "calling…")."""
    if kind not in KINDS:
        raise Invalid()
    rate_limits.check("call", actor_id)
    with db.session() as s:
        room, _ = access_room(s, actor_id, room_id, lock=True)
        members = room_members(s, room.id)
        early = _end_overdue(s, members)  # a ring past its time keeps nobody busy
        others = [u for u in members if u != actor_id]
        if room.kind == "private":
            if not others:
                raise NotFound()
            _lock_pair(s, actor_id, others[0])
            if blocked_either_way(s, actor_id, others[0]):
                raise Forbidden("err.call_blocked")
        else:
            others = [u for u in others if not blocked_either_way(s, actor_id, u)]
        call_id = s.exec(text("INSERT INTO calls (room_id, caller_id, kind) VALUES (:r, :u, :k) RETURNING id"),
                         params={"r": room.id, "u": actor_id, "k": kind}).scalar_one()
        peer_id, token = _new_peer()
        if not _insert_member(s, call_id, actor_id, "joined", peer_id, token):
            raise Conflict("err.call_already")
        rung = tuple(u for u in others if _insert_member(s, call_id, u, "ringing"))
        if not rung:
            raise Conflict("err.call_busy")  # the whole transaction goes: no call, no record
        name = display_name(s.exec(text("SELECT login, real_name FROM users WHERE id = :u"),
                                   params={"u": actor_id}).first())
        ring = Push(rung, CallRinging(room.id, call_id=call_id, caller_id=actor_id, kind=kind, caller_name=name))
        news = group_calls.news(s, _lock_call(s, call_id))
    return Seat(call_id, room.id, kind, peer_id, token, (), [*early, ring, *news], group=room.kind != "private")


def accept(actor_id: int, call_id) -> Seat:
    """Join a call that rings me (or a running group call of my group, from its banner, rung or
    not, declined or left before): this tab gets its peer id and the peers to dial; every member
    is told, which stops the ringing in my other tabs.
    A ring past its time ends as missed instead: the Seat has no peer id, only those pushes."""
    with db.session() as s:
        call, state = _my_call(s, actor_id, call_id, joining=True)
        state = group_calls.joinable(s, actor_id, call, state)
        if call.state == "ended" or state not in ("ringing", "left", None):
            raise Conflict("err.call_over")
        if _overdue(call):
            return Seat(call.id, call.room_id, call.kind, "", "", (), _end(s, call, "missed"))
        joined = _joined_peers(s, call.id)
        if len(joined) >= MAX_PARTICIPANTS:
            raise Conflict("err.call_full")
        peer_id, token = _new_peer()
        try:
            with s.begin_nested():
                if state is None and not _insert_member(s, call.id, actor_id, "joined", peer_id, token):
                    raise Conflict("err.call_already")
                s.exec(text("UPDATE call_members SET state = 'joined', peer_id = :p, peer_token = :t, "
                            "joined_at = now(), mic = true, camera = true WHERE call_id = :c AND user_id = :u"),
                       params={"p": peer_id, "t": token, "c": call.id, "u": actor_id})
        except Conflict:
            raise
        except Exception as exc:  # the one-live-call index: I am in another call already
            raise Conflict("err.call_already") from exc
        if call.state == "ringing":
            s.exec(text("UPDATE calls SET state = 'active', answered_at = now() WHERE id = :c"), params={"c": call.id})
        told = Push(_members(s, call.id), CallAccepted(call.room_id, call_id=call.id, user_id=actor_id))
        news = group_calls.news(s, call)
    return Seat(call.id, call.room_id, call.kind, peer_id, token, tuple(joined), [told, *news], group=bool(news),
                since=call.answered_at)


def decline(actor_id: int, call_id) -> list[Push]:
    """Refuse a call that rings me: a one-to-one call ends ("declined"); in a group only I stop ringing."""
    with db.session() as s:
        call, state = _my_call(s, actor_id, call_id)
        if call.state == "ended" or state != "ringing":
            return []
        _set_state(s, call.id, actor_id, "declined")
        if _is_private(s, call.room_id):
            return _end(s, call, "declined", actor=actor_id)
        return _end_if_empty(s, call)


def hang_up(actor_id: int, call_id) -> list[Push]:
    """Leave the call. A one-to-one call ends for both; a group call ends when one is left. The
    caller hanging up before anyone answered leaves a missed call."""
    with db.session() as s:
        call, state = _my_call(s, actor_id, call_id)
        if call.state == "ended" or state not in ("joined", "ringing"):
            return []
        _set_state(s, call.id, actor_id, "declined" if state == "ringing" else "left")
        if _is_private(s, call.room_id):
            return _end(s, call, "answered" if call.state == "active" else "missed")
        return _end_if_empty(s, call)


def set_media(actor_id: int, call_id, mic, camera) -> Push | None:
    """Tell the others in the call that my microphone or camera is now on or off."""
    if not isinstance(mic, bool) or not isinstance(camera, bool):
        raise Invalid()
    rate_limits.check("call_media", actor_id)
    with db.session() as s:
        call, state = _my_call(s, actor_id, call_id)
        if call.state == "ended" or state != "joined":
            return None
        s.exec(text("UPDATE call_members SET mic = :m, camera = :v WHERE call_id = :c AND user_id = :u"),
               params={"m": mic, "v": camera, "c": call.id, "u": actor_id})
        others = tuple(u for u in _members(s, call.id) if u != actor_id)
    return Push(others, CallMediaChanged(call.room_id, call_id=call.id, user_id=actor_id, mic=mic, camera=camera))


def expire(call_id) -> list[Push]:
    """End a call that rang past its time as missed (anyone may ask; before its time nothing happens).
    A group call someone answered goes on: those it still rings stop ringing (it is over for them)."""
    call_id = validate.ident(call_id)
    with db.session() as s:
        call = _lock_call(s, call_id)
        if call is not None and call.state == "active" and _overdue(call, ringing=False):
            rung = tuple(s.exec(text("UPDATE call_members SET state = 'declined' WHERE call_id = :c "
                                     "AND state = 'ringing' RETURNING user_id"), params={"c": call.id}).scalars())
            return [Push(rung, CallEnded(call.room_id, call_id=call.id, outcome="missed"))] if rung else []
        if call is None or not _overdue(call):
            return []
        return _end(s, call, "missed")


def end_between(a: int, b: int) -> list[Push]:
    """A block between `a` and `b` ends every live call they are both in (one-to-one calls)."""
    with db.session() as s:
        _lock_pair(s, a, b)
        rows = s.exec(text(
            "SELECT c.id FROM calls c JOIN call_members x ON x.call_id = c.id AND x.user_id = :a "
            "JOIN call_members y ON y.call_id = c.id AND y.user_id = :b WHERE c.state <> 'ended' "
            "AND x.state IN ('ringing', 'joined') AND y.state IN ('ringing', 'joined')"),
            params={"a": a, "b": b}).scalars().all()
        out: list[Push] = []
        for cid in rows:
            call = _lock_call(s, cid)
            if call is not None and call.state != "ended":
                out += _end(s, call, "answered" if call.state == "active" else "missed")
        return out


def leave_room(user_id: int, room_id: int) -> list[Push]:
    """A member removed from a group leaves its live call at once."""
    with db.session() as s:
        rows = s.exec(text("SELECT c.id FROM calls c JOIN call_members m ON m.call_id = c.id AND m.user_id = :u "
                           "WHERE c.room_id = :r AND c.state <> 'ended' AND m.state IN ('ringing', 'joined')"),
                      params={"u": user_id, "r": room_id}).scalars().all()
        out: list[Push] = []
        for cid in rows:
            call = _lock_call(s, cid)
            _set_state(s, cid, user_id, "left")
            out += _end_if_empty(s, call)
        return out


def leave_all(user_id: int) -> list[Push]:
    """The user's last tab is gone: the call they are in ends for them, so a closed browser leaves
    no one in a call with nobody. A call still ringing them rings on until it is missed (they may
    open a tab in time)."""
    live = live_call(user_id)
    if live is None or live["ringing"]:
        return []
    return hang_up(user_id, live["call_id"])


def live_call(user_id: int) -> dict | None:
    """My live call, if any (a tab opened later shows the ringing or the call)."""
    with db.session() as s:
        row = s.exec(text(
            "SELECT c.id, c.room_id, c.kind, c.caller_id, c.state, c.created_at, m.state AS mine, u.login, "
            "u.real_name FROM calls c JOIN call_members m ON m.call_id = c.id AND m.user_id = :u "
            "LEFT JOIN users u ON u.id = c.caller_id "
            "WHERE c.state <> 'ended' AND m.state IN ('ringing', 'joined')"), params={"u": user_id}).first()
        if row is None or (row.state == "ringing" and _overdue(row)):
            return None
        return {"call_id": row.id, "room_id": row.room_id, "kind": row.kind, "caller_id": row.caller_id or 0,
                "caller_name": display_name(row) if row.login else "", "ringing": row.mine == "ringing"}


# ----- for the signalling route -----------------------------------------------------------
def peer(peer_id: str) -> Peer | None:
    if not isinstance(peer_id, str) or not 8 <= len(peer_id) <= 40:
        return None
    with db.session() as s:
        row = s.exec(text("SELECT m.user_id, m.call_id, m.peer_token, m.state, c.state AS call_state "
                          "FROM call_members m JOIN calls c ON c.id = m.call_id WHERE m.peer_id = :p"),
                     params={"p": peer_id}).first()
    if row is None:
        return None
    return Peer(peer_id, row.user_id, row.call_id, row.peer_token or "",
                row.state == "joined" and row.call_state != "ended")


def live_peer_id(user_id: int) -> str | None:
    """The peer id of the user's joined live call (PeerServer's id route)."""
    with db.session() as s:
        return s.exec(text("SELECT m.peer_id FROM call_members m JOIN calls c ON c.id = m.call_id "
                           "WHERE m.user_id = :u AND m.state = 'joined' AND c.state <> 'ended'"),
                      params={"u": user_id}).scalar()


def call_peers(call_id: int) -> set[str]:
    """The peer ids that may exchange messages in this call now (empty once it ended)."""
    with db.session() as s:
        return set(_joined_peers(s, call_id))


# ----- inside a transaction -----------------------------------------------------------------
def _new_peer() -> tuple[str, str]:
    return "cc" + secrets.token_hex(16), secrets.token_urlsafe(24)


def _insert_member(s, call_id: int, user_id: int, state: str, peer_id=None, token=None) -> bool:
    """False when the user is in another live call already (the partial unique index)."""
    row = s.exec(text(
        "INSERT INTO call_members (call_id, user_id, state, peer_id, peer_token, joined_at) "
        "VALUES (:c, :u, CAST(:st AS text), :p, :t, CASE WHEN CAST(:st AS text) = 'joined' THEN now() END) "
        "ON CONFLICT (user_id) WHERE state IN ('ringing', 'joined') DO NOTHING RETURNING 1"),
        params={"c": call_id, "u": user_id, "st": state, "p": peer_id, "t": token}).first()
    return row is not None


def _lock_pair(s, a: int, b: int) -> None:
    """One at a time per pair: a 1:1 call started while a block commits. Without it `start` read
    "not blocked" before the block committed and `end_between` looked before the new call
    committed, so the call stayed live between two blocked people (issue 24: 32 of 500 raced rounds).
    With it, end_between waits for the start and sees its call, or the start sees the block."""
    lo, hi = sorted((a, b))
    s.exec(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), params={"k": f"call-pair:{lo}:{hi}"})


def _lock_call(s, call_id: int):
    return s.exec(text("SELECT id, room_id, caller_id, kind, state, created_at, answered_at FROM calls "
                       "WHERE id = :c FOR UPDATE"), params={"c": call_id}).first()


def _my_call(s, actor_id: int, call_id, joining: bool = False):
    """The call, locked, and my state in it (`joining`: None when I have none, for group_calls to judge)."""
    call_id = validate.ident(call_id)
    call = _lock_call(s, call_id)
    if call is None:
        raise NotFound()
    state = s.exec(text("SELECT state FROM call_members WHERE call_id = :c AND user_id = :u"),
                   params={"c": call_id, "u": actor_id}).scalar()
    if state is None and not joining:
        raise NotFound()
    return call, state


def _overdue(call, ringing: bool = True) -> bool:
    """Its ring is past its time (`ringing`: and nobody answered it)."""
    deadline = datetime.now(UTC) - timedelta(seconds=settings.call_ring_seconds)
    return (call.state == "ringing" or not ringing) and call.created_at < deadline


def _end_overdue(s, user_ids) -> list[Push]:
    """End as missed the rings past their time that these users are in (the timeout task did not
    run: a restarted server)."""
    out: list[Push] = []
    for cid in s.exec(text("SELECT DISTINCT c.id FROM calls c JOIN call_members m ON m.call_id = c.id "
                           "WHERE m.user_id = ANY(:u) AND c.state = 'ringing' ORDER BY c.id"),
                      params={"u": list(user_ids)}).scalars().all():
        call = _lock_call(s, cid)
        if _overdue(call):
            out += _end(s, call, "missed")
    return out


def _set_state(s, call_id: int, user_id: int, state: str) -> None:
    s.exec(text("UPDATE call_members SET state = :st WHERE call_id = :c AND user_id = :u"),
           params={"st": state, "c": call_id, "u": user_id})


def _joined_peers(s, call_id: int) -> list[str]:
    return list(s.exec(text("SELECT m.peer_id FROM call_members m JOIN calls c ON c.id = m.call_id "
                            "WHERE m.call_id = :c AND m.state = 'joined' AND c.state <> 'ended' "
                            "ORDER BY m.joined_at"), params={"c": call_id}).scalars())


def _members(s, call_id: int) -> tuple[int, ...]:
    return tuple(s.exec(text("SELECT user_id FROM call_members WHERE call_id = :c ORDER BY user_id"),
                        params={"c": call_id}).scalars())


def _is_private(s, room_id: int) -> bool:
    return s.exec(text("SELECT kind FROM rooms WHERE id = :r"), params={"r": room_id}).scalar() == "private"


def _end_if_empty(s, call) -> list[Push]:
    """A group call runs while two are in it (or, unanswered, while someone still rings)."""
    left = s.exec(text("SELECT count(*) FILTER (WHERE state = 'joined'), count(*) FILTER (WHERE state = 'ringing') "
                       "FROM call_members WHERE call_id = :c"), params={"c": call.id}).one()
    if left[0] >= 2 or (call.state == "ringing" and left[0] >= 1 and left[1] >= 1):
        return group_calls.news(s, call)
    return _end(s, call, "answered" if call.state == "active" else "missed")


def _end(s, call, outcome: str, actor: int | None = None) -> list[Push]:
    """End the call for everyone, once: every member leaves it, the chat gets its record."""
    now = datetime.now(UTC)
    s.exec(text("UPDATE calls SET state = 'ended', outcome = :o, ended_at = :now WHERE id = :c"),
           params={"o": outcome, "now": now, "c": call.id})
    s.exec(text("UPDATE call_members SET state = CASE WHEN state = 'joined' THEN 'left' ELSE 'declined' END "
                "WHERE call_id = :c AND state IN ('ringing', 'joined')"), params={"c": call.id})
    if outcome == "answered":
        seconds = int((now - (call.answered_at or now)).total_seconds())
        note = system_messages.write(s, call.room_id, "call_ended", actor=call.caller_id, old=call.kind,
                                     new=duration(seconds), key=f"call:{call.id}")
    elif outcome == "declined":
        note = system_messages.write(s, call.room_id, "call_declined", actor=actor, target=call.caller_id,
                                     old=call.kind, key=f"call:{call.id}")
    else:
        note = system_messages.write(s, call.room_id, "call_missed", actor=call.caller_id, old=call.kind,
                                     key=f"call:{call.id}")
    ended = Push(_members(s, call.id), CallEnded(call.room_id, call_id=call.id, outcome=outcome))
    return [ended, *group_calls.news(s, call)] + ([note] if note is not None else [])


def duration(seconds: int) -> str:
    """"0:07", "12:30", "1:02:03": the same in every language."""
    h, rest = divmod(max(0, seconds), 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
