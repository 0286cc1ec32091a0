"""Birth date parsing, age and formatting: examples plus properties (hypothesis)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpchat.services.birthdate import (
    MAX_AGE,
    BirthDate,
    age,
    format_age,
    format_birth_date,
    from_columns,
    parse_birth_date,
)
from corpchat.services.errors import Invalid

TODAY = date(2026, 12, 1)


def parse(text):
    return parse_birth_date(text, today=TODAY)


def key_of(text) -> str:
    with pytest.raises(Invalid) as err:
        parse(text)
    return err.value.key


@pytest.mark.parametrize("text,expected", [
    ("12.03.1990", BirthDate(12, 3, 1990)),
    ("1.3.1990", BirthDate(1, 3, 1990)),
    ("01.03.1990", BirthDate(1, 3, 1990)),
    ("  12.03.1990  ", BirthDate(12, 3, 1990)),
    ("12 . 03 . 1990", BirthDate(12, 3, 1990)),
    ("12.\u00a003.1990", BirthDate(12, 3, 1990)),
    ("12.03.1990.", BirthDate(12, 3, 1990)),
    ("12.03", BirthDate(12, 3)),
    ("12.03.", BirthDate(12, 3)),
    ("1.3", BirthDate(1, 3)),
    ("29.02", BirthDate(29, 2)),
    ("29.02.2000", BirthDate(29, 2, 2000)),
    ("29.02.1996", BirthDate(29, 2, 1996)),
    ("1990-03-12", BirthDate(12, 3, 1990)),
    ("01.12.2026", BirthDate(1, 12, 2026)),  # born today: age 0
])
def test_accepted(text, expected):
    assert parse(text) == expected


def test_year_unknown_is_never_a_fake_year():
    born = parse("12.03")
    assert born.year is None and not born.year_known and born.full_date is None
    assert age(born, TODAY) is None
    assert parse("12.03.1990").year_known and parse("12.03.1990").full_date == date(1990, 3, 12)


@pytest.mark.parametrize("text,key", [
    ("31.02.2000", "err.birth_impossible"),
    ("00.13.2000", "err.birth_impossible"),
    ("00.01.2000", "err.birth_impossible"),
    ("32.01", "err.birth_impossible"),
    ("31.04", "err.birth_impossible"),
    ("12.13", "err.birth_impossible"),
    ("29.02.1900", "err.birth_impossible"),  # century, not leap
    ("29.02.2023", "err.birth_impossible"),
    ("0000-01-01", "err.birth_impossible"),
    ("12.03.90", "err.birth_two_digit_year"),
    ("12.03.05", "err.birth_two_digit_year"),
    ("12.03.199", "err.birth_format"),
    ("12.03.19900", "err.birth_format"),
    ("02.12.2026", "err.birth_future"),
    ("01.01.2030", "err.birth_future"),
    ("30.11.1895", "err.birth_too_old"),  # turned 131 yesterday
    ("", "err.birth_format"),
    ("   ", "err.birth_format"),
    ("1 2.03.1990", "err.birth_format"),
    ("12.0 3.1990", "err.birth_format"),
    ("12/03/1990", "err.birth_format"),
    ("12.03.1990 1", "err.birth_format"),
    ("123.03.1990", "err.birth_format"),
    ("12", "err.birth_format"),
    ("-1.03.1990", "err.birth_format"),
    ("+1.03.1990", "err.birth_format"),
    ("١٢.٠٣.١٩٩٠", "err.birth_format"),  # Arabic-Indic digits
    ("۱۲.۰۳.۱۹۹۰", "err.birth_format"),  # Extended Arabic-Indic
    ("１２.０３.１９９０", "err.birth_format"),  # fullwidth
    ("१२.०३.१९९०", "err.birth_format"),  # Devanagari
    ("12.03.199\u0660", "err.birth_format"),  # one foreign digit is enough
    ("²³.03", "err.birth_format"),  # superscripts pass isdigit() too
    ("12.03.1990" + " " * 40, "err.birth_format"),  # over the input cap
])
def test_refused(text, key):
    assert key_of(text) == key


@pytest.mark.parametrize("value", [None, 12, 12.03, b"12.03.1990", ["12.03"], {"d": 1}, True])
def test_non_strings_are_refused(value):
    assert key_of(value) == "err.birth_format"


def test_exactly_max_age_is_allowed():
    assert age(parse("01.12.1896"), TODAY) == MAX_AGE
    assert key_of("30.11.1895") == "err.birth_too_old"


def test_too_old_message_has_the_limit():
    with pytest.raises(Invalid) as err:
        parse("01.01.1800")
    assert err.value.params == {"max": MAX_AGE}


# Age on, before and after the birthday.
@pytest.mark.parametrize("today,expected", [
    (date(2026, 3, 11), 35), (date(2026, 3, 12), 36), (date(2026, 3, 13), 36),
    (date(2026, 1, 1), 35), (date(2026, 12, 31), 36), (date(1990, 3, 12), 0),
])
def test_age_around_the_birthday(today, expected):
    assert age(BirthDate(12, 3, 1990), today) == expected


# 29 February: in a common year the birthday counts as passed on 1 March.
@pytest.mark.parametrize("today,expected", [
    (date(2025, 2, 28), 24), (date(2025, 3, 1), 25),
    (date(2024, 2, 28), 23), (date(2024, 2, 29), 24), (date(2024, 3, 1), 24),
])
def test_age_of_a_leap_day_birthday(today, expected):
    assert age(BirthDate(29, 2, 2000), today) == expected


def test_from_columns():
    assert from_columns(None, None, None) is None
    assert from_columns(12, None, 1990) is None
    assert from_columns(12, 3, None) == BirthDate(12, 3)
    assert from_columns(12, 3, 1990) == BirthDate(12, 3, 1990)


@pytest.mark.parametrize("lang,born,expected", [
    ("en", BirthDate(12, 3), "12 March"),
    ("uk", BirthDate(12, 3), "12 березня"),
    ("ru", BirthDate(12, 3), "12 марта"),
    ("uk", BirthDate(1, 5, 1990), "1 травня 1990"),
    ("ru", BirthDate(23, 8, 1990), "23 августа 1990"),
    ("en", BirthDate(31, 12, 1999), "31 December 1999"),
    ("xx", BirthDate(1, 1), "1 January"),
])
def test_format_birth_date(lang, born, expected):
    assert format_birth_date(lang, born) == expected


@pytest.mark.parametrize("lang,n,expected", [
    ("uk", 21, "21 рік"), ("uk", 22, "22 роки"), ("uk", 25, "25 років"), ("uk", 11, "11 років"),
    ("uk", 14, "14 років"), ("uk", 101, "101 рік"), ("uk", 0, "0 років"),
    ("ru", 21, "21 год"), ("ru", 22, "22 года"), ("ru", 25, "25 лет"), ("ru", 12, "12 лет"),
    ("ru", 111, "111 лет"), ("ru", 104, "104 года"),
    ("en", 21, "21 years"), ("en", 1, "1 year"), ("en", 0, "0 years"),
])
def test_format_age(lang, n, expected):
    assert format_age(lang, n) == expected


# Properties.

past_dates = st.dates(min_value=TODAY.replace(year=TODAY.year - MAX_AGE), max_value=TODAY)
ascii_digits = set("0123456789")


@given(past_dates, st.booleans(), st.booleans(), st.sampled_from(["", " ", "  ", "\t"]))
def test_any_valid_past_date_round_trips(d, pad_day, pad_month, space):
    day = f"{d.day:02d}" if pad_day else str(d.day)
    month = f"{d.month:02d}" if pad_month else str(d.month)
    text = f"{space}{day}{space}.{space}{month}.{d.year:04d}{space}"
    assert parse(text) == BirthDate(d.day, d.month, d.year)
    assert parse(f"{day}.{month}") == BirthDate(d.day, d.month)


@given(st.dates(min_value=TODAY + timedelta(days=1)))
def test_any_future_date_is_refused(d):
    assert key_of(f"{d.day}.{d.month}.{d.year}") == "err.birth_future"


@given(st.integers(1, 31), st.integers(1, 12), st.integers(1000, 2026))
def test_parse_agrees_with_the_calendar(day, month, year):
    text = f"{day}.{month}.{year}"
    exists = day <= calendar.monthrange(year, month)[1]
    if not exists:
        assert key_of(text) == "err.birth_impossible"
    elif date(year, month, day) > TODAY:
        assert key_of(text) == "err.birth_future"
    elif age(BirthDate(day, month, year), TODAY) > MAX_AGE:
        assert key_of(text) == "err.birth_too_old"
    else:
        assert parse(text) == BirthDate(day, month, year)


@given(st.integers(0, 99), st.integers(0, 99))
def test_two_digit_years_always_get_their_own_message(day, month):
    assert key_of(f"{day:02d}.{month:02d}.{(day + month) % 100:02d}") in (
        "err.birth_two_digit_year", "err.birth_impossible")


@given(st.text(max_size=20))
def test_any_text_parses_or_raises_invalid(text):
    try:
        born = parse(text)
    except Invalid as err:
        assert err.key.startswith("err.birth_")
        return
    # Whatever got through was written with ASCII digits only.
    assert set(c for c in text if c.isdigit()) <= ascii_digits
    assert 1 <= born.month <= 12


@given(st.text(alphabet=st.characters(categories=["Nd"]).filter(lambda c: c not in ascii_digits),
               min_size=1, max_size=2))
def test_unicode_digits_are_refused(foreign):
    assert foreign.isdigit()  # the trap: isdigit() and int() accept them
    assert key_of(f"{foreign}.03.1990") == "err.birth_format"
    assert key_of(f"12.{foreign}") == "err.birth_format"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
       st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_age_matches_a_naive_count(born, today):
    if today < born:
        return
    # Count birthdays passed, with 29.02 celebrated on 1 March in common years.
    years = 0
    for y in range(born.year + 1, today.year + 1):
        if born.month == 2 and born.day == 29 and not calendar.isleap(y):
            birthday = date(y, 3, 1)
        else:
            birthday = date(y, born.month, born.day)
        if birthday <= today:
            years += 1
    assert age(BirthDate(born.day, born.month, born.year), today) == years
