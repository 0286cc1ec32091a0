"""A file message's bubble part and chat-list preview: localised, and nothing per viewer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from corpchat import views
from corpchat.file_views import duration_label, icon, image_box, size_label

PAYLOAD = {"file_id": "AbCdEfGhIjKlMnOpQrStUv", "name": "Звіт.xlsx", "size": 1_572_864, "mime": "application/zip",
           "kind": "file", "width": None, "height": None, "duration_ms": None, "thumb": False}


def _message(kind="file", payload=PAYLOAD, text="caption"):
    return {"id": 1, "room_id": 2, "seq": 3, "kind": kind, "text": text, "sender_id": 4, "sender_name": "Anna",
            "client_id": "c" * 16, "payload": payload, "created_at": datetime.now(UTC), "reactions": []}


@pytest.mark.parametrize("size, lang, expected", [
    (0, "en", "0 B"), (1023, "en", "1023 B"), (1536, "en", "1.5 KB"), (1536, "uk", "1,5 КБ"),
    (1_572_864, "ru", "1,5 МБ"), (150 * 1024 * 1024, "en", "150 MB"), (3 * 1024**3, "en", "3 GB"),
])
def test_size_label(size, lang, expected):
    assert size_label(size, lang) == expected


def test_duration_and_icons():
    assert [duration_label(ms) for ms in (None, 400, 7_400, 61_000)] == ["0:00", "0:00", "0:07", "1:01"]
    assert icon("application/zip", "Звіт.xlsx") == "📊" and icon("application/pdf", "a.pdf") == "📕"
    assert icon("application/octet-stream", "a") == "📄" and icon("audio/mpeg", "a.mp3") == "🎵"


@pytest.mark.parametrize("width,height,box", [(1200, 800, (280, 187)), (100, 50, (100, 50)), (300, 3000, (280, 360)),
                                              (0, 0, (280, 200))])
def test_image_box_keeps_the_shape_within_280_by_360(width, height, box):
    assert image_box(width, height) == box


def test_bubble_names_the_file_but_holds_no_url():
    """The ring rule: a bubble is shared by every viewer, and media URLs are signed per viewer."""
    item = views.message_item(_message(), views.zone("UTC"), "uk")
    assert item["file"] == {"id": PAYLOAD["file_id"], "name": "Звіт.xlsx", "size": "1,5 МБ", "kind": "file",
                            "icon": "📊", "width": 0, "height": 0, "duration_ms": 0, "duration": "0:00",
                            "thumb": False, "box_w": 280, "box_h": 200}
    assert item["text"] == "caption"
    assert "/api/media" not in json.dumps(item, default=str)
    assert "file" not in views.message_item(_message("text", None, "hi"), views.zone("UTC"), "uk")


@pytest.mark.parametrize("lang, kind, expected", [
    ("en", "file", "📎 Звіт.xlsx caption"), ("en", "voice", "🎤 Voice message"),
    ("en", "video", "⏺ Video message"), ("uk", "voice", "🎤 Голосове повідомлення"),
    ("uk", "video", "⏺ Відеоповідомлення"), ("ru", "voice", "🎤 Голосовое сообщение"),
    ("ru", "video", "⏺ Видеосообщение"), ("ru", "file", "📎 Звіт.xlsx caption"),
])
def test_chat_list_preview(lang, kind, expected):
    chat = {"room_id": 2, "kind": "private", "title": "Anna", "other_id": 4, "last_seq": 2}
    item = views.chat_item_after_message(chat, _message(kind), 1, 99, views.zone("UTC"), lang)
    assert item["preview"] == expected
