"""Accounts: registration, login, tokens, logout, password change."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import bcrypt
import jwt
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from corpchat import db
from corpchat.config import settings
from corpchat.models import LoginAddress, User
from corpchat.services import directory
from corpchat.services.errors import Conflict, Invalid, NotAuthenticated, Throttled
from corpchat.services.throttle import FailureCounter, LoginThrottle

LOGIN_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
BCRYPT_MAX_BYTES = 72
JWT_ALGORITHM = "HS256"
_logins = LoginThrottle(settings.login_max_failures, settings.login_window_seconds, name="login")
# Every registration costs a bcrypt hash and a row: one address may not mint accounts in bulk.
_registrations = FailureCounter(settings.register_max_per_ip, settings.register_window_seconds, "register")


def _rounds() -> int:
    return settings.bcrypt_rounds


# Checked against unknown logins so that they cost as much time as known ones.
_DUMMY_HASH = bcrypt.hashpw(b"corpchat-dummy-password", bcrypt.gensalt(_rounds())).decode()


@dataclass(frozen=True)
class Identity:
    user_id: int
    login: str
    session_version: int


def validate_login(login) -> str:
    if not isinstance(login, str) or not LOGIN_RE.fullmatch(login.strip()):
        raise Invalid("err.login_invalid")
    return login.strip()


def validate_password(password) -> bytes:
    if not isinstance(password, str):
        raise Invalid()
    if len(password) < settings.min_password_length:
        raise Invalid("err.password_short", min=settings.min_password_length)
    raw = password.encode("utf-8")
    if len(raw) > BCRYPT_MAX_BYTES:
        raise Invalid("err.password_long")
    return raw


def _hash(raw: bytes) -> str:
    return bcrypt.hashpw(raw, bcrypt.gensalt(_rounds())).decode()


def register(login, password, password_repeat=None, locale: str | None = None, ip: str = "",
             invite=None, by_admin: bool = False) -> Identity:
    directory.check_registration(invite, by_admin)
    login = validate_login(login)
    raw = validate_password(password)
    if password_repeat is not None and password_repeat != password:
        raise Invalid("err.password_mismatch")
    if not by_admin:
        if _registrations.blocked(ip):
            raise Throttled("err.throttled_register")
        _registrations.fail(ip)
    user = User(login=login, password_hash=_hash(raw), locale=locale)
    try:
        with db.session() as s:
            s.add(user)
            s.flush()
            return Identity(user.id, user.login, user.session_version)
    except IntegrityError as exc:
        raise Conflict("err.login_taken") from exc


def _find_by_login(s, login: str) -> User | None:
    return s.exec(select(User).where(func.lower(User.login) == login.lower())).scalars().first()


def _known_address(s, user: User | None, ip: str) -> bool:
    if user is None or not ip:
        return False
    return s.exec(select(LoginAddress.user_id).where(LoginAddress.user_id == user.id,
                                                     LoginAddress.address == ip)).first() is not None


def _remember_address(user_id: int, ip: str) -> None:
    """Upsert this address, and forget the user's oldest beyond KNOWN_ADDRESSES_PER_USER."""
    if not ip:
        return
    with db.session() as s:
        s.exec(pg_insert(LoginAddress).values(user_id=user_id, address=ip[:45])
               .on_conflict_do_update(index_elements=["user_id", "address"],
                                      set_={"last_login_at": func.now()}))
        keep = (select(LoginAddress.address).where(LoginAddress.user_id == user_id)
                .order_by(LoginAddress.last_login_at.desc()).limit(settings.known_addresses_per_user))
        s.exec(delete(LoginAddress).where(LoginAddress.user_id == user_id, LoginAddress.address.not_in(keep)))


def authenticate(login, password, ip: str = "") -> Identity:
    """The same error for an unknown login and a wrong password."""
    if not isinstance(login, str) or not isinstance(password, str) or len(login) > 64:
        raise NotAuthenticated("err.bad_credentials")
    login_key = login.strip().lower()
    # Looked up before the throttle decides: whether this address is the owner's is part of it.
    with db.session() as s:
        user = _find_by_login(s, login.strip())
        known = _known_address(s, user, ip)
    if _logins.blocked(login_key, ip, known):
        raise Throttled("err.throttled")
    raw = password.encode("utf-8")
    # bcrypt refuses over 72 bytes: such a password cannot match any stored one.
    ok = False
    if len(raw) <= BCRYPT_MAX_BYTES:
        ok = bcrypt.checkpw(raw, (user.password_hash if user else _DUMMY_HASH).encode())
    if not ok or user is None:
        _logins.failed(login_key, ip, known)
        raise NotAuthenticated("err.bad_credentials")
    _logins.succeeded(login_key, ip)
    _remember_address(user.id, ip)
    return Identity(user.id, user.login, user.session_version)


def issue_token(identity: Identity, now: int | None = None) -> str:
    settings.check_secret()
    now = int(now if now is not None else time.time())
    claims = {"sub": str(identity.user_id), "sv": identity.session_version, "iat": now,
              "exp": now + settings.jwt_ttl_seconds}
    return jwt.encode(claims, settings.jwt_secret, algorithm=JWT_ALGORITHM)


def decode_token(token) -> tuple[int, int]:
    """(user id, session version) of a well-formed, signed, unexpired token."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise NotAuthenticated()
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=[JWT_ALGORITHM],
                            options={"require": ["exp", "iat", "sub"]})
        user_id, version = int(claims["sub"]), claims.get("sv")
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise NotAuthenticated() from exc
    if type(version) is not int:
        raise NotAuthenticated()
    return user_id, version



# Written for the driver itself: the same text runs on SQLAlchemy's connection and on the async one.
_SESSION = "SELECT login, session_version FROM users WHERE id = %(id)s"


def verify_token(token) -> Identity:
    """The identity behind a token that has not been revoked."""
    user_id, version = decode_token(token)
    with db.autocommit() as conn:
        row = conn.exec_driver_sql(_SESSION, {"id": user_id}).first()
    return _identity(user_id, version, row)


async def verify_token_async(token) -> Identity:
    """`verify_token` on the event loop's own connection (see db.run_async): every tab
    re-checks its session before an action (at most every 5 s), and with thousands of
    connected users a thread hop per action kept the event loop waiting for the GIL."""
    user_id, version = decode_token(token)
    row = await db.run_async(lambda conn: db.fetchone_async(conn, _SESSION, {"id": user_id}))
    return _identity(user_id, version, row)


def _identity(user_id: int, version: int, row) -> Identity:
    if row is None or row.session_version != version:
        raise NotAuthenticated()
    return Identity(user_id, row.login, version)


def _bump_version(s, user_id: int, **values) -> int:
    return s.exec(
        update(User).where(User.id == user_id)
        .values(session_version=User.session_version + 1, **values)
        .returning(User.session_version)
    ).scalar_one()


def logout(user_id: int) -> None:
    """Revoke every token issued to this user so far."""
    with db.session() as s:
        _bump_version(s, user_id)


def change_password(user_id: int, old_password, new_password, new_repeat=None) -> Identity:
    if not isinstance(old_password, str):
        raise Invalid()
    raw = validate_password(new_password)
    if new_repeat is not None and new_repeat != new_password:
        raise Invalid("err.password_mismatch")
    with db.session() as s:
        user = s.get(User, user_id, with_for_update=True)
        old_raw = old_password.encode("utf-8")
        if user is None:
            raise NotAuthenticated()
        if len(old_raw) > BCRYPT_MAX_BYTES or not bcrypt.checkpw(old_raw, user.password_hash.encode()):
            raise Invalid("err.wrong_current_password")
        version = _bump_version(s, user_id, password_hash=_hash(raw))
        return Identity(user_id, user.login, version)


def set_locale(user_id: int, locale: str) -> None:
    with db.session() as s:
        s.exec(update(User).where(User.id == user_id).values(locale=locale))


def get_locale(user_id: int) -> str | None:
    with db.session() as s:
        return s.exec(select(User.locale).where(User.id == user_id)).scalar_one_or_none()
