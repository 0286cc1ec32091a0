"""The public pages (login, registration): only a language and an error to show."""

from __future__ import annotations

import reflex as rx

from corpchat import i18n
from corpchat.config import settings
from corpchat.state.base import AuthState


class PublicPageState(AuthState):
    error: str = ""
    notice: str = ""
    login_value: str = ""

    async def load_public_page(self):
        """Logged-in users go straight to the app; others see the form and any error."""
        self._use_language(self._browser_language())
        if await self._login_from_cookie():
            return rx.redirect("/")
        params = self.router.url.query_parameters
        key = params.get("error", "")
        known = isinstance(key, str) and key.startswith("err.") and key in i18n.LANGUAGES["en"]
        self.error = self._t(key, min=settings.min_password_length) if known else ""
        ok = params.get("ok", "")
        self.notice = self._t(ok) if isinstance(ok, str) and ok in i18n.LANGUAGES["en"] else ""
        login = params.get("login", "")
        self.login_value = login[:32] if isinstance(login, str) else ""

    def choose_language(self, lang: str):
        if isinstance(lang, str) and lang in i18n.LANGUAGES:
            self._use_language(lang)
