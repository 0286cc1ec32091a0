"""Argument checks for values that arrive from clients (any type, any size)."""

from __future__ import annotations

import re
import unicodedata

from corpchat.services.errors import Invalid

MAX_ID = 2**63 - 1


def ident(value) -> int:
    """A positive database id; bools and numeric strings are refused too."""
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise Invalid()
    return value


def text(value, *, max_len: int, key: str | None = None) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise Invalid(key) if key else Invalid()
    return value


def seq(value) -> int:
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise Invalid()
    return value


def like_pattern(query: str) -> str:
    """`query` as a LIKE/ILIKE pattern matching it anywhere, its own % and _ taken literally."""
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_controls(value: str, *, keep: str = "") -> str:
    """A name's text: bidi overrides dropped ("U+202E" would make "txt.exe" read "exe.txt"), other
    C0/C1 controls (NUL, which PostgreSQL cannot store, included) made spaces, so "a\tb" stays two
    words. The characters in `keep` stay."""
    value = _BIDI.sub("", value)
    return "".join(" " if unicodedata.category(c) == "Cc" and c not in keep else c for c in value)


def without_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: left in, it failed the statement, and a send's statement
    carries every send to the room queued with it (issue 24: one "\x00" failed other people's)."""
    return value.replace("\x00", "")
