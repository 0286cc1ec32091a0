"""The composer: sending (with "sending…" and Retry for a slow or failed send)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import reflex as rx

from corpchat import views
from corpchat.realtime import live
from corpchat.services import messages, validate
from corpchat.services.errors import Invalid, ServiceError
from corpchat.state.base import authed
from corpchat.state.chat.drafts import COMPOSER_ID

log = logging.getLogger(__name__)

SENDING_AFTER = 0.03  # s: a send not stored by then is shown as "sending…"


class ComposerMixin(rx.State, mixin=True):
    pending: list[views.MessageItem] = []
    _pending: tuple = ()  # = pending

    @authed
    async def send_message(self, form_data: dict):
        if not isinstance(form_data, dict) or not self.room_id:
            raise Invalid()
        body, client_id = form_data.get("text"), form_data.get("client_id") or uuid.uuid4().hex
        # The room whose box the text was typed in, as the page showed it: a send that overtakes
        # the opening of another chat must not land there.
        typed_in = form_data.get("typed_in")
        try:
            body = messages.check_text(body)
        except Invalid as exc:
            if exc.key != "err.message_too_long":
                raise
            # The page emptied the box on Enter: a refused text goes back into it, not lost.
            yield [rx.set_value(COMPOSER_ID, body), rx.toast.error(self._t(exc.key, **exc.params))]
            return
        if typed_in is not None and typed_in != str(self.room_id):
            # Enter pressed in the box of the chat being left: meant for the one now open, but
            # never sent anywhere the user has not seen it in the box.
            if not isinstance(typed_in, str) or not typed_in.isdigit() or len(typed_in) > 19:
                raise Invalid()
            yield await self._move_here(body, validate.ident(int(typed_in)))
            return  # refuse empty/too long before showing "sending…"
        messages.check_client_id(client_id)
        room_id = self.room_id
        self._draft_sent(room_id, body)  # the send statement empties the stored draft
        sending = asyncio.ensure_future(messages.send_async(self._user_id, room_id, body, client_id))
        # Usually stored within milliseconds: then the broadcast alone shows it (two frames
        # fewer per message); a slow one is shown as "sending…" meanwhile.
        done, _ = await asyncio.wait({sending}, timeout=SENDING_AFTER)
        if not done:
            self._set_pending(self._pending + (views.pending_item(body, client_id, self._user_id, room_id),))
            yield
        async for update in self._deliver(room_id, body, client_id, sending):
            yield update

    @authed
    async def retry(self, client_id: str):
        failed = [m for m in self._pending if m["client_id"] == client_id and m["status"] == "failed"]
        if not isinstance(client_id, str) or not failed:
            raise Invalid()
        self._set_status(client_id, "sending")
        yield
        async for update in self._deliver(failed[0]["room_id"], failed[0]["text"], client_id):
            yield update

    def _set_pending(self, pending: tuple) -> None:
        self._pending = pending
        self.pending = list(pending)

    def _set_status(self, client_id: str, status: str) -> None:
        self._set_pending(tuple({**m, "status": status} if m["client_id"] == client_id else m
                                for m in self._pending))

    def _unpend(self, client_id: str) -> None:
        self._set_pending(tuple(m for m in self._pending if m["client_id"] != client_id))

    async def _deliver(self, room_id: int, body: str, client_id: str, sending=None):
        """Finish a send (`sending`: the send already under way, else a new one)."""
        shown = any(m["client_id"] == client_id for m in self._pending)
        try:
            message, push = await (sending or messages.send_async(self._user_id, room_id, body, client_id))
        except ServiceError as exc:  # refused (not a member, blocked…): nothing to retry
            self._unpend(client_id)
            yield rx.toast.error(self._t(exc.key, **exc.params))
            return
        except Exception:  # not stored (database down…): keep it, offer a retry
            log.warning("send %s not stored", client_id, exc_info=True)
            if not shown:
                self._set_pending(self._pending + (views.pending_item(body, client_id, self._user_id, room_id),))
            self._set_status(client_id, "failed")
            yield rx.toast.error(self._t("err.send_failed"))
            return
        if shown:
            # "sending…" goes first (its own frame), then the broadcast shows the stored message
            # to every viewer, this tab included: never two copies of it on the page.
            self._unpend(client_id)
            yield
        await self._emit(push)
        if live.viewing(self._tab()) != room_id:
            await self._fold()  # no broadcast reaches this tab: read it in
