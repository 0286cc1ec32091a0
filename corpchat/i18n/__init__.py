"""UI strings in Ukrainian, Russian and English, with plural and gender forms.

`t(lang, key, **params)` formats a plain string. A string may be a dict:
  - plural: {"one": ..., "few": ..., "many": ...} (uk/ru) or {"one", "other"}
    (en), chosen by `n=`;
  - gender: {"male": ..., "female": ..., "unspecified": ...}, chosen by `gender=`.
"""

from __future__ import annotations

from functools import cache

from corpchat.i18n import en, ru, uk

LANGUAGES: dict[str, dict] = {"en": en.STRINGS, "uk": uk.STRINGS, "ru": ru.STRINGS}
LANGUAGE_NAMES = {"en": "English", "uk": "Українська", "ru": "Русский"}
DEFAULT_LANGUAGE = "en"


def plural_category(lang: str, n: int) -> str:
    """CLDR cardinal categories for the three languages we ship."""
    if lang in ("uk", "ru"):
        n = abs(n)
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return "many"
    return "one" if n == 1 else "other"


def normalize(lang: str | None) -> str:
    lang = (lang or "").strip().lower()[:2]
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def from_accept_language(header: str | None) -> str:
    """The first supported language in an Accept-Language header."""
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def t(lang: str, key: str, **params) -> str:
    lang = normalize(lang)
    value = LANGUAGES[lang].get(key, LANGUAGES[DEFAULT_LANGUAGE].get(key, key))
    if isinstance(value, dict):
        if "gender" in params and params["gender"] in value:
            value = value[params["gender"]]
        elif "gender" in params:
            value = value.get("unspecified", next(iter(value.values())))
        if isinstance(value, dict) and "n" in params:
            value = value.get(plural_category(lang, int(params["n"])), value.get("many", value.get("other")))
    return str(value).format(**params) if params else str(value)


def flat(lang: str) -> dict[str, str]:
    """All plain (non-plural, non-gender) strings of a language, for the UI.

    One dict per language, shared by every tab (read-only).
    """
    return _flat(normalize(lang))


@cache
def _flat(lang: str) -> dict[str, str]:
    merged = {**LANGUAGES[DEFAULT_LANGUAGE], **LANGUAGES[lang]}
    return {k: v for k, v in merged.items() if isinstance(v, str)}
