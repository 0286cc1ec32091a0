"""Last-seen phrases: gender agreement, today/yesterday/date, the viewer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from corpchat.services.presence_text import last_seen_text, viewer_zone

# 15:30 in Kyiv (UTC+2 in winter).
NOW = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
TODAY_1400_KYIV = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
YESTERDAY_1400_KYIV = TODAY_1400_KYIV - timedelta(days=1)
MARCH_12 = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)


def text(lang, seen, gender="unspecified", tz="Europe/Kyiv", online=False, **kw):
    return last_seen_text(lang, online=online, last_seen=seen, gender=gender, tz=tz, now=NOW, **kw)


@pytest.mark.parametrize("lang,gender,expected", [
    ("uk", "male", "був у мережі о 14:00"),
    ("uk", "female", "була в мережі о 14:00"),
    ("uk", "unspecified", "був(ла) у мережі о 14:00"),
    ("ru", "male", "был в сети в 14:00"),
    ("ru", "female", "была в сети в 14:00"),
    ("ru", "unspecified", "был(а) в сети в 14:00"),
    ("en", "male", "last seen at 14:00"),
    ("en", "female", "last seen at 14:00"),
    ("en", "unspecified", "last seen at 14:00"),
])
def test_today(lang, gender, expected):
    assert text(lang, TODAY_1400_KYIV, gender) == expected


@pytest.mark.parametrize("lang,gender,expected", [
    ("uk", "male", "був у мережі вчора о 14:00"),
    ("uk", "female", "була в мережі вчора о 14:00"),
    ("ru", "female", "была в сети вчера в 14:00"),
    ("ru", "unspecified", "был(а) в сети вчера в 14:00"),
    ("en", "male", "last seen yesterday at 14:00"),
])
def test_yesterday(lang, gender, expected):
    assert text(lang, YESTERDAY_1400_KYIV, gender) == expected


@pytest.mark.parametrize("lang,gender,expected", [
    ("uk", "male", "був у мережі 12 березня"),
    ("uk", "female", "була в мережі 12 березня"),
    ("ru", "male", "был в сети 12 марта"),
    ("en", "female", "last seen 12 March"),
])
def test_older_this_year(lang, gender, expected):
    assert text(lang, MARCH_12, gender) == expected


def test_another_year_shows_the_year():
    assert text("uk", MARCH_12.replace(year=2025), "female") == "була в мережі 12 березня 2025"
    assert text("en", datetime(2025, 12, 31, 12, tzinfo=UTC)) == "last seen 31 December 2025"


def test_online_and_never_seen():
    assert text("uk", TODAY_1400_KYIV, online=True) == "у мережі"
    assert text("en", None, online=True) == "online"
    assert text("ru", None) == "не в сети"
    assert text("uk", None) == "не в мережі"


def test_hidden_by_a_block_says_nothing():
    assert text("en", TODAY_1400_KYIV, online=True, hidden=True) == ""
    assert text("uk", TODAY_1400_KYIV, hidden=True) == ""


def test_the_viewers_zone_decides_the_day_and_the_hour():
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 01:30 on 1 Dec in Kyiv
    assert text("en", late, tz="Europe/Kyiv") == "last seen at 01:30"
    assert text("en", late, tz="UTC") == "last seen yesterday at 23:30"
    assert text("en", late, tz="America/New_York") == "last seen yesterday at 18:30"
    # 23:00 on 29 Nov in Tokyo, where it is now 22:30 on 1 Dec: two days back, so a date.
    assert text("en", datetime(2026, 11, 29, 14, 0, tzinfo=UTC), tz="Asia/Tokyo") == "last seen 29 November"
    assert text("en", TODAY_1400_KYIV, tz=timezone(timedelta(hours=5))) == "last seen at 17:00"


def test_summer_time_is_applied():
    summer_now = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)
    seen = datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
    assert last_seen_text("uk", online=False, last_seen=seen, gender="male", tz="Europe/Kyiv",
                          now=summer_now) == "був у мережі о 14:00"  # UTC+3 in summer


@pytest.mark.parametrize("tz", ["", None, "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "x" * 500, 5])
def test_unknown_zones_fall_back_to_utc(tz):
    assert viewer_zone(tz) is UTC
    assert text("en", TODAY_1400_KYIV, tz=tz) == "last seen at 12:00"


def test_naive_timestamps_are_utc_and_future_ones_are_today():
    assert text("en", datetime(2026, 12, 1, 12, 0)) == "last seen at 14:00"
    assert text("en", NOW + timedelta(minutes=5)) == "last seen at 15:35"


def test_unknown_gender_and_language_degrade_gracefully():
    assert text("uk", TODAY_1400_KYIV, gender="robot") == "був(ла) у мережі о 14:00"
    assert text("xx", TODAY_1400_KYIV, gender="male") == "last seen at 14:00"
