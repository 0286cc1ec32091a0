"""Login, registration, logout and password change as plain form POSTs.

These are Starlette routes (not Reflex events) because only an HTTP response
can set the HttpOnly session cookie. Errors redirect back with `?error=<key>`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from corpchat import i18n
from corpchat.api import client_address, hashing
from corpchat.api.request_checks import read_form, same_origin, session_identity
from corpchat.config import settings
from corpchat.realtime import hub
from corpchat.services import accounts
from corpchat.services.errors import ServiceError


def _redirect(path: str, **params) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(path + ("?" + query if query else ""), status_code=303)


def _set_session(response: Response, identity: accounts.Identity) -> Response:
    response.set_cookie(
        settings.cookie_name, accounts.issue_token(identity), max_age=settings.jwt_ttl_seconds,
        httponly=True, samesite="lax", secure=settings.cookie_secure, path="/",
    )
    return response


async def login(request: Request) -> Response:
    form = await read_form(request)
    if form is None or not same_origin(request):
        return _redirect("/login", error="err.bad_request")
    try:
        identity = await hashing.run(accounts.authenticate, form.get("login", ""), form.get("password", ""),
                                     client_address.of(request))
    except ServiceError as exc:
        return _redirect("/login", error=exc.key, login=form.get("login", "")[:32])
    return _set_session(_redirect("/"), identity)


async def register(request: Request) -> Response:
    form = await read_form(request)
    if form is None or not same_origin(request):
        return _redirect("/register", error="err.bad_request")
    locale = i18n.from_accept_language(request.headers.get("accept-language"))
    try:
        identity = await hashing.run(accounts.register, form.get("login", ""), form.get("password", ""),
                                     form.get("password_repeat", ""), locale=locale, ip=client_address.of(request),
                                     invite=form.get("invite"))
    except ServiceError as exc:
        return _redirect("/register", error=exc.key, login=form.get("login", "")[:32])
    return _set_session(_redirect("/"), identity)


async def logout(request: Request) -> Response:
    if not same_origin(request):
        return _redirect("/login", error="err.bad_request")
    identity = session_identity(request)
    if identity is not None:
        accounts.logout(identity.user_id)
        await hub.sign_out_user(identity.user_id)
    response = _redirect("/login")
    response.delete_cookie(settings.cookie_name, path="/")
    return response


async def change_password(request: Request) -> Response:
    form = await read_form(request)
    identity = session_identity(request)
    if identity is None:
        return _redirect("/login")
    if form is None or not same_origin(request):
        return _redirect("/settings", error="err.bad_request")
    try:
        fresh = await hashing.run(accounts.change_password, identity.user_id, form.get("old_password", ""),
                                  form.get("new_password", ""), form.get("new_password_repeat", ""))
    except ServiceError as exc:
        return _redirect("/settings", error=exc.key)
    await hub.sign_out_user(identity.user_id)
    return _set_session(_redirect("/settings", ok="auth.password_changed"), fresh)


routes = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/register", register, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/password", change_password, methods=["POST"]),
]
