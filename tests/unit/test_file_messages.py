"""File, voice and round-video messages through the one send statement, on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from corpchat import db, views
from corpchat.models import Message
from corpchat.services import attachments, files, messages, rooms, storage
from corpchat.services.errors import Forbidden, Invalid, NotFound
from corpchat.services.events import MessageDeleted, MessageSent
from tests import media_samples
from tests.factories import make_group, make_user, store_file


@pytest.fixture
def local(tmp_path):
    previous = storage._current
    storage.use(storage.LocalStorage(tmp_path / "files"))
    yield
    storage.use(previous)


def cid() -> str:
    return uuid.uuid4().hex


def _pair():
    a, b = make_user("fa" + cid()[:8]), make_user("fb" + cid()[:8])
    return a, b, rooms.open_private(a, b)


def _stored(message_id: int) -> Message:
    with db.session() as s:
        return s.get(Message, message_id)


def test_file_with_caption_is_one_message(local):
    a, b, room = _pair()
    info = store_file(a, [b"%PDF-1.7\n" + b"x" * 100], "report.pdf")
    message, push = attachments.send_file_sync(a, room, info.id, "file", "  the report ", cid())
    assert message["kind"] == "file" and message["text"] == "the report"
    assert message["payload"] == info.payload() and message["payload"]["name"] == "report.pdf"
    assert isinstance(push.event, MessageSent) and set(push.audience) == {a, b}
    row = _stored(message["id"])
    assert (row.kind, row.text, row.payload) == ("file", "the report", info.payload())
    assert files.may_view(b, info.id)
    # history returns the same dict shape
    page, _ = messages.history(b, room)
    assert page[-1]["payload"] == info.payload() and page[-1]["kind"] == "file"
    row = rooms.chat_row(b, room)
    assert views.chat_item(row, b, views.zone("UTC"), "en")["preview"] == "📎 report.pdf the report"


def test_caption_may_be_empty_text_may_not(local):
    a, _, room = _pair()
    info = store_file(a, [b"zip" * 10], "a.zip")
    message, _ = attachments.send_file_sync(a, room, info.id, "file", "", cid())
    assert message["text"] == ""
    with pytest.raises(Invalid):
        messages.send_sync(a, room, "", cid())


def test_text_send_is_unchanged():
    a, _, room = _pair()
    message, _ = messages.send_sync(a, room, "plain", cid())
    assert (message["kind"], message["payload"]) == ("text", None)
    assert _stored(message["id"]).payload is None


def test_only_the_owner_may_send_a_file(local):
    a, b, room = _pair()
    info = store_file(b, [b"secret" * 10], "b.txt")
    with pytest.raises(NotFound):
        attachments.send_file_sync(a, room, info.id, "file", "", cid())
    # Even with a payload built elsewhere, the statement itself refuses a file the sender does not own.
    with pytest.raises(NotFound) as err:
        messages.send_sync(a, room, "", cid(), "file", info.payload())
    assert err.value.key == "err.file_gone"
    assert not files.may_view(a, info.id)


@pytest.mark.parametrize("bad", [None, 5, "", "../../etc/passwd", "x" * 33, "short", ["a" * 22], {"$ne": 1}])
def test_bad_file_ids(bad):
    a, _, room = _pair()
    with pytest.raises(Invalid):
        attachments.send_file_sync(a, room, bad, "file", "", cid())


@pytest.mark.parametrize("kind", ["text", "system", "image", None, 1])
def test_bad_kinds(local, kind):
    a, _, room = _pair()
    info = store_file(a, [b"data" * 10], "a.bin")
    with pytest.raises(Invalid):
        attachments.send_file_sync(a, room, info.id, kind, "", cid())
    with pytest.raises(Invalid):
        messages.send_sync(a, room, "", cid(), kind, info.payload())


def test_voice_and_circle_kinds_are_checked(local):
    a, _, room = _pair()
    voice = store_file(a, [media_samples.recorder_webm(1.0)], "voice.webm")
    circle = store_file(a, [media_samples.video("webm", "libvpx", seconds=1.0)], "circle.webm")
    with pytest.raises(Invalid):
        attachments.send_file_sync(a, room, circle.id, "voice", "", cid())
    with pytest.raises(Invalid):
        attachments.send_file_sync(a, room, voice.id, "video", "", cid())
    m1, _ = attachments.send_file_sync(a, room, voice.id, "voice", "", cid())
    m2, _ = attachments.send_file_sync(a, room, circle.id, "video", "", cid())
    assert m1["kind"] == "voice" and 900 <= m1["payload"]["duration_ms"] <= 1100
    assert m2["kind"] == "video" and m2["payload"]["thumb"] and m2["payload"]["width"] == 64


def test_resend_returns_the_stored_file_message(local):
    a, _, room = _pair()
    info = store_file(a, [b"data" * 10], "a.bin")
    client_id = cid()
    first, push = attachments.send_file_sync(a, room, info.id, "file", "c", client_id)
    again, told = attachments.send_file_sync(a, room, info.id, "file", "c", client_id)
    assert push is not None and again["id"] == first["id"] and again["payload"] == first["payload"]
    assert told.event.message == again  # told again, as stored


def test_batched_async_sends_mix_text_and_files(local):
    a, b, room = _pair()
    infos = [store_file(a, [f"f{i}".encode() * 10], f"{i}.txt") for i in range(3)]

    async def go():
        try:
            sends = [messages.send_async(a, room, "t1", cid())]
            sends += [attachments.send_file(a, room, i.id, "file", f"cap {n}", cid()) for n, i in enumerate(infos)]
            sends.append(messages.send_async(b, room, "t2", cid()))
            return await asyncio.gather(*sends)
        finally:
            await db.close_async_pool()  # the loop's pool ends with it (a left-open one once hung here)

    results = asyncio.run(go())
    seqs = [r.message["seq"] for r in results]
    assert len(set(seqs)) == 5
    assert [r.message["kind"] for r in results] == ["text", "file", "file", "file", "text"]
    assert [r.message["payload"]["file_id"] for r in results[1:4]] == [i.id for i in infos]
    assert _stored(results[2].message["id"]).payload == infos[1].payload()


def test_discard_cannot_race_a_send(local):
    """The file row is locked FOR SHARE by the send and FOR UPDATE by discard: whichever goes
    first, either the message exists and the file stays, or the file is gone and no message."""
    a, _, room = _pair()
    def race(info, outcome, barrier):
        def send():
            barrier.wait()
            try:
                outcome["sent"] = attachments.send_file_sync(a, room, info.id, "file", "", cid()).message
            except NotFound:
                outcome["sent"] = None

        def drop():
            barrier.wait()
            outcome["discarded"] = files.discard(a, info.id)

        threads = [threading.Thread(target=send), threading.Thread(target=drop)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    for _ in range(6):
        info, outcome = store_file(a, [b"race" * 10], "r.bin"), {}
        race(info, outcome, threading.Barrier(2))
        assert (outcome["sent"] is None) == outcome["discarded"]
        assert (files.get(info.id) is None) == outcome["discarded"]


def test_edit_caption_and_delete_releases_the_file(local):
    a, b, room = _pair()
    info = store_file(a, [media_samples.image("PNG", (400, 300))], "pic.png")
    message, _ = attachments.send_file_sync(a, room, info.id, "file", "first", cid())
    view, _ = messages.edit(a, message["id"], "second")
    assert view["text"] == "second" and view["payload"]["file_id"] == info.id and view["edited_at"]
    view, _ = messages.edit(a, message["id"], "")
    assert view["text"] == ""
    with pytest.raises(Forbidden):
        messages.edit(b, message["id"], "not mine")
    push = messages.delete_for_everyone(a, message["id"])
    assert isinstance(push.event, MessageDeleted)
    assert not files.may_view(b, info.id)
    assert files.get(info.id) is None  # nothing refers to it: the bytes are gone too


def test_delete_keeps_a_file_another_message_uses(local):
    a, b, room = _pair()
    group = make_group(a, b)
    info = store_file(a, [b"shared" * 10], "s.bin")
    m1, _ = attachments.send_file_sync(a, room, info.id, "file", "", cid())
    attachments.send_file_sync(a, group, info.id, "file", "", cid())
    messages.delete_for_everyone(a, m1["id"])
    assert files.get(info.id) is not None and files.may_view(b, info.id)


def test_blocked_private_room_refuses_a_file(local):
    from tests.factories import block

    a, b, room = _pair()
    info = store_file(a, [b"data" * 10], "a.bin")
    block(b, a)
    with pytest.raises(Forbidden):
        attachments.send_file_sync(a, room, info.id, "file", "", cid())


def test_event_loops_that_send_end_cleanly(local):
    """Thirty loops each send a batch and close their pool: none waits at shutdown (a pool left
    to asyncio.run's task cancellation once hung CI for 30 minutes), and no pool is left behind."""
    a, b, room = _pair()

    loops = []

    async def go(k):
        loops.append(asyncio.get_running_loop())
        try:
            await asyncio.gather(*(messages.send_async(u, room, f"{k}-{u}", cid()) for u in (a, b, a)))
        finally:
            await db.close_async_pool()

    for k in range(30):
        asyncio.run(asyncio.wait_for(go(k), 20))
    assert len(loops) == 30 and not any(loop in db._async_pools for loop in loops)
