"""Races on a real PostgreSQL (issue 24 item 5): the same message edited, deleted and reacted to
from several threads at once, reactions toggled concurrently, a member removed while they send.
Also avatars switched and deleted from two tabs at once, and a block while a call is being set up
or accepted. Each runs 1,000 iterations and checks the invariants after every one."""

from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from sqlalchemy import func, select

from corpchat import db
from corpchat.models import Message, MessageReaction, Participant, User, UserAvatar
from corpchat.services import avatars, blocks, calls, groups, messages, rate_limits, rooms
from corpchat.services.errors import Conflict, Forbidden, Invalid, NotFound
from corpchat.services.messages import MAX_REACTIONS_PER_USER
from tests.factories import make_group, make_user

ITERATIONS = 1000
REFUSED = (Forbidden, Invalid, NotFound, Conflict)


@pytest.fixture
def trio(db_clean, monkeypatch):
    monkeypatch.setattr(rate_limits, "check", lambda *a: None)  # thousands of actions in seconds: not a flood
    owner, ann, ben = (make_user(n) for n in ("rowner", "rann", "rben"))
    return owner, ann, ben, make_group(owner, ann, ben, admins=(ann,), name="Races")


def _send(actor: int, room: int, text: str) -> int:
    return messages.send_sync(actor, room, text, uuid.uuid4().hex).message["id"]


def _race(*calls) -> None:
    """Run the calls at once (released together by a barrier); refusals are expected outcomes."""
    gate = threading.Barrier(len(calls))

    def one(call):
        gate.wait()
        try:
            call()
        except REFUSED:
            pass

    with ThreadPoolExecutor(len(calls)) as pool:
        list(pool.map(one, calls))


def test_edits_deletes_and_reactions_of_one_message_at_once(trio):
    """A deleted message stays deleted (no edit brings its text back, no reaction survives it);
    a message that was not deleted holds one of the texts written, and its reactions are unique."""
    owner, ann, ben, room = trio
    rng = random.Random(24)
    violations = []
    for i in range(ITERATIONS):
        mid = _send(ann, room, f"original {i}")
        calls = [partial(messages.edit, ann, mid, f"first {i}"), partial(messages.edit, ann, mid, f"second {i}"),
                 partial(messages.toggle_reaction, ben, mid, "👍"), partial(messages.delete_for_me, ben, mid)]
        if rng.random() < 0.5:
            calls.append(partial(messages.delete_for_everyone, rng.choice((ann, owner)), mid))
        _race(*calls)
        with db.session() as s:
            m = s.get(Message, mid)
            reactions = s.exec(select(MessageReaction.user_id, MessageReaction.reaction)
                               .where(MessageReaction.message_id == mid)).all()
        if m.deleted_at is not None and (m.text or m.payload or reactions):
            violations.append((i, "deleted but kept", m.text, reactions))
        if m.deleted_at is None and m.text not in (f"original {i}", f"first {i}", f"second {i}"):
            violations.append((i, "text", m.text))
        # "delete for me" may come after "for everyone" and be refused (the message is gone)
        if len(reactions) != len(set(reactions)) or (m.deleted_at is None and ben not in (m.hidden_for or [])):
            violations.append((i, "reactions or hidden_for", reactions, m.hidden_for))
    assert violations == []


def test_reactions_toggled_concurrently_end_by_parity_and_never_pass_the_cap(trio):
    owner, ann, ben, room = trio
    mid = _send(owner, room, "react to me")
    faces = ["👍", "❤️", "😂", "🎉", "🔥", "👀", "🙏", "💯", "✅", "🚀"] * 3  # 30 kinds > the cap of 20
    rng = random.Random(7)
    toggles: dict[tuple[int, str], int] = {}
    lock = threading.Lock()
    plan = [(rng.choice((ann, ben)), rng.choice(faces[:10])) for _ in range(ITERATIONS)]

    def one(step):
        user, face = step
        try:
            messages.toggle_reaction(user, mid, face)
        except REFUSED:
            return
        with lock:
            toggles[step] = toggles.get(step, 0) + 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, plan))
    with db.session() as s:
        rows = s.exec(select(MessageReaction.user_id, MessageReaction.reaction)
                      .where(MessageReaction.message_id == mid)).all()
    on = {(u, r) for u, r in rows}
    assert len(rows) == len(on)
    assert on == {step for step, n in toggles.items() if n % 2 == 1}
    for user in (ann, ben):
        assert sum(1 for u, _ in rows if u == user) <= MAX_REACTIONS_PER_USER


def test_a_member_removed_while_sending_has_nothing_stored_after_the_removal(trio):
    """Each round: Ben is added, then removed while he and Ann send. Whatever Ben sent is stored
    before the removal's system line (by seq) or refused, never after it; and no message stored
    after the line is delivered to him."""
    owner, ann, ben, room = trio
    groups.remove_member(owner, room, ben)
    late, leaked = [], []
    for i in range(ITERATIONS // 4):
        groups.add_members(ann, room, [ben])
        audiences: dict[int, tuple] = {}

        def send(actor, i=i, audiences=audiences):
            for k in range(3):
                sent = messages.send_sync(actor, room, f"r{i}.{k}", uuid.uuid4().hex)
                audiences[sent.message["seq"]] = sent.push.audience

        _race(partial(send, ben), partial(send, ann), partial(groups.remove_member, owner, room, ben))
        with db.session() as s:
            assert s.exec(select(func.count()).select_from(Participant).where(
                Participant.room_id == room, Participant.user_id == ben)).scalar_one() == 0
            line = s.exec(select(func.max(Message.seq)).where(
                Message.room_id == room, Message.kind == "system")).scalar_one()
            late += s.exec(select(Message.seq).where(Message.room_id == room, Message.sender_id == ben,
                                                     Message.seq > line)).scalars().all()
        leaked += [seq for seq, audience in audiences.items() if seq > line and ben in audience]
    assert late == [] and leaked == []


def _add_avatars(user: int, n: int) -> list[str]:
    """Gallery rows without images: the races are about the rows (a delete's file removal of a
    missing file is a no-op), and decoding 3,000 images would take minutes."""
    ids = [uuid.uuid4().hex for _ in range(n)]
    with db.session() as s:
        for i in ids:
            s.add(UserAvatar(id=i, user_id=user))
    return ids


def test_two_tabs_switching_and_deleting_avatars_keep_one_current_that_exists(trio, monkeypatch):
    """Whatever the order, the current avatar is one of the user's existing avatars (the newest
    remaining one after its deletion), or none only when the gallery is empty or initials were chosen."""
    owner, ann, _, _ = trio
    monkeypatch.setattr(avatars, "remove", lambda *a: None)  # no files: see _add_avatars
    rng = random.Random(5)
    violations = []
    for i in range(ITERATIONS):
        a, b, c = _add_avatars(ann, 3)
        avatars.make_current(ann, a)
        calls_ = [partial(avatars.make_current, ann, rng.choice((b, c))), partial(avatars.delete_avatar, ann, a),
                  partial(avatars.delete_avatar, ann, rng.choice((b, c))), partial(avatars.make_current, ann, a)]
        if rng.random() < 0.2:
            calls_.append(partial(avatars.make_current, ann, None))
        _race(*calls_)
        with db.session() as s:
            current = s.get(User, ann).avatar_id
            left = set(s.exec(select(UserAvatar.id).where(UserAvatar.user_id == ann)).scalars().all())
        gallery = avatars.gallery(ann)
        if current is not None and current not in left:
            violations.append((i, "current deleted", current))
        if sum(1 for g in gallery if g.current) != (1 if current is not None else 0):
            violations.append((i, "current flags", gallery))
        with db.session() as s:  # the next round starts from an empty gallery
            s.exec(UserAvatar.__table__.delete().where(UserAvatar.user_id == ann))
            s.get(User, ann).avatar_id = None
    assert violations == []


def _live_between(a: int, b: int) -> list[int]:
    from sqlalchemy import text

    with db.session() as s:
        return s.exec(text(
            "SELECT c.id FROM calls c JOIN call_members x ON x.call_id = c.id AND x.user_id = :a "
            "JOIN call_members y ON y.call_id = c.id AND y.user_id = :b WHERE c.state <> 'ended' "
            "AND x.state IN ('ringing', 'joined') AND y.state IN ('ringing', 'joined')"),
            params={"a": a, "b": b}).scalars().all()


def _block_as_the_page_does(blocker: int, blocked: int) -> None:
    """blocks.block, then the block event ends their calls (state/chat/calls.py)."""
    blocks.block(blocker, blocked)
    calls.end_between(blocker, blocked)


def _reset_pair(a: int, b: int) -> None:
    from sqlalchemy import text

    blocks.unblock(b, a)
    with db.session() as s:  # every call over, so nobody is busy in the next round
        s.exec(text("UPDATE calls SET state = 'ended' WHERE state <> 'ended'"))
        s.exec(text("UPDATE call_members SET state = 'left' WHERE state IN ('ringing', 'joined')"))


@pytest.mark.parametrize("moment", ["set-up", "accept"])
def test_a_block_while_a_call_is_set_up_or_accepted_leaves_no_live_call(trio, moment):
    owner, ann, ben, _ = trio
    room = rooms.open_private(ann, ben)
    violations = []
    for i in range(ITERATIONS // 2):
        _reset_pair(ann, ben)
        if moment == "set-up":
            _race(partial(calls.start, ann, room, "voice"), partial(_block_as_the_page_does, ben, ann))
        else:
            seat = calls.start(ann, room, "voice")
            _race(partial(calls.accept, ben, seat.call_id), partial(_block_as_the_page_does, ben, ann))
        if live := _live_between(ann, ben):
            violations.append((i, live))
    assert violations == [], f"{len(violations)} of {ITERATIONS // 2} rounds: {violations[:5]}"
