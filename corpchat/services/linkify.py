"""Split message text into plain and link segments.

The UI renders plain segments as React text (escaped) and link segments as
anchors whose href we built here: only http, https and mailto ever become
links; `www.` gets `https://`. Nothing else is clickable.
"""

from __future__ import annotations

import re

# Never inside a link: spaces, quotes, angle brackets, control characters and
# bidirectional overrides (which could make a link's text lie about its target).
_NOT_URL = r"\s<>\"'`\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
_LINK = re.compile(
    rf"(?P<url>\b(?:https?://|www\.)[^{_NOT_URL}]+)"
    rf"|(?P<mail>\bmailto:[^{_NOT_URL}@]+@[^{_NOT_URL}]+)",
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


# Shown text never carries bidirectional embeddings, overrides or isolates: "U+202E" would
# make "txt.exe" read "exe.txt". The stored message keeps what was typed.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def strip_bidi(text: str) -> str:
    return text.translate(_BIDI_CONTROLS)


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
        if raw.lower().startswith("www."):
            href = "https://" + raw
        else:  # the scheme in lower case, so every href starts with one of _ALLOWED exactly
            scheme, _, rest = raw.partition(":")
            href = scheme.lower() + ":" + rest
        if not href.startswith(_ALLOWED) or not href.split(":", 1)[1].lstrip("/"):
            continue
        plain(text[pos:m.start()])
        out.append({"kind": "link", "text": raw, "href": href})
        plain(tail)
        pos = m.end()
    plain(text[pos:])
    for seg in out:  # after linkifying: a control still ends a link, then it is dropped
        seg["text"] = strip_bidi(seg["text"])
    return out
