"""A file message's part of a bubble and of the chat-list preview (pure, like views.py).

The bubble names the file by id only: its URLs are signed per viewer (services/file_urls.py),
so they never go into a ring bubble that every viewer of the room shares. Each tab signs the
ids it shows for itself (state/chat/attachments.py)."""

from __future__ import annotations

from typing import TypedDict

from corpchat import i18n

_ICONS = (
    (("application/pdf",), "📕"),
    (("application/zip", "application/x-7z-compressed", "application/x-rar-compressed", "application/gzip",
      "application/x-tar", "application/x-bzip2", "application/x-xz"), "🗜️"),
    (("application/x-msdownload", "application/x-executable", "application/x-mach-binary"), "⚙️"),
    (("audio/",), "🎵"),
    (("video/",), "🎬"),
    (("image/",), "🖼️"),
)
_DOC_ICONS = {"doc": "📝", "docx": "📝", "odt": "📝", "rtf": "📝", "txt": "📝", "md": "📝",
              "xls": "📊", "xlsx": "📊", "ods": "📊", "csv": "📊",
              "ppt": "📽️", "pptx": "📽️", "odp": "📽️"}


class FileItem(TypedDict):
    id: str
    name: str
    size: str
    kind: str  # the file's: image / audio / video / file
    icon: str
    width: int
    height: int
    duration_ms: int
    duration: str
    thumb: bool
    box_w: int  # an image's box in the bubble: its shape, at most 280 wide and 360 high
    box_h: int


def size_label(size: int, lang: str) -> str:
    units = ("size.b", "size.kb", "size.mb", "size.gb")
    value, unit = float(size or 0), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    number = f"{value:.0f}" if unit == 0 or value >= 100 else f"{value:.1f}".rstrip("0").rstrip(".")
    if lang != "en":
        number = number.replace(".", ",")
    return f"{number} {i18n.t(lang, units[unit])}"


def duration_label(ms: int | None) -> str:
    seconds = max(0, round((ms or 0) / 1000))
    return f"{seconds // 60}:{seconds % 60:02d}"


def icon(mime: str, name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _DOC_ICONS:
        return _DOC_ICONS[ext]
    for prefixes, emoji in _ICONS:
        if any(mime.startswith(p) for p in prefixes):
            return emoji
    return "📄"


def image_box(width: int, height: int) -> tuple[int, int]:
    w = min(280, width or 280)
    return w, min(360, round(w * height / width) if width else 200)


def file_item(payload: dict | None, lang: str) -> FileItem | None:
    if not payload or not isinstance(payload.get("file_id"), str):
        return None
    name, mime = str(payload.get("name") or "file"), str(payload.get("mime") or "")
    width, height = int(payload.get("width") or 0), int(payload.get("height") or 0)
    box_w, box_h = image_box(width, height)
    return {
        "id": payload["file_id"], "name": name, "size": size_label(int(payload.get("size") or 0), lang),
        "kind": str(payload.get("kind") or "file"), "icon": icon(mime, name),
        "width": width, "height": height, "box_w": box_w, "box_h": box_h,
        "duration_ms": int(payload.get("duration_ms") or 0),
        "duration": duration_label(payload.get("duration_ms")), "thumb": bool(payload.get("thumb")),
    }


def preview(kind: str, text: str, file_name: str | None, lang: str) -> str:
    """The chat list's last-message text for any message kind."""
    if kind == "voice":
        return i18n.t(lang, "chat.preview_voice")
    if kind == "video":
        return i18n.t(lang, "chat.preview_video")
    if kind == "file":
        return i18n.t(lang, "chat.preview_file", name=file_name or "") + (f" {text}" if text else "")
    return text
