"""Birth dates: typed input, age, and how they read in each language.

A birth date may lack its year (`DD.MM`): then it is a birthday, never a
date with an invented year, so no age can leak out of a placeholder.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from corpchat import i18n
from corpchat.services.errors import Invalid

MAX_AGE = 130
# Longer input is refused before matching: nobody types a date in 40 characters.
MAX_INPUT = 40

# [0-9], not \d: \d and str.isdigit() accept Arabic-Indic, Devanagari and
# fullwidth digits, which int() would silently turn into a date.
# Spaces are tolerated around the dots ("12 . 03 . 1990"), never inside a
# number ("1 2.03"), and a trailing dot ("12.03.") is what people type.
_TYPED = re.compile(r"([0-9]{1,2})\s*\.\s*([0-9]{1,2})(?:\s*\.\s*([0-9]+))?\s*\.?")
# What <input type="date"> (the calendar picker) sends.
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


@dataclass(frozen=True)
class BirthDate:
    day: int
    month: int
    year: int | None = None

    @property
    def year_known(self) -> bool:
        return self.year is not None

    @property
    def full_date(self) -> date | None:
        """The full date, only when the year is known."""
        return date(self.year, self.month, self.day) if self.year is not None else None


def parse_birth_date(value, *, today: date | None = None) -> BirthDate:
    """`DD.MM.YYYY`, `DD.MM` (year unknown) or ISO `YYYY-MM-DD` -> BirthDate.

    Raises Invalid with a key saying what is wrong: err.birth_format,
    err.birth_two_digit_year, err.birth_impossible, err.birth_future,
    err.birth_too_old.
    """
    if not isinstance(value, str) or len(value) > MAX_INPUT:
        raise Invalid("err.birth_format")
    text = value.strip()
    if m := _ISO.fullmatch(text):
        year_s, month_s, day_s = m.groups()
    elif m := _TYPED.fullmatch(text):
        day_s, month_s, year_s = m.groups()
    else:
        raise Invalid("err.birth_format")
    day, month = int(day_s), int(month_s)
    if year_s is None:
        # 29.02 is a real birthday even though this year may not have one.
        if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(month, 2000):
            raise Invalid("err.birth_impossible")
        return BirthDate(day, month)
    if len(year_s) == 2:
        # "05" is 1905 or 2005: refuse rather than guess a century.
        raise Invalid("err.birth_two_digit_year")
    if len(year_s) != 4:
        raise Invalid("err.birth_format")
    year = int(year_s)
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(month, year):
        raise Invalid("err.birth_impossible")
    born = BirthDate(day, month, year)
    today = today or date.today()
    if born.full_date > today:
        raise Invalid("err.birth_future")
    if age(born, today) > MAX_AGE:
        raise Invalid("err.birth_too_old", max=MAX_AGE)
    return born


def from_columns(day: int | None, month: int | None, year: int | None) -> BirthDate | None:
    """The users table keeps birth_day/birth_month/birth_year; no day means no date."""
    if day is None or month is None:
        return None
    return BirthDate(day, month, year)


def age(born: BirthDate, today: date | None = None) -> int | None:
    """Full years, or None when the year is unknown.

    A 29 February birthday counts as passed on 1 March in common years (the
    rule UK and Ukrainian law use for coming of age): the tuple comparison
    below does exactly that, since (2, 28) < (2, 29) <= (3, 1).
    """
    if born.year is None:
        return None
    today = today or date.today()
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years


def format_birth_date(lang: str, born: BirthDate) -> str:
    """"12 March", "12 березня 1990": month names in the genitive where the language has one."""
    return format_day_month(lang, born.day, born.month, born.year)


def format_day_month(lang: str, day: int, month: int, year: int | None = None) -> str:
    """"12 March" / "12 березня" / "12 марта", with the year when given."""
    name = i18n.t(lang, f"date.month_gen.{month}")
    if year is None:
        return i18n.t(lang, "date.day_month", day=day, month=name)
    return i18n.t(lang, "date.day_month_year", day=day, month=name, year=year)


def format_age(lang: str, years: int) -> str:
    """"21 рік" / "22 роки" / "25 років"; "21 год" / "22 года" / "25 лет"; "21 years"."""
    return i18n.t(lang, "profile.age", n=years)


def _days_in_month(month: int, year: int) -> int:
    return calendar.monthrange(year, month)[1]
