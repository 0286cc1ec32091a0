"""Split message text into plain and link segments.

The UI renders plain segments as React text (escaped) and link segments as
anchors whose href we built here: only http, https and mailto ever become
links; `www.` gets `https://`. Nothing else is clickable.
"""

from __future__ import annotations

import re

_LINK = re.compile(
    r"(?P<url>\b(?:https?://|www\.)[^\s<>\"'`]+)"
    r"|(?P<mail>\bmailto:[^\s<>\"'`@]+@[^\s<>\"'`]+)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""
_ALLOWED = ("http://", "https://", "mailto:")


def _trim(url: str) -> tuple[str, str]:
    """Trailing punctuation belongs to the sentence, not the link."""
    tail = ""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        tail = url[-1] + tail
        url = url[:-1]
    return url, tail


def segments(text: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    pos = 0

    def plain(s: str) -> None:
        if s:
            if out and out[-1]["kind"] == "text":
                out[-1]["text"] += s
            else:
                out.append({"kind": "text", "text": s, "href": ""})

    for m in _LINK.finditer(text):
        raw, tail = _trim(m.group(0))
        href = raw if not raw.lower().startswith("www.") else "https://" + raw
        if not href.lower().startswith(_ALLOWED) or not href.split(":", 1)[1].lstrip("/"):
            continue
        plain(text[pos:m.start()])
        out.append({"kind": "link", "text": raw, "href": href})
        plain(tail)
        pos = m.end()
    plain(text[pos:])
    return out
