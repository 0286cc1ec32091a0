"""A reaction chip's faces (18#3): the first three reactors, then +N."""

from __future__ import annotations

from datetime import UTC, datetime

from corpchat import views
from corpchat.services.message_views import message_dict


def test_three_faces_then_plus_n():
    names = ["Anna", "Boris", "Carol Day", "Dmytro", "Eve"]
    m = message_dict(id=1, room_id=1, seq=1, kind="text", text="hi", sender_id=1, sender=None, client_id="c",
                     created_at=datetime(2026, 12, 1, tzinfo=UTC),
                     reactions=[{"emoji": "👍", "user_ids": [1, 2, 3, 4, 5], "names": names},
                                {"emoji": "🔥", "user_ids": [2], "names": ["Boris"]}])
    thumbs, fire = views.message_item(m, views.zone("UTC"), "en")["reactions"]
    assert thumbs["faces"] == [{"id": 1, "initials": "A"}, {"id": 2, "initials": "B"},
                               {"id": 3, "initials": "CD"}]
    assert (thumbs["count"], thumbs["more"]) == (5, 2)
    assert (fire["faces"], fire["more"]) == ([{"id": 2, "initials": "B"}], 0)
