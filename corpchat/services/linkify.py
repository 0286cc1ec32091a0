"""Split message text into plain and link segments.

The UI renders plain segments as React text (escaped) and link segments as anchors whose href we
built here. Recognition is linkify-it-py's (a port of the parser markdown-it uses: schemes, bare
domains, bare e-mails, IDN, balanced brackets, trailing punctuation); what may become a link is
ours: only http, https and mailto hrefs, bare domains and `www.` get `https://`, bare e-mails get
`mailto:`. Nothing else is clickable.
"""

from __future__ import annotations

import re
from functools import lru_cache

from linkify_it import LinkifyIt

_ALLOWED = ("http://", "https://", "mailto:")

# Never inside a link: quotes (guillemets too: «see https://x.ua»), angle brackets, control and
# zero-width characters and bidirectional controls (which could make a link's text lie about its
# target). They are replaced by a space, one code point for one, before matching, so the parser's
# offsets fit the real text.
_BREAKS = re.compile("[\"<>`«»\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

# Bare domains are linked only under these TLDs (and punycode ones): the parser's short default
# list plus the country codes people here write. Not every two-letter code, as the parser's
# default would: "setup.py", "readme.md" and "run.sh" are file names in a chat about work.
_TLDS = ["biz", "com", "edu", "gov", "net", "org", "pro", "info", "name", "shop", "рф", "укр",
         "ua", "ru", "by", "kz", "pl", "de", "uk", "eu", "us", "io", "ai", "dev", "app"]


@lru_cache(maxsize=1)
def _parser() -> LinkifyIt:
    # Only the schemes we allow; "//" (protocol-relative) and ftp are not links.
    schemas = {"ftp:": None, "//": None}
    return LinkifyIt(schemas, {"fuzzy_link": True, "fuzzy_email": True, "fuzzy_ip": False}).tlds(_TLDS, False)


def _href(raw: str, schema: str) -> str:
    """The href for a match, its scheme in lower case so it starts with one of _ALLOWED exactly."""
    if not schema:  # a bare domain or www.: https, not the parser's http
        return "https://" + raw
    if schema == "mailto:" and not raw.lower().startswith("mailto:"):
        # A bare address has no scheme of its own: "javascript:x@example.com" is not one.
        return "" if ":" in raw else "mailto:" + raw
    scheme, _, rest = raw.partition(":")
    return scheme.lower() + ":" + rest


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

    for m in _parser().match(_BREAKS.sub(" ", text)) or []:
        raw = text[m.index:m.last_index]
        href = _href(raw, m.schema)
        if not href.startswith(_ALLOWED) or not href.split(":", 1)[1].lstrip("/"):
            continue
        plain(text[pos:m.index])
        out.append({"kind": "link", "text": raw, "href": href})
        pos = m.last_index
    plain(text[pos:])
    for seg in out:  # after linkifying: a control still ends a link, then it is dropped
        seg["text"] = strip_bidi(seg["text"])
    return out
