"""My profile page (/profile): name, bio, gender, birth date, avatar gallery, my blocks.

Every handler acts on the logged-in user only (no "whose" argument); the
services validate every value. Changes others see go out as the services'
Push (ProfileChanged, AvatarChanged, BlockChanged) through `_emit`. The avatar
cropper (components/cropper.py) reports its crop box here (`crop_changed`); Save has
the browser post the chosen file with that box to /api/avatar
(api/avatar_upload.py), which crops, pushes AvatarChanged and answers; the answer
comes back to `avatar_posted`, and this page re-reads its gallery.
"""

from __future__ import annotations

from typing import TypedDict

import reflex as rx

from corpchat import i18n
from corpchat.config import settings
from corpchat.models.tables import GENDERS
from corpchat.services import accounts, avatars, birthdate, blocks, profiles
from corpchat.services.errors import Invalid, NotFound, ServiceError
from corpchat.state import crop as cropping
from corpchat.state.base import AuthState, authed, in_thread
from corpchat.views import avatar_url
from corpchat.views import initials as _initials

_FORM_FIELDS = ("real_name", "bio", "gender", "birth")
AVATAR_UPLOAD_ID = "avatar"


class GalleryItem(TypedDict):
    id: str
    url: str
    current: bool


class BlockedItem(TypedDict):
    id: int
    name: str
    login: str


def _typed(born: birthdate.BirthDate | None) -> str:
    if born is None:
        return ""
    return f"{born.day:02d}.{born.month:02d}" + (f".{born.year}" if born.year else "")


class ProfileState(AuthState):
    real_name: str = ""
    bio: str = ""
    gender: str = "unspecified"
    birth: str = ""  # as typed: DD.MM.YYYY or DD.MM
    birth_label: str = ""  # "12 March 1990 · 36 years"
    avatar: str = ""
    initials: str = ""
    gallery: list[GalleryItem] = []
    blocked: list[BlockedItem] = []
    error: str = ""
    notice: str = ""
    form_key: int = 0  # a new key re-mounts the uncontrolled inputs with the saved values
    deleting: str = ""  # the gallery avatar the confirmation dialog asks about
    # The cropper's box {x, y, width, height} (pixels of the upright image), sent with Save.
    crop: dict[str, int] = {}
    saving: bool = False  # an avatar is being posted: Save waits

    async def load_profile_page(self):
        if not await self._login_from_cookie():
            return rx.redirect("/login")
        locale = await in_thread(accounts.get_locale, self._user_id)
        self._use_language(locale or self._browser_language())
        self.error = self.notice = ""
        await self._reload()

    async def _reload(self) -> None:
        p = await in_thread(profiles.get_profile, self._user_id, self._user_id)
        self.real_name, self.bio, self.gender, self.birth = p.real_name, p.bio or "", p.gender, _typed(p.birth)
        self.birth_label = self._birth_label(p.birth, p.age)
        self.avatar, self.initials = avatar_url(p.avatar_id, 512), _initials(p.display_name)
        await self._reload_gallery()
        self.blocked = [{"id": e.user_id, "name": e.name, "login": e.login}
                        for e in await in_thread(blocks.blocked_by_me, self._user_id)]
        self.form_key += 1

    async def _reload_gallery(self) -> None:
        items = await in_thread(avatars.gallery, self._user_id)
        self.gallery = [{"id": a.id, "url": avatar_url(a.id), "current": a.current} for a in items]
        current = next((a.id for a in items if a.current), None)
        self.avatar = avatar_url(current, 512)

    def _birth_label(self, born, age) -> str:
        if born is None:
            return ""
        text = birthdate.format_birth_date(self.lang, born)
        return f"{text} · {birthdate.format_age(self.lang, age)}" if age is not None else text

    def _fail(self, exc: ServiceError) -> ServiceError:
        """Shown under the form as well as in the toast @authed makes of it."""
        self.notice, self.error = "", self._t(exc.key, **exc.params)
        return exc

    @authed
    async def save_profile(self, form_data: dict):
        if not isinstance(form_data, dict) or set(form_data) - set(_FORM_FIELDS):
            raise Invalid()
        values = {k: form_data.get(k, "") for k in _FORM_FIELDS}
        if not all(isinstance(v, str) for v in values.values()) or values["gender"] not in GENDERS:
            raise Invalid()
        try:
            change = await in_thread(lambda: profiles.update_profile(self._user_id, **values))
        except ServiceError as exc:
            raise self._fail(exc) from None
        await self._emit(change.push)
        await self._reload()
        self.error, self.notice = "", self._t("profile.saved")

    @authed
    async def pick_birth(self, value: str):
        """The calendar picker's yyyy-mm-dd, shown in the typed field as DD.MM.YYYY."""
        if not isinstance(value, str) or len(value) > birthdate.MAX_INPUT:
            raise Invalid()
        if not value:
            return
        try:
            self.birth = _typed(birthdate.parse_birth_date(value))
            self.error = ""
        except ServiceError as exc:
            raise self._fail(exc) from None
        self.form_key += 1

    @authed
    async def crop_changed(self, box: dict):
        box = cropping.box_of(box)
        if box is not None:
            self.crop = box
            self.error = ""  # a picture is being cropped: an earlier refusal is over

    @authed
    async def avatar_refused(self, rejected: list):
        """react-dropzone refused the chosen file (its type or size)."""
        return self._avatar_error(cropping.refusal_of(rejected))

    @authed
    async def avatar_saving(self):
        self.saving = True

    @authed
    async def avatar_posted(self, answer: dict):
        """POST /api/avatar's answer, through the browser: {avatar_id} or {error[, max]}."""
        self.saving = False
        avatar_id, key, limit = cropping.answer_of(answer)
        if avatar_id is None:
            return self._avatar_error(key, limit)
        await self._reload_gallery()
        if not any(item["id"] == avatar_id for item in self.gallery):
            raise NotFound()
        self.crop = {}
        self.error, self.notice = "", self._t("profile.avatar_saved")
        # The cropper and its preview circle go (18#6).
        return rx.clear_selected_files(AVATAR_UPLOAD_ID)

    @authed
    async def avatar_failed(self, key: str):
        return self._avatar_error(cropping.error_key(key))

    def _avatar_error(self, key: str, limit: int | None = None):
        if limit is None:
            limit = {"err.avatar_gallery_full": settings.avatar_gallery_limit}.get(
                key, settings.avatar_max_bytes // (1024 * 1024))
        self.notice, self.error = "", i18n.t(self.lang, key, max=limit)
        return rx.toast.error(self.error)

    @authed
    async def use_avatar(self, avatar_id: str):
        await self._avatar_change(avatars.make_current, avatar_id)

    @authed
    async def use_initials(self):
        await self._avatar_change(avatars.make_current, None)

    @authed
    async def ask_delete_avatar(self, avatar_id: str):
        """The trash button asks first: a deleted photo cannot be brought back."""
        if not any(a["id"] == avatar_id for a in self.gallery):
            raise Invalid()
        self.deleting = avatar_id

    @authed
    async def cancel_delete_avatar(self):
        self.deleting = ""

    @authed
    async def delete_avatar(self):
        avatar_id, self.deleting = self.deleting, ""
        if not avatar_id:
            raise Invalid()
        await self._avatar_change(avatars.delete_avatar, avatar_id)

    async def _avatar_change(self, fn, avatar_id) -> None:
        change = await in_thread(fn, self._user_id, avatar_id)
        await self._emit(change.push)
        await self._reload_gallery()
        self.error = self.notice = ""

    @authed
    async def unblock(self, user_id: int):
        await self._emit(await in_thread(blocks.unblock, self._user_id, user_id))
        self.blocked = [b for b in self.blocked if b["id"] != user_id]
