"""Profiles: what one user sees of another, and editing one's own.

A block in either direction withholds the avatar, bio, birth date and
presence (SPEC 2); the login, name and gender stay, because the blocked
user still appears in shared groups and in grammar ("був"/"була").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from corpchat import db
from corpchat.models import BlockedUser, User
from corpchat.models.tables import GENDERS
from corpchat.services import birthdate, directory, rate_limits, validate
from corpchat.services.birthdate import BirthDate
from corpchat.services.errors import Invalid, NotFound
from corpchat.services.events import ProfileChanged, Push
from corpchat.services.visibility import blocked_either_way, profile_watchers

# The users.real_name column is varchar(100).
MAX_NAME = 100
# A few paragraphs: enough for a role, a team and contacts, small enough to
# send in every profile card without paging.
MAX_BIO = 1000
# Raw input beyond this is refused before cleaning: cleaning costs time per character.
_RAW_FACTOR = 4

# Bidi embeddings/overrides (U+202A-202E) and isolates (U+2066-2069) let a
# name reorder the text around it ("Bob" shown as an admin's name reversed).


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass(frozen=True)
class Profile:
    user_id: int
    login: str
    display_name: str
    real_name: str
    gender: str
    # None when a block (either way) hides them; birth/age also when never set.
    bio: str | None
    birth: BirthDate | None
    age: int | None
    avatar_id: str | None
    last_seen_at: datetime | None
    # A block either way: the fields above that a block covers are None, and
    # the presence layer must not say "online" either.
    hidden: bool
    blocked_by_me: bool
    is_self: bool


@dataclass(frozen=True)
class ProfileChange:
    profile: Profile
    # Whose tabs show this profile (the actor first): push after commit.
    notify: list[int]
    # The same as a Push (None when nothing changed); the watchers exclude blocks either way.
    push: Push | None = None


def display_name(real_name: str, login: str) -> str:
    return real_name or login


def get_profile(viewer_id: int, user_id, *, today: date | None = None) -> Profile:
    user_id = validate.ident(user_id)
    with db.session() as s:
        user = s.exec(select(User).where(User.id == user_id)).scalars().first()
        if user is None or not directory.may_look_up(s, viewer_id, user_id):
            raise NotFound()
        hidden = viewer_id != user_id and blocked_either_way(s, viewer_id, user_id)
        blocked_by_me = hidden and _blocked_by(s, viewer_id, user_id)
        return _project(user, viewer_id, hidden=hidden, blocked_by_me=blocked_by_me, today=today)


def update_profile(actor_id: int, *, real_name=UNSET, bio=UNSET, gender=UNSET, birth=UNSET,
                   today: date | None = None) -> ProfileChange:
    """Change only the fields given; `birth` is typed text (see birthdate), or None/"" to clear.

    Every field is checked before anything is written, so a bad bio does not
    leave a half-saved name behind.
    """
    changes: dict = {}
    if real_name is not UNSET:
        changes["real_name"] = clean_name(real_name)
    if bio is not UNSET:
        changes["bio"] = clean_bio(bio)
    if gender is not UNSET:
        if not isinstance(gender, str) or gender not in GENDERS:
            raise Invalid()
        changes["gender"] = gender
    if birth is not UNSET:
        born = None if birth is None or (isinstance(birth, str) and not birth.strip()) \
            else birthdate.parse_birth_date(birth, today=today)
        changes.update(birth_day=born and born.day, birth_month=born and born.month,
                       birth_year=born and born.year)
    rate_limits.check("profile", actor_id)
    with db.session() as s:
        user = s.exec(select(User).where(User.id == actor_id).with_for_update()).scalars().first()
        if user is None:
            raise NotFound()
        # Saving the form unchanged tells nobody anything.
        changes = {f: v for f, v in changes.items() if getattr(user, f) != v}
        for field, value in changes.items():
            setattr(user, field, value)
        s.add(user)
        s.flush()
        profile = _project(user, actor_id, hidden=False, blocked_by_me=False, today=today)
        notify = [actor_id, *profile_watchers(s, actor_id)] if changes else []
    return ProfileChange(profile, notify, Push(tuple(notify), profile_event(profile)) if notify else None)


def profile_event(p: Profile) -> ProfileChanged:
    born = p.birth
    birth = "" if born is None else f"{born.day:02d}.{born.month:02d}" + (f".{born.year}" if born.year else "")
    return ProfileChanged(user_id=p.user_id, login=p.login, display_name=p.display_name, gender=p.gender,
                          bio=p.bio or "", birth=birth)


def clean_name(value) -> str:
    """One line, no control or bidi-override characters, at most MAX_NAME characters."""
    if not isinstance(value, str) or len(value) > MAX_NAME * _RAW_FACTOR:
        raise Invalid("err.name_too_long", max=MAX_NAME)
    value = " ".join(validate.without_controls(value).split())
    if len(value) > MAX_NAME:
        raise Invalid("err.name_too_long", max=MAX_NAME)
    return value


def clean_bio(value) -> str:
    """Keeps line breaks (a bio may be a short list); drops other controls and bidi overrides."""
    if not isinstance(value, str) or len(value) > MAX_BIO * _RAW_FACTOR:
        raise Invalid("err.bio_too_long", max=MAX_BIO)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in validate.without_controls(value, keep="\n").split("\n")]
    value = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(value) > MAX_BIO:
        raise Invalid("err.bio_too_long", max=MAX_BIO)
    return value


def _blocked_by(s, blocker: int, blocked: int) -> bool:
    return s.exec(select(BlockedUser.blocker_id).where(
        BlockedUser.blocker_id == blocker, BlockedUser.blocked_id == blocked)).first() is not None


def _project(user: User, viewer_id: int, *, hidden: bool, blocked_by_me: bool,
             today: date | None) -> Profile:
    """The one projection of a user for a viewer: everything, or the block-safe subset."""
    born = None if hidden else birthdate.from_columns(user.birth_day, user.birth_month, user.birth_year)
    return Profile(
        user_id=user.id,
        login=user.login,
        display_name=display_name(user.real_name, user.login),
        real_name=user.real_name,
        gender=user.gender,
        bio=None if hidden else user.bio,
        birth=born,
        age=birthdate.age(born, today) if born else None,
        avatar_id=None if hidden else user.avatar_id,
        last_seen_at=None if hidden else user.last_seen_at,
        hidden=hidden,
        blocked_by_me=blocked_by_me,
        is_self=user.id == viewer_id,
    )
