"""Drafts on a real PostgreSQL: one per chat and user, validated, emptied by a send."""

from __future__ import annotations

import uuid

import pytest

from corpchat.config import settings
from corpchat.services import drafts, messages, rooms
from corpchat.services.errors import Invalid, NotFound
from tests.factories import make_user


def _pair():
    tag = uuid.uuid4().hex[:8]
    anna, boris, olena = (make_user(f"{n}{tag}") for n in ("anna", "boris", "olena"))
    return anna, boris, olena, rooms.open_private(anna, boris), rooms.open_private(anna, olena)


def test_a_draft_per_chat_and_user():
    anna, boris, _, with_boris, with_olena = _pair()
    assert drafts.save_draft(anna, with_boris, "secret for boris only") == "secret for boris only"
    assert drafts.draft_of(anna, with_boris) == "secret for boris only"
    assert drafts.draft_of(anna, with_olena) == ""
    assert drafts.draft_of(boris, with_boris) == ""  # the other member's own draft, not mine
    assert drafts.save_draft(anna, with_boris, "  \n ") == ""  # blank is no draft
    assert drafts.draft_of(anna, with_boris) == ""


def test_a_send_empties_only_the_senders_draft_in_that_chat():
    anna, boris, _, with_boris, with_olena = _pair()
    drafts.save_draft(anna, with_boris, "half written")
    drafts.save_draft(boris, with_boris, "boris typing")
    drafts.save_draft(anna, with_olena, "for olena")
    messages.send_sync(anna, with_boris, "half written, now sent", uuid.uuid4().hex)
    assert drafts.draft_of(anna, with_boris) == ""
    assert drafts.draft_of(boris, with_boris) == "boris typing"
    assert drafts.draft_of(anna, with_olena) == "for olena"


@pytest.mark.parametrize("bad", [None, 5, ["x"], {"t": "x"}, b"x", "x" * (settings.max_message_length + 1)])
def test_bad_text_is_refused(bad):
    anna, _, _, with_boris, _ = _pair()
    with pytest.raises(Invalid):
        drafts.save_draft(anna, with_boris, bad)
    assert drafts.draft_of(anna, with_boris) == ""


def test_the_longest_message_is_a_valid_draft():
    anna, _, _, with_boris, _ = _pair()
    text = "y" * settings.max_message_length
    assert drafts.save_draft(anna, with_boris, text) == text


@pytest.mark.parametrize("room", [0, -1, "1", True, 1.0, None, 2**70])
def test_bad_room_ids_are_refused(room):
    anna, *_ = _pair()
    with pytest.raises((Invalid, NotFound)):
        drafts.save_draft(anna, room, "x")


def test_only_members_keep_drafts():
    anna, boris, olena, with_boris, _ = _pair()
    with pytest.raises(NotFound):
        drafts.save_draft(olena, with_boris, "not my chat")
    with pytest.raises(NotFound):
        drafts.draft_of(olena, with_boris)
    assert drafts.draft_of(anna, with_boris) == drafts.draft_of(boris, with_boris) == ""


def test_a_script_saving_drafts_in_a_loop_is_stopped():
    from corpchat.services.errors import Throttled

    anna, _, _, with_boris, _ = _pair()
    with pytest.raises(Throttled):
        for i in range(100):
            drafts.save_draft(anna, with_boris, f"draft {i}")
