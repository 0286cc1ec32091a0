"""A system message as its reader sees it: one sentence in the reader's language, made from the
structured payload (services/system_messages.py), never from stored text."""

from __future__ import annotations

from corpchat import i18n


def system_text(payload: dict | None, lang: str) -> str:
    payload = payload or {}
    names = payload.get("names") or {}

    def name(role: str) -> str:
        return names.get(str(payload.get(role))) or i18n.t(lang, "sys.someone")

    key = f"sys.{payload.get('action', '')}"
    if key not in i18n.LANGUAGES[i18n.DEFAULT_LANGUAGE]:
        return i18n.t(lang, "sys.unknown")
    return i18n.t(lang, key, actor=name("actor"), target=name("target"), old=payload.get("old") or "",
                  new=payload.get("new") or "", gender=payload.get("gender") or "unspecified")


# An audit-log action -> the sentence that says it (the same as the system line's).
_LOG_SENTENCE = {"create": "group_created", "rename": "group_renamed", "add": "member_added",
                 "remove": "member_removed", "leave": "member_left", "promote": "member_promoted",
                 "demote": "member_demoted", "transfer": "owner_changed", "avatar": "avatar_changed",
                 "delete": "group_deleted"}


def log_text(entry, lang: str) -> str:
    """One audit-log entry (services.group_log.Entry) in the reader's language."""
    sentence = "avatar_removed" if entry.action == "avatar" and not entry.new else _LOG_SENTENCE.get(entry.action, "")
    payload = {"action": sentence, "actor": entry.actor_id, "target": entry.target_id,
               "old": entry.old, "new": entry.new,
               "names": {str(entry.actor_id): entry.actor, str(entry.target_id): entry.target},
               "gender": entry.actor_gender}
    return system_text(payload, lang)
