"""Who may see whom: blocks in either direction, and who watches a user's presence.

A block hides both users from each other (SPEC 2), so every check here is
symmetric; the caller never needs to know who blocked whom.
"""

from __future__ import annotations

from sqlalchemy import text


def blocked_either_way(s, a: int, b: int) -> bool:
    """True when a blocked b or b blocked a."""
    row = s.exec(text(
        "SELECT 1 FROM blocked_users "
        "WHERE (blocker_id = :a AND blocked_id = :b) OR (blocker_id = :b AND blocked_id = :a) LIMIT 1"),
        params={"a": a, "b": b}).first()
    return row is not None


def blocked_set(s, user_id: int) -> set[int]:
    """Everyone hidden from user_id, and from whom user_id is hidden."""
    rows = s.exec(text(
        "SELECT blocked_id FROM blocked_users WHERE blocker_id = :u "
        "UNION SELECT blocker_id FROM blocked_users WHERE blocked_id = :u"), params={"u": user_id})
    return {r[0] for r in rows}


def presence_watchers(s, user_id: int) -> list[int]:
    """Users told about user_id's presence, avatar and profile changes.

    Contacts are the users sharing at least one room; a block either way
    removes them, since they may not see the avatar or the status at all.
    """
    rows = s.exec(text("""
        SELECT DISTINCT other.user_id
        FROM participants mine
        JOIN participants other ON other.room_id = mine.room_id AND other.user_id <> :u
        WHERE mine.user_id = :u
          AND NOT EXISTS (
              SELECT 1 FROM blocked_users b
              WHERE (b.blocker_id = :u AND b.blocked_id = other.user_id)
                 OR (b.blocker_id = other.user_id AND b.blocked_id = :u))
        ORDER BY other.user_id"""), params={"u": user_id})
    return [r[0] for r in rows]
