"""Language, authentication and the one-line guard every handler uses.

The user id lives only in the backend var `_user_id`; no handler ever takes
it from an argument. `_session_user()` re-checks the token's session version
at most every REVERIFY_SECONDS, so a revoked login stops working in any tab
even if a push to it was missed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import inspect
import logging
import time
from http.cookies import SimpleCookie

import psycopg
import reflex as rx

from corpchat import i18n
from corpchat.config import settings
from corpchat.realtime import appliers, hub, lifecycle
from corpchat.services import accounts
from corpchat.services.errors import NotAuthenticated, ServiceError
from corpchat.services.events import Push, pushes

REVERIFY_SECONDS = 5.0
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def _session_cookie(header: str) -> str:
    """The session token in a Cookie header (cached: every event of a tab sends the same header)."""
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return ""
    morsel = jar.get(settings.cookie_name)
    return morsel.value if morsel else ""


@functools.lru_cache(maxsize=4096)
def _fingerprint(header: str) -> str:
    token = _session_cookie(header)
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


class I18nState(rx.State):
    lang: str = i18n.DEFAULT_LANGUAGE
    tr: dict[str, str] = i18n.flat(i18n.DEFAULT_LANGUAGE)

    def _use_language(self, lang: str | None) -> None:
        lang = i18n.normalize(lang)
        if lang != self.lang:
            self.lang = lang
            self.tr = i18n.flat(lang)

    def _t(self, key: str, **params) -> str:
        return i18n.t(self.lang, key, **params)

    def _browser_language(self) -> str:
        return i18n.from_accept_language(self.router.headers.accept_language or "")


class AuthState(I18nState):
    _user_id: int = 0
    _session_version: int = 0
    _verified_at: float = 0.0
    # sha256 of the cookie the guard accepted: the tab token alone is not a login
    # (it travels in the WebSocket URL and so ends up in proxy logs).
    _cookie_digest: str = ""
    me_login: str = ""
    signed_out: bool = False
    _tab_token: str = ""

    def _tab(self) -> str:
        """This tab's client token (read once: the router is costly to reach on a push)."""
        if not self._tab_token:
            self._tab_token = self.router.session.client_token
        return self._tab_token

    async def _emit(self, result) -> None:
        """Hand a service's committed change (None, one Push or several, in order) to every tab
        concerned, this one included.

        This tab applies now exactly the pushes whose audience includes it (and, when a push
        names tabs, names it), with the same `@on` functions the other tabs run; a lazy event
        (a new message's chat-list move) reaches this tab through its mailbox like everyone's,
        so that a send does not re-send the chat list in its own reply."""
        for push in pushes(result):
            if push.event.lazy or not self._addressed(push):
                await hub.push(push)
                continue
            await appliers.apply(self, push.event)
            await hub.push(push, from_tab=self._tab())

    def _addressed(self, push: Push) -> bool:
        return self._user_id in push.audience and (not push.to_tabs or self._tab() in push.to_tabs)

    def _cookie_token(self) -> str:
        return _session_cookie(self.router.headers.cookie or "")

    def _cookie_fingerprint(self) -> str:
        return _fingerprint(self.router.headers.cookie or "")

    def _forget_user(self) -> None:
        self._user_id = 0
        self._session_version = 0
        self._cookie_digest = ""
        self.me_login = ""

    async def _session_user(self) -> int:
        """The logged-in user's id, or NotAuthenticated."""
        if not self._user_id:
            raise NotAuthenticated()
        # router.headers belong to the socket that sent this event.
        if not self._cookie_digest or not hmac.compare_digest(self._cookie_fingerprint(), self._cookie_digest):
            self._forget_user()
            raise NotAuthenticated()
        now = time.monotonic()
        if now - self._verified_at > REVERIFY_SECONDS:
            try:  # revoked, expired or re-signed since the guard accepted it
                identity = await accounts.verify_token_async(self._cookie_token())
            except ServiceError:
                identity = None
            except psycopg.OperationalError:
                # The database is unreachable: the action goes on as the user verified before,
                # and re-checks next time. Whatever it changes needs the database too, so it
                # fails on its own, in its own way: a send then stays on the page as failed, with
                # its text and Retry. Refused here, the text was gone behind a generic error
                # that reached the page after the handler had ended (make faults, postgres).
                log.warning("session of user %s not re-checked: database unreachable", self._user_id)
                return self._user_id
            if identity is None or identity.user_id != self._user_id:
                self._forget_user()
                self.signed_out = True
                raise NotAuthenticated()
            self._verified_at = now
        return self._user_id

    async def _login_from_cookie(self) -> bool:
        try:
            identity = await accounts.verify_token_async(self._cookie_token())
        except ServiceError:
            self._forget_user()
            return False
        self._user_id, self._session_version = identity.user_id, identity.session_version
        self._verified_at = time.monotonic()
        self._cookie_digest = self._cookie_fingerprint()
        self.me_login = identity.login
        self.signed_out = False
        await lifecycle.tab_opened(identity.user_id, self.router.session.client_token)
        return True


async def in_thread(fn, *args):
    """Services are synchronous (SQLAlchemy): run one off the event loop."""
    return await asyncio.to_thread(fn, *args)


def authed(handler):
    """Wrap an event handler: authenticate, then turn service errors into a toast.

    Inside the handler `self._user_id` is the verified user. Works for plain,
    async and async-generator handlers (those that `yield` intermediate UI).
    """

    def _on_error(self, exc: ServiceError):
        if isinstance(exc, NotAuthenticated):
            self._forget_user()
            return rx.redirect("/login")
        return rx.toast.error(self._t(exc.key, **exc.params))

    if inspect.isasyncgenfunction(handler):
        @functools.wraps(handler)
        async def gen_wrapper(self, *args, **kwargs):
            try:
                await self._session_user()
                async for item in handler(self, *args, **kwargs):
                    yield item
            except ServiceError as exc:
                yield _on_error(self, exc)

        return gen_wrapper

    @functools.wraps(handler)
    async def wrapper(self, *args, **kwargs):
        try:
            await self._session_user()
            result = handler(self, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except ServiceError as exc:
            return _on_error(self, exc)

    return wrapper
