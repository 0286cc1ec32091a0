"""Argument checks for values that arrive from clients (any type, any size)."""

from __future__ import annotations

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
