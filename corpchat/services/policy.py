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
    "group.avatar": {"group": _MODERATORS},
    "group.add_member": {"group": _MODERATORS},
    "group.remove_member": {"group": _MODERATORS},
    "group.set_role": {"group": frozenset({"owner"})},
    "group.transfer": {"group": frozenset({"owner"})},
    "group.delete": {"group": frozenset({"owner"})},
    "group.leave": {"group": frozenset(ROLES)},
    "group.audit_log.read": {"group": _MODERATORS},
}


# Actions on another member: the actor's role -> the roles of members it may act on. Admins
# cannot touch the owner or other admins; nobody acts on the owner.
TARGETS: dict[str, dict[str, frozenset[str]]] = {
    "group.remove_member": {"owner": frozenset({"admin", "member"}), "admin": frozenset({"member"})},
    "group.set_role": {"owner": frozenset({"admin", "member"})},
}


def can(role: str, action: str, room_kind: str, target_role: str | None = None) -> bool:
    """Whether `role` may do `action` in a room of `room_kind`; for an action on another member,
    pass `target_role` (without it: whether the action is offered to `role` at all)."""
    if role not in ACTIONS[action].get(room_kind, ()):
        return False
    return target_role is None or action not in TARGETS or target_role in TARGETS[action].get(role, ())


def require(role: str, action: str, room_kind: str, target_role: str | None = None) -> None:
    if action in TARGETS and target_role is None:
        raise TypeError(f"{action} acts on a member: pass target_role")
    if not can(role, action, room_kind, target_role):
        raise Forbidden()
