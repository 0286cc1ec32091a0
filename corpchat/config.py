"""Settings from the environment (a local `.env` is loaded first).

Every setting is documented in `.env.example`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
load_dotenv(PROJECT_ROOT / ".env", override=False)

# Secrets shorter than this (bytes) are refused: HS256 wants at least 32.
MIN_SECRET_BYTES = 32
_DEFAULT_SECRETS = {"", "change-me", "changeme", "secret", "dev"}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and why."""


# The usual local spellings of one address: a user who opens either must not be refused.
_LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _int(name: str, default: int) -> int:
    return _number(name, default, int)


def _float(name: str, default: float) -> float:
    return _number(name, default, float)


def _number(name: str, default, kind: type):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        article = "an integer" if kind is int else "a number"
        raise ConfigError(f"{name} must be {article}, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    app_env: str
    database_url: str
    jwt_secret: str
    jwt_ttl_seconds: int
    cookie_name: str
    cookie_secure: bool
    app_origin: str
    min_password_length: int
    max_message_length: int
    login_max_failures: int
    login_window_seconds: int
    register_max_per_ip: int
    register_window_seconds: int
    bcrypt_threads: int
    bind_address: str
    redis_url: str
    redis_key_prefix: str
    redis_max_connections: int
    db_pool_size: int
    db_max_overflow: int
    db_async_pool_size: int
    avatar_dir: Path
    group_max_members: int
    avatar_max_bytes: int
    avatar_gallery_limit: int
    # Per user: a burst, then so many per minute (services/rate_limits.py).
    send_burst: int = 20
    send_per_minute: int = 60
    edit_burst: int = 10
    edit_per_minute: int = 30
    react_burst: int = 30
    react_per_minute: int = 60
    tab_grace_seconds: float = 5.0
    log_level: str = "WARNING"
    # Files (issue 14); defaults keep older callers of Settings(...) working.
    storage_backend: str = "local"
    storage_dir: str = ""
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    max_upload_bytes: int = 100 * 1024 * 1024
    upload_mb_per_second: float = 40.0
    # 0: no quota.
    user_quota_bytes: int = 2 * 1024**3
    media_url_ttl_seconds: int = 6 * 3600
    # The HTTP server (realtime/reflex_glue.tune_http_server).
    http_header_timeout_seconds: float = 5.0
    http_backlog: int = 2048
    bcrypt_rounds: int = 12
    # Peers whose X-Forwarded-For / Forwarded headers are believed (api/client_address.py).
    trusted_proxies: str = ""
    # Addresses remembered per user as 'logged in from here before' (services/throttle.py).
    known_addresses_per_user: int = 20
    # Every image decode (services/image_decode.py).
    image_max_pixels: int = 40_000_000
    image_decode_slots: int = 2
    avatar_burst: int = 5
    avatar_per_minute: int = 10
    # Changes every contact is told about (profile, avatar choice, blocks), and opening chats.
    profile_burst: int = 10
    profile_per_minute: int = 20
    open_chat_burst: int = 20
    open_chat_per_minute: int = 60
    new_tabs_burst: int = 200
    new_tabs_per_minute: int = 600
    tabs_per_user: int = 20  # open sockets of one logged-in user on one worker
    # Uploads in progress (services/upload_limits.py, api/uploads.py).
    uploads_per_user: int = 4
    uploads_queued_per_user: int = 16
    uploads_per_minute: int = 120  # per user, counted across workers (4x per address)
    upload_stall_seconds: float = 30.0
    upload_min_bytes_per_second: int = 2048
    upload_unsent_ttl_hours: float = 24.0
    # The longest recordings (state/chat/recorder.py): the recorder stops by itself there.
    round_video_max_seconds: int = 60
    voice_max_seconds: int = 600
    # Who may register, and whom people search and profiles show (services/directory.py).
    registration: str = "open"
    registration_invite_code: str = ""
    directory: str = "everyone"
    # Calls (services/calls.py, api/signalling.py): ICE servers for the browsers, comma-separated
    # URLs; with a TURN secret (coturn's use-auth-secret) each call gets short-lived credentials.
    stun_urls: str = ""
    turn_urls: str = ""
    turn_secret: str = ""
    turn_ttl_seconds: int = 3600
    call_ring_seconds: int = 45
    signal_messages_per_second: int = 50

    @property
    def app_origins(self) -> tuple[str, ...]:
        """Every origin the app is opened at (scheme included); the first is the one to print."""
        return origins(self.app_origin)

    @property
    def is_production(self) -> bool:
        return self.app_env == "prod"

    def check_secret(self) -> None:
        """Refuse to serve with a guessable signing secret."""
        if self.jwt_secret in _DEFAULT_SECRETS or len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"JWT_SECRET must be a random string of at least {MIN_SECRET_BYTES} bytes "
                "(make run writes one into .env; see .env.example)"
            )


def origins(app_origin: str) -> tuple[str, ...]:
    """APP_ORIGIN's comma-separated origins, plus the other local spelling of each local one."""
    listed = [o.strip().rstrip("/").lower() for o in app_origin.split(",") if o.strip()]
    found = list(listed)
    for origin in listed:
        parts = urlsplit(origin)
        if parts.hostname in _LOCAL_HOSTS:
            port = f":{parts.port}" if parts.port else ""
            found += [f"{parts.scheme}://{host}{port}" for host in _LOCAL_HOSTS]
    return tuple(dict.fromkeys(found))


def load() -> Settings:
    app_origin = os.environ.get("APP_ORIGIN", "").strip() or "http://127.0.0.1:3000"
    return Settings(
        app_env=os.environ.get("CORPCHAT_ENV", "prod"),
        database_url=os.environ.get("DATABASE_URL", ""),
        jwt_secret=os.environ.get("JWT_SECRET", ""),
        jwt_ttl_seconds=_int("JWT_TTL_SECONDS", 7 * 24 * 3600),
        cookie_name=os.environ.get("SESSION_COOKIE_NAME", "corpchat_session"),
        # Over https the cookie must never travel in clear, whatever SESSION_COOKIE_SECURE says.
        cookie_secure=(os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
                       or app_origin.lower().startswith("https:")),
        app_origin=app_origin,
        min_password_length=_int("MIN_PASSWORD_LENGTH", 8),
        max_message_length=_int("MAX_MESSAGE_LENGTH", 10_000),
        login_max_failures=_int("LOGIN_MAX_FAILURES", 5),
        login_window_seconds=_int("LOGIN_WINDOW_SECONDS", 300),
        register_max_per_ip=_int("REGISTER_MAX_PER_IP", 5),
        register_window_seconds=_int("REGISTER_WINDOW_SECONDS", 600),
        bcrypt_threads=max(1, _int("BCRYPT_THREADS", 2)),
        bcrypt_rounds=_int("BCRYPT_ROUNDS", 12),
        trusted_proxies=os.environ.get("TRUSTED_PROXIES", "").strip(),
        known_addresses_per_user=_int("KNOWN_ADDRESSES_PER_USER", 20),
        bind_address=os.environ.get("BIND_ADDRESS", "").strip() or "127.0.0.1",
        redis_url=os.environ.get("REFLEX_REDIS_URL", ""),
        redis_key_prefix=os.environ.get("REDIS_KEY_PREFIX", "").strip(),
        redis_max_connections=_int("REFLEX_REDIS_MAX_CONNECTIONS", 50),
        db_pool_size=_int("DB_POOL_SIZE", 10),
        db_max_overflow=_int("DB_MAX_OVERFLOW", 10),
        db_async_pool_size=_int("DB_ASYNC_POOL_SIZE", 10),
        avatar_dir=Path(os.environ.get("AVATAR_DIR", "").strip() or PROJECT_ROOT / ".data" / "avatars"),
        group_max_members=_int("GROUP_MAX_MEMBERS", 1000),
        avatar_max_bytes=_int("AVATAR_MAX_BYTES", 10 * 1024 * 1024),
        avatar_gallery_limit=_int("AVATAR_GALLERY_LIMIT", 50),
        send_burst=_int("SEND_BURST", 20),
        send_per_minute=_int("SEND_PER_MINUTE", 60),
        edit_burst=_int("EDIT_BURST", 10),
        edit_per_minute=_int("EDIT_PER_MINUTE", 30),
        react_burst=_int("REACT_BURST", 30),
        react_per_minute=_int("REACT_PER_MINUTE", 60),
        tab_grace_seconds=_float("TAB_GRACE_SECONDS", 5.0),
        log_level=os.environ.get("CORPCHAT_LOG_LEVEL", "WARNING").strip().upper() or "WARNING",
        storage_backend=os.environ.get("STORAGE_BACKEND", "local").strip() or "local",
        storage_dir=os.environ.get("STORAGE_DIR", "").strip() or str(PROJECT_ROOT / ".data" / "files"),
        s3_endpoint=os.environ.get("S3_ENDPOINT", "").strip(),
        s3_bucket=os.environ.get("S3_BUCKET", "").strip(),
        s3_access_key=os.environ.get("S3_ACCESS_KEY", "").strip(),
        s3_secret_key=os.environ.get("S3_SECRET_KEY", "").strip(),
        s3_region=os.environ.get("S3_REGION", "").strip() or "us-east-1",
        max_upload_bytes=_int("MAX_UPLOAD_BYTES", 100 * 1024 * 1024),
        upload_mb_per_second=_float("UPLOAD_MB_PER_SECOND", 40.0),
        user_quota_bytes=_int("USER_QUOTA_BYTES", 2 * 1024**3),
        media_url_ttl_seconds=_int("MEDIA_URL_TTL_SECONDS", 6 * 3600),
        http_header_timeout_seconds=_float("HTTP_HEADER_TIMEOUT_SECONDS", 5.0),
        http_backlog=_int("HTTP_BACKLOG", 2048),
        image_max_pixels=_int("IMAGE_MAX_PIXELS", 40_000_000),
        image_decode_slots=_int("IMAGE_DECODE_SLOTS", 2),
        avatar_burst=_int("AVATAR_BURST", 5),
        avatar_per_minute=_int("AVATAR_PER_MINUTE", 10),
        profile_burst=_int("PROFILE_BURST", 10),
        profile_per_minute=_int("PROFILE_PER_MINUTE", 20),
        open_chat_burst=_int("OPEN_CHAT_BURST", 20),
        open_chat_per_minute=_int("OPEN_CHAT_PER_MINUTE", 60),
        new_tabs_burst=_int("NEW_TABS_BURST", 200),
        new_tabs_per_minute=_int("NEW_TABS_PER_MINUTE", 600),
        tabs_per_user=_int("TABS_PER_USER", 20),
        uploads_per_user=_int("UPLOADS_PER_USER", 4),
        uploads_queued_per_user=_int("UPLOADS_QUEUED_PER_USER", 16),
        uploads_per_minute=_int("UPLOADS_PER_MINUTE", 120),
        upload_stall_seconds=_float("UPLOAD_STALL_SECONDS", 30.0),
        upload_min_bytes_per_second=_int("UPLOAD_MIN_BYTES_PER_SECOND", 2048),
        upload_unsent_ttl_hours=_float("UPLOAD_UNSENT_TTL_HOURS", 24.0),
        round_video_max_seconds=_int("ROUND_VIDEO_MAX_SECONDS", 60),
        voice_max_seconds=_int("VOICE_MAX_SECONDS", 600),
        registration=os.environ.get("REGISTRATION", "").strip().lower() or "open",
        registration_invite_code=os.environ.get("REGISTRATION_INVITE_CODE", "").strip(),
        directory=os.environ.get("DIRECTORY", "").strip().lower() or "everyone",
        stun_urls=os.environ.get("STUN_URLS", "").strip(),
        turn_urls=os.environ.get("TURN_URLS", "").strip(),
        turn_secret=os.environ.get("TURN_SECRET", "").strip(),
        turn_ttl_seconds=_int("TURN_TTL_SECONDS", 3600),
        call_ring_seconds=_int("CALL_RING_SECONDS", 45),
        signal_messages_per_second=_int("SIGNAL_MESSAGES_PER_SECOND", 50),
    )


# Read when asked, not once: `make run` and the tests choose these after this module is imported.
def env_database_url() -> str:
    return os.environ.get("DATABASE_URL", "").strip()


def set_env_database_url(url: str) -> None:
    """The embedded server's URL, for the child processes (reflex run) to inherit."""
    os.environ["DATABASE_URL"] = url


def worker_count() -> int:
    raw = os.environ.get("GRANIAN_WORKERS") or os.environ.get("WEB_CONCURRENCY") or "1"
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"GRANIAN_WORKERS must be an integer, got {raw!r}") from exc


settings = load()
