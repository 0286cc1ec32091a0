"""Who can join, and whom a user can find and look at: REGISTRATION and DIRECTORY.

With REGISTRATION=open anyone who reaches the server registers; `invite` asks for a shared
code; `closed` leaves account creation to the administrator (`python -m corpchat.cli
create-user`). With DIRECTORY=contacts, people search, profiles and presence show only the
people a user shares a chat with (an exact login still finds a colleague, to start one).
"""

from __future__ import annotations

import hmac

from sqlalchemy import text

from corpchat.config import settings
from corpchat.services.errors import Forbidden, Invalid


def check_registration(invite, by_admin: bool = False) -> None:
    if by_admin or settings.registration == "open":
        return
    if settings.registration == "closed":
        raise Forbidden("err.registration_closed")
    if not isinstance(invite, str) or not hmac.compare_digest(invite.strip().encode(),
                                                              settings.registration_invite_code.encode()):
        raise Invalid("err.invite_wrong")


def everyone_visible() -> bool:
    return settings.directory == "everyone"


def room_mates(s, user_id: int) -> set[int]:
    """Everyone sharing a room with the user, an opened chat with no message in it included."""
    rows = s.exec(text("SELECT DISTINCT o.user_id FROM participants p JOIN participants o ON o.room_id = p.room_id "
                       "WHERE p.user_id = :u AND o.user_id <> :u"), params={"u": user_id})
    return {r[0] for r in rows}


def may_look_up(s, viewer_id: int, user_id: int) -> bool:
    """Whether the viewer may see this user's profile and presence at all."""
    return everyone_visible() or viewer_id == user_id or user_id in room_mates(s, viewer_id)
