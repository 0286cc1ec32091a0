"""The status line under a name: "online", or when the user was last seen.

Pure: the caller knows whether any tab is connected (realtime) and passes
the viewer's language and time zone. Ukrainian and Russian agree the verb
with the user's gender ("був"/"була"); "unspecified" gets the neutral form.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from corpchat import i18n
from corpchat.models.tables import GENDERS
from corpchat.services.birthdate import format_day_month


def last_seen_text(lang: str, *, online: bool, last_seen: datetime | None, gender: str,
                   tz: str | tzinfo | None = None, now: datetime | None = None,
                   hidden: bool = False) -> str:
    """"online", "була в мережі о 14:00", "был в сети вчера в 09:05", "last seen 12 March".

    `hidden` (a block either way) gives "": not even "online" may show.
    Times are in the viewer's zone `tz` (an IANA name or tzinfo; unknown: UTC).
    """
    if hidden:
        return ""
    if online:
        return i18n.t(lang, "presence.online")
    if last_seen is None:
        return i18n.t(lang, "presence.offline")
    zone = viewer_zone(tz)
    gender = gender if gender in GENDERS else "unspecified"
    seen = _aware(last_seen).astimezone(zone)
    today = _aware(now or datetime.now(UTC)).astimezone(zone).date()
    time = f"{seen.hour:02d}:{seen.minute:02d}"
    # A clock a little ahead on another host must not give "last seen tomorrow".
    if seen.date() >= today:
        return i18n.t(lang, "presence.seen_at", gender=gender, time=time)
    if seen.date() == today - timedelta(days=1):
        return i18n.t(lang, "presence.seen_yesterday", gender=gender, time=time)
    year = None if seen.year == today.year else seen.year
    when = format_day_month(lang, seen.day, seen.month, year)
    return i18n.t(lang, "presence.seen_on", gender=gender, date=when)


def viewer_zone(tz: str | tzinfo | None) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    return _zone(tz) if isinstance(tz, str) and 0 < len(tz) <= 64 else UTC


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    # The name comes from the browser: unknown or malformed ones (paths raise ValueError) mean UTC.
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def _aware(moment: datetime) -> datetime:
    """Database timestamps are aware; a naive one is taken as UTC, never as server-local."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
