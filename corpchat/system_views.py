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
