"""Who may do what in a room: one table of roles x actions, read by services and the page.

Services call `require(...)` before they write; the page asks `can(...)` which
actions to offer, so the two never disagree.
"""

from __future__ import annotations

from corpchat.services.errors import Forbidden

ROLES = ("owner", "admin", "member")
_MODERATORS = frozenset({"owner", "admin"})

# action -> room kind -> roles allowed. An action missing for a kind is refused there.
# Acting on one's own message (edit, delete for everyone) needs no entry: being its sender is the right.
ACTIONS: dict[str, dict[str, frozenset[str]]] = {
    "message.delete_others": {"group": _MODERATORS},
    "group.rename": {"group": _MODERATORS},
    "group.add_member": {"group": _MODERATORS},
    "group.remove_member": {"group": _MODERATORS},
    "group.set_role": {"group": frozenset({"owner"})},
    "group.audit_log.read": {"group": _MODERATORS},
}


def can(role: str, action: str, room_kind: str) -> bool:
    return role in ACTIONS[action].get(room_kind, ())


def require(role: str, action: str, room_kind: str) -> None:
    if not can(role, action, room_kind):
        raise Forbidden()
