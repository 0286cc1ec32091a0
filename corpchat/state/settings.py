"""The settings page: language; the password form posts to /api/password."""

from __future__ import annotations

import asyncio

import reflex as rx

from corpchat import i18n
from corpchat.config import settings
from corpchat.services import accounts
from corpchat.services.errors import Invalid
from corpchat.state.base import AuthState, authed


class SettingsState(AuthState):
    error: str = ""
    notice: str = ""

    async def load_settings_page(self):
        if not await self._login_from_cookie():
            return rx.redirect("/login")
        locale = await asyncio.to_thread(accounts.get_locale, self._user_id)
        self._use_language(locale or self._browser_language())
        params = self.router.url.query_parameters
        key, ok = params.get("error", ""), params.get("ok", "")
        known = i18n.LANGUAGES["en"]
        self.error = self._t(key, min=settings.min_password_length) if isinstance(key, str) and key in known else ""
        self.notice = self._t(ok) if isinstance(ok, str) and ok in known else ""

    @authed
    async def change_language(self, lang: str):
        if not isinstance(lang, str) or lang not in i18n.LANGUAGES:
            raise Invalid()
        await asyncio.to_thread(accounts.set_locale, self._user_id, lang)
        self._use_language(lang)
