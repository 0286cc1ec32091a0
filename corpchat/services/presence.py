"""Presence: a user's first tab opened / last tab gone, and what a viewer may see of others.

Who is connected right now is realtime's business (realtime/lifecycle.py); this
module writes `users.last_seen_at` and decides who is told. It is called once
per user session edge, never per event: the first tab writes only when the
stored moment is older than SEEN_REFRESH (a flapping connection costs no
writes), the last tab gone always writes (that moment is "last seen").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from corpchat import db
from corpchat.services import blocks, directory
from corpchat.services.events import PresenceChanged, Push
from corpchat.services.visibility import blocked_either_way_sql, presence_watchers

SEEN_REFRESH_SECONDS = 180
# A chat list holds at most 500 chats; a people search 50: anything beyond is not one page.
MAX_LOOKUP = 1000


@dataclass(frozen=True)
class PersonView:
    """What a viewer may see of another user's presence and avatar (never made for a blocked pair)."""

    user_id: int
    gender: str
    last_seen_at: datetime | None
    avatar_id: str | None


def went_online(user_id: int) -> Push:
    with db.session() as s:
        row = s.exec(text(
            "UPDATE users SET last_seen_at = CASE WHEN last_seen_at IS NULL "
            "  OR last_seen_at < now() - make_interval(secs => :refresh) THEN now() ELSE last_seen_at END "
            "WHERE id = :u RETURNING gender"), params={"u": user_id, "refresh": SEEN_REFRESH_SECONDS}).first()
        gender = row.gender if row else "unspecified"
        return Push(presence_watchers(s, user_id), PresenceChanged(user_id=user_id, online=True, gender=gender))


def went_offline(user_id: int) -> Push:
    with db.session() as s:
        row = s.exec(text("UPDATE users SET last_seen_at = now() WHERE id = :u RETURNING gender, last_seen_at"),
                     params={"u": user_id}).first()
        gender, seen = (row.gender, row.last_seen_at) if row else ("unspecified", datetime.now(UTC))
        return Push(presence_watchers(s, user_id),
                    PresenceChanged(user_id=user_id, online=False, last_seen=seen.isoformat(), gender=gender))


def people_views(viewer_id: int, user_ids) -> dict[int, PersonView]:
    """Presence and avatar of these users as the viewer may see them: a user blocked either way
    is left out (the page then shows initials and no status)."""
    with db.session() as s:
        return _people_views(s, viewer_id, user_ids)


def page_people(viewer_id: int, user_ids) -> tuple[dict[int, PersonView], tuple[set[int], set[int]]]:
    """What a page load needs of the people it shows, in one session: their views (as
    people_views) and the viewer's blocks (as blocks.block_state)."""
    with db.session() as s:
        return _people_views(s, viewer_id, user_ids), blocks.block_state_in(s, viewer_id)


def _people_views(s, viewer_id: int, user_ids) -> dict[int, PersonView]:
    # The viewer is in it too when asked for: their own face on a reaction chip.
    ids = sorted({int(u) for u in user_ids if isinstance(u, int) and u > 0})[:MAX_LOOKUP]
    if not directory.everyone_visible():
        known = directory.room_mates(s, viewer_id) | {viewer_id}
        ids = [u for u in ids if u in known]
    if not ids:
        return {}
    rows = s.exec(text(
        "SELECT u.id, u.gender, u.last_seen_at, u.avatar_id FROM users u "
        "WHERE u.id = ANY(:ids) AND NOT EXISTS (SELECT 1 FROM blocked_users b WHERE {blocked})"
        .replace("{blocked}", blocked_either_way_sql(":viewer", "u.id"))),
        params={"ids": ids, "viewer": viewer_id}).all()
    return {r.id: PersonView(r.id, r.gender, r.last_seen_at, r.avatar_id) for r in rows}
