"""Plural and gender forms, language choice, and that every language has every key."""

from __future__ import annotations

import pytest

from corpchat import i18n


@pytest.mark.parametrize("lang,n,expected", [
    ("uk", 1, "1 непрочитане повідомлення"), ("uk", 3, "3 непрочитані повідомлення"),
    ("uk", 5, "5 непрочитаних повідомлень"), ("uk", 11, "11 непрочитаних повідомлень"),
    ("uk", 21, "21 непрочитане повідомлення"), ("uk", 22, "22 непрочитані повідомлення"),
    ("ru", 1, "1 непрочитанное сообщение"), ("ru", 4, "4 непрочитанных сообщения"),
    ("ru", 12, "12 непрочитанных сообщений"), ("en", 1, "1 unread message"), ("en", 2, "2 unread messages"),
])
def test_plural_forms(lang, n, expected):
    assert i18n.t(lang, "unread.count", n=n) == expected


@pytest.mark.parametrize("lang,gender,expected", [
    ("uk", "male", "був о 14:00"), ("uk", "female", "була о 14:00"),
    ("ru", "male", "был в 14:00"), ("ru", "female", "была в 14:00"),
    ("en", "female", "last seen at 14:00"), ("ru", "unspecified", "был(а) в 14:00"),
])
def test_gender_forms(lang, gender, expected):
    assert i18n.t(lang, "presence.last_seen", gender=gender, time="14:00") == expected


def test_every_language_has_every_key():
    keys = set(i18n.LANGUAGES["en"])
    for lang, strings in i18n.LANGUAGES.items():
        assert set(strings) == keys, f"{lang}: missing {keys - set(strings)}, extra {set(strings) - keys}"


def test_language_choice():
    assert i18n.from_accept_language("uk-UA,uk;q=0.9,en;q=0.8") == "uk"
    assert i18n.from_accept_language("de-DE,ru;q=0.5") == "ru"
    assert i18n.from_accept_language("") == "en"
    assert i18n.normalize("xx") == "en"
    assert i18n.t("fr", "auth.login") == "Log in"


def test_no_icon_button_label_is_a_fixed_english_word():
    """Screen readers read aria-labels: each comes from the i18n tables (uk/ru users heard
    "theme", "settings", "emoji", "send")."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "corpchat"
    fixed = [f"{p.relative_to(root)}: {m}" for p in [*root.glob("components/*.py"), *root.glob("pages/*.py")]
             for m in re.findall(r"aria_label=\"[^\"]*\"", p.read_text())]
    assert not fixed, fixed


def test_new_group_photo_labels_in_every_language():
    for key in ("group.photo_optional", "group.photo_choose", "group.photo_not_set"):
        texts = {lang: i18n.t(lang, key, reason="R") for lang in ("uk", "ru", "en")}
        assert all(texts.values()) and len(set(texts.values())) == 3, texts
    assert "R" in i18n.t("uk", "group.photo_not_set", reason="R")
