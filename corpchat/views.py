"""Turning service results into the small dicts the UI renders (per viewer)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import TypedDict

from corpchat import i18n
from corpchat.file_views import FileItem, file_item
from corpchat.file_views import preview as kind_preview
from corpchat.services.linkify import segments, strip_bidi
from corpchat.services.presence_text import viewer_zone
from corpchat.services.rooms import UNREAD_CAP
from corpchat.system_views import system_text

MAX_REACTORS_SHOWN = 3
MAX_REACTORS_LISTED = 20  # names in a reaction chip's hover card


def zone(name: str) -> tzinfo:
    """The browser's time zone by name; anything unknown or malformed is UTC (one parser:
    services.presence_text.viewer_zone)."""
    return viewer_zone(name)


def valid_zone(name: str) -> bool:
    return isinstance(name, str) and (name == "UTC" or viewer_zone(name) is not UTC)


def initials(name: str) -> str:
    parts = [p for p in (name or "").replace("_", " ").replace(".", " ").split() if p]
    if not parts:
        return "?"
    return (parts[0][0] + (parts[1][0] if len(parts) > 1 else "")).upper()


def _local(dt: datetime | None, tz) -> datetime | None:
    if dt is None:
        return None
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return dt.astimezone(tz)


def short_time(dt, tz, lang: str, now: datetime | None = None) -> str:
    """HH:MM today, the weekday-less date otherwise (chat list)."""
    local = _local(dt, tz)
    if local is None:
        return ""
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if (today - local.date()).days == 1:
        return i18n.t(lang, "chat.yesterday")
    return local.strftime("%d.%m.%Y")


def day_label(local: datetime, lang: str, now: datetime | None = None) -> str:
    today = (now or datetime.now(UTC)).astimezone(local.tzinfo).date()
    if local.date() == today:
        return i18n.t(lang, "chat.today")
    if (today - local.date()).days == 1:
        return i18n.t(lang, "chat.yesterday")
    return local.strftime("%d.%m.%Y")


def unread_label(n: int) -> str:
    return f"{UNREAD_CAP - 1}+" if n >= UNREAD_CAP else (str(n) if n else "")


def avatar_url(avatar_id: str | None, size: int = 64) -> str:
    return f"/api/avatar/{avatar_id}/{size}" if avatar_id else ""


def chat_item(row: dict, viewer_id: int, tz, lang: str, now: datetime | None = None) -> dict:
    """One chat-list entry from a rooms.chat_list row (`now`: pass one for a whole list)."""
    if row["kind"] == "private":
        title = row.get("other_name") or row.get("other_login") or "?"
    else:
        title = row.get("name") or "?"
    if row.get("lm_id"):
        if row["lm_kind"] == "system":
            text, who = system_text(row.get("lm_system"), lang), ""
        else:
            text = kind_preview(row["lm_kind"], row["lm_text"], row.get("lm_file_name"), lang)
            who = i18n.t(lang, "chat.you") if row["lm_sender"] == viewer_id else (
                row.get("lm_sender_name") or "" if row["kind"] == "group" else "")
        preview = (f"{who}: " if who else "") + " ".join(strip_bidi(text).split())[:80]
    else:
        preview = ""
    return {
        "room_id": row["id"], "kind": row["kind"], "title": title, "initials": initials(title),
        "other_id": row.get("other_id") or 0, "preview": preview,
        "time": short_time(row.get("lm_at") or row.get("activity_at"), tz, lang, now),
        "unread": int(row.get("unread") or 0), "unread_label": unread_label(int(row.get("unread") or 0)),
        "last_seq": int(row.get("last_seq") or 0),
        # whose name the preview starts with (a group's "Anna: ..."), to redo it when they rename
        "lm_sender": int(row.get("lm_sender") or 0) if row.get("lm_id") else 0,
        # a group's photo (a private chat's is the other person's: people.py, hidden across a block)
        "avatar": avatar_url(row.get("room_avatar")) if row["kind"] == "group" else "",
    }


_ITEM_CACHE: dict[tuple, dict] = {}
_ITEM_CACHE_MAX = 50_000


def message_item(m: dict, tz, lang: str) -> dict:
    """A message bubble as every viewer in this time zone and language sees it.

    The same dict is shared by every tab that shows the message (treat it as
    read-only): what differs per viewer ("mine", my reactions, the day and
    "new" separators of a tab's window) is decided on the page from the tab's
    `my_id`, `day_seqs` and `divider_seq`. So a window of 100 messages costs a
    tab 100 references, and a message is formatted once for all its viewers.
    """
    reactions = tuple((r["emoji"], tuple(r["user_ids"]), tuple(r["names"])) for r in m.get("reactions", []))
    key = (m["id"], m["seq"], m["text"], m.get("edited_at"), m["sender_name"], reactions, str(tz), lang,
           m["kind"])
    item = _ITEM_CACHE.get(key)
    if item is None:
        local = _local(m["created_at"], tz)
        item = {
            "id": m["id"], "seq": m["seq"], "kind": m["kind"],
            "text": m["text"], "segments": segments(m["text"]),
            "sender_id": m["sender_id"], "sender_name": m["sender_name"],
            "initials": initials(m["sender_name"]), "client_id": m.get("client_id", ""),
            "time": local.strftime("%H:%M") if local else "",
            "day": local.strftime("%Y-%m-%d") if local else "",
            "day_label": day_label(local, lang) if local else "",
            "edited": bool(m.get("edited_at")), "status": "sent", "show_day": False,
            "reactions": [
                {"emoji": e, "count": len(uids), "title": ", ".join(names),
                 # the first few reactors' faces (their photos come from the tab's own `avatars`,
                 # which a block leaves out), then "+N"
                 "faces": [{"id": u, "initials": initials(n)}
                           for u, n in zip(uids[:MAX_REACTORS_SHOWN], names)],
                 "more": max(0, len(uids) - MAX_REACTORS_SHOWN), "user_ids": list(uids),
                 # who reacted, each opening their profile card from the chip's hover card
                 "people": [{"id": u, "name": n} for u, n in zip(uids[:MAX_REACTORS_LISTED], names)]}
                for e, uids, names in reactions
            ],
        }
        if m["kind"] == "system":
            item["text"] = system_text(m.get("payload"), lang)
            item["segments"] = [{"kind": "text", "text": item["text"], "href": ""}]
        elif m["kind"] != "text":
            item["file"] = file_item(m.get("payload"), lang)
        if len(_ITEM_CACHE) >= _ITEM_CACHE_MAX:
            _ITEM_CACHE.clear()  # windows keep their items; only sharing with later viewers is lost
        _ITEM_CACHE[key] = item
    return item


def day_starts(items) -> list[int]:
    """The seqs in a window that start a new day (they get a date separator)."""
    starts, prev = [], None
    for item in items:
        if item["day"] != prev:
            starts.append(item["seq"])
        prev = item["day"]
    return starts


def by_viewer(m: dict, viewer_id: int) -> bool:
    """Whether the viewer wrote it: their message, or a system line recording their action (it
    is read for them, as services/system_messages.py stores it)."""
    return m["sender_id"] == viewer_id or (m["kind"] == "system" and (m.get("payload") or {}).get("actor") == viewer_id)


def first_unread(items, last_read_seq: int, viewer_id: int) -> int:
    """The seq of the first message from someone else after last_read_seq (0: none); a chat never
    read (last_read_seq 0) has one too, as the unread badge counts all of it."""
    return next((m["seq"] for m in items if m["seq"] > last_read_seq and not by_viewer(m, viewer_id)), 0)


def chat_item_after_message(chat: dict, message: dict, unread: int, viewer_id: int, tz, lang: str) -> dict:
    """The chat-list entry once `message` is its newest message (no query needed)."""
    row = {
        "id": chat["room_id"], "kind": chat["kind"], "name": chat["title"], "other_name": chat["title"],
        "other_id": chat["other_id"], "lm_id": message["id"], "lm_kind": message["kind"],
        "lm_text": message["text"], "lm_sender": message["sender_id"],
        "lm_file_name": (message.get("payload") or {}).get("name"),
        "lm_sender_name": message["sender_name"], "lm_at": message["created_at"], "unread": unread,
        "lm_system": message.get("payload") if message["kind"] == "system" else None,
        "last_seq": max(chat["last_seq"], message["seq"]),
    }
    return {**chat_item(row, viewer_id, tz, lang), "avatar": chat.get("avatar", "")}


def pending_item(body: str, client_id: str, viewer_id: int, room_id: int) -> dict:
    """A message shown as "sending…" until the server confirms it is stored."""
    return {
        "id": 0, "seq": 0, "kind": "text", "text": body,
        "segments": [{"kind": "text", "text": body, "href": ""}], "sender_id": viewer_id,
        "sender_name": "", "initials": "", "client_id": client_id, "time": "", "day": "", "day_label": "",
        "edited": False, "status": "sending", "reactions": [], "show_day": False, "room_id": room_id,
    }


def people(rows: list[dict]) -> list[dict]:
    return [{"id": r["id"], "login": r["login"], "name": r["name"], "initials": initials(r["name"])}
            for r in rows]


class Segment(TypedDict):
    kind: str
    text: str
    href: str


class Reactor(TypedDict):
    id: int
    name: str


class Face(TypedDict):
    id: int
    initials: str


class ReactionItem(TypedDict):
    emoji: str
    count: int
    title: str
    faces: list[Face]
    more: int
    user_ids: list[int]
    people: list[Reactor]


class MessageItem(TypedDict, total=False):
    id: int
    seq: int
    kind: str
    text: str
    segments: list[Segment]
    sender_id: int
    sender_name: str
    initials: str
    client_id: str
    time: str
    day: str
    day_label: str
    edited: bool
    status: str
    reactions: list[ReactionItem]
    show_day: bool  # live items only: starts a new day (a tab's window uses its day_seqs)
    room_id: int
    file: FileItem  # file, voice and video messages only (file_views.py)


class ChatItem(TypedDict):
    room_id: int
    kind: str
    title: str
    initials: str
    other_id: int
    preview: str
    time: str
    unread: int
    unread_label: str
    last_seq: int
    lm_sender: int
    avatar: str


class PersonItem(TypedDict):
    id: int
    login: str
    name: str
    initials: str
