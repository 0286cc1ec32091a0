"""Outside probes over plain HTTP against the shared production-mode app (issue 11).

Headers on every response, the form posts' Origin check, the form body limit whatever
the framing, the login throttle that must not lock an owner out, the address the app
listens on and prints, and that starting it leaves tracked files alone.
"""

from __future__ import annotations

import re
import secrets
import socket
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from corpchat.api.request_checks import MAX_FORM_BYTES
from corpchat.config import load
from tests import support
from tests import wsclient as w

PASSWORD = "correct horse 12"
PAGES = ("/", "/login/", "/register/", "/settings/")


def client(app, local_address: str | None = None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
    return httpx.Client(base_url=app.url, follow_redirects=False, timeout=15, transport=transport)


def post(app, path: str, data, *, origin: str | None = "", cookie: str | None = None,
         local_address: str | None = None, **headers) -> httpx.Response:
    """A form post as a browser on the app's own page sends it (Origin = the app) unless told."""
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if origin == "":
        origin = app.url
    if origin is not None:
        headers["Origin"] = origin
    if cookie:
        headers["Cookie"] = cookie
    with client(app, local_address) as http:
        if isinstance(data, dict):
            return http.post(path, data=data, headers=headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return http.post(path, content=data, headers=headers)


def error_of(response: httpx.Response) -> str | None:
    assert response.status_code == 303, response.status_code
    location = response.headers["location"]
    return parse_qs(urlsplit(location).query).get("error", [None])[0]


def logged_in(response: httpx.Response) -> bool:
    return error_of(response) is None and w.COOKIE_NAME in response.cookies


@pytest.fixture(scope="module")
def user(app_server):
    login = f"http{secrets.token_hex(3)}"
    r = post(app_server, "/api/register", {"login": login, "password": PASSWORD, "password_repeat": PASSWORD})
    assert logged_in(r)
    return login, f"{w.COOKIE_NAME}={r.cookies[w.COOKIE_NAME]}"


# --------------------------------------------------------------------------
# 5. Security headers on every response; 13. favicon
# --------------------------------------------------------------------------
def _asset_urls(app) -> list[str]:
    with client(app) as http:
        html = http.get("/login/").text
    return sorted(set(re.findall(r'(?:href|src)="(/assets/[^"]+\.(?:js|css))"', html)))[:3]


def _check_headers(response: httpx.Response, what: str) -> None:
    h = response.headers
    csp = h.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, what
    # a recording is reviewed from a blob: URL before it is sent (a black review without this)
    assert "media-src 'self' blob:" in csp, what
    assert "default-src 'self'" in csp and "object-src 'none'" in csp, what
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0], what
    assert h.get("x-frame-options") == "DENY", what
    assert h.get("x-content-type-options") == "nosniff", what
    assert h.get("referrer-policy") == "same-origin", what


def test_every_response_carries_the_security_headers(app_server, user):
    _, cookie = user
    with client(app_server) as http:
        for path in (*PAGES, "/favicon.ico", "/corpchat.css", "/ping", "/no-such-page/",
                     *_asset_urls(app_server)):
            for headers in ({}, {"Cookie": cookie}, {"Accept-Encoding": "gzip"}):
                r = http.get(path, headers=headers)
                assert r.status_code in (200, 404), (path, r.status_code)
                _check_headers(r, path)
    r = post(app_server, "/api/login", {"login": "nobody", "password": "nope nope"})
    _check_headers(r, "/api/login")


def test_favicon_is_served_and_linked_on_every_page(app_server):
    with client(app_server) as http:
        icon = http.get("/favicon.ico")
        assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO
        for path in PAGES:
            assert re.search(r'<link[^>]*href="/favicon\.ico"[^>]*rel="icon"|<link[^>]*rel="icon"'
                             r'[^>]*href="/favicon\.ico"', http.get(path).text), path


def test_session_cookie_is_secure_when_the_app_is_served_over_https(monkeypatch):
    monkeypatch.setenv("APP_ORIGIN", "https://chat.example.com")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
    assert load().cookie_secure is True
    monkeypatch.setenv("APP_ORIGIN", "http://127.0.0.1:3000")
    assert load().cookie_secure is False


# --------------------------------------------------------------------------
# 6. The form posts' Origin check compares with APP_ORIGIN, scheme included
# --------------------------------------------------------------------------
def test_origin_matching_a_forged_host_header_is_refused(app_server, user):
    login, _ = user
    r = post(app_server, "/api/login", {"login": login, "password": PASSWORD},
             origin="http://evil.example", Host="evil.example")
    assert error_of(r) == "err.bad_request" and w.COOKIE_NAME not in r.cookies
    r = post(app_server, "/api/login", {"login": login, "password": PASSWORD}, origin=None,
             Referer="http://evil.example/login", Host="evil.example")
    assert error_of(r) == "err.bad_request"


def test_origin_with_another_scheme_is_refused(app_server, user):
    login, _ = user
    https = app_server.url.replace("http://", "https://")
    r = post(app_server, "/api/login", {"login": login, "password": PASSWORD}, origin=https)
    assert error_of(r) == "err.bad_request"


def test_both_local_spellings_of_the_app_origin_are_accepted(app_server, user):
    login, _ = user
    for host in ("127.0.0.1", "localhost"):
        r = post(app_server, "/api/login", {"login": login, "password": PASSWORD},
                 origin=f"http://{host}:{app_server.port}")
        assert logged_in(r), host


def test_app_origin_may_list_several_origins(monkeypatch):
    monkeypatch.setenv("APP_ORIGIN", "https://chat.example.com, http://10.0.0.5:3000")
    assert load().app_origins == ("https://chat.example.com", "http://10.0.0.5:3000")
    monkeypatch.setenv("APP_ORIGIN", "http://localhost:3000")
    assert load().app_origins == ("http://localhost:3000", "http://127.0.0.1:3000")


# --------------------------------------------------------------------------
# 7a. The form body limit holds for chunked bodies
# --------------------------------------------------------------------------
def _chunks(body: bytes, size: int = 1024):
    for i in range(0, len(body), size):
        yield body[i:i + size]


def test_chunked_body_over_the_limit_is_refused(app_server, user):
    login, _ = user
    body = f"login={login}&password={PASSWORD.replace(' ', '+')}&pad=".encode() + b"x" * (8 * MAX_FORM_BYTES)
    r = post(app_server, "/api/login", _chunks(body))
    assert error_of(r) == "err.bad_request" and w.COOKIE_NAME not in r.cookies


def test_chunked_body_under_the_limit_is_read(app_server, user):
    login, _ = user
    body = f"login={login}&password={PASSWORD.replace(' ', '+')}".encode()
    assert logged_in(post(app_server, "/api/login", _chunks(body, 7)))


def test_declared_length_over_the_limit_is_refused(app_server, user):
    login, _ = user
    body = f"login={login}&password={PASSWORD.replace(' ', '+')}&pad=".encode() + b"x" * MAX_FORM_BYTES
    assert error_of(post(app_server, "/api/login", body)) == "err.bad_request"


# --------------------------------------------------------------------------
# 4. Wrong passwords from one address do not lock the owner out elsewhere
# --------------------------------------------------------------------------
def test_wrong_passwords_from_one_address_do_not_lock_out_another(app_server):
    login = f"lock{secrets.token_hex(3)}"
    assert logged_in(post(app_server, "/api/register", {"login": login, "password": PASSWORD,
                                                        "password_repeat": PASSWORD}))
    attacker, owner = "127.0.0.31", "127.0.0.32"  # loopback answers from any 127/8 source
    errors = [error_of(post(app_server, "/api/login", {"login": login, "password": "wrong password"},
                            local_address=attacker)) for _ in range(10)]
    assert set(errors) == {"err.bad_credentials", "err.throttled"} and errors[-1] == "err.throttled"
    assert logged_in(post(app_server, "/api/login", {"login": login, "password": PASSWORD},
                          local_address=owner))
    r = post(app_server, "/api/login", {"login": login, "password": PASSWORD}, local_address=attacker)
    assert error_of(r) == "err.throttled"


def _register(app) -> str:
    login = f"prx{secrets.token_hex(3)}"
    assert logged_in(post(app, "/api/register", {"login": login, "password": PASSWORD, "password_repeat": PASSWORD}))
    return login


def test_behind_a_trusted_proxy_one_guesser_does_not_lock_out_everyone(app_server):
    """19#6, scenario 3: every request comes from the proxy (127.0.0.1 here, TRUSTED_PROXIES);
    before, its address took every user's failures, and 21 locked the whole company out."""
    owner, *targets = [_register(app_server) for _ in range(7)]
    guesser = "192.0.2.66"
    errors = [error_of(post(app_server, "/api/login", {"login": t, "password": "wrong password"},
                            local_address="127.0.0.1", x_forwarded_for=guesser))
              for t in targets for _ in range(4)]
    assert errors.count("err.bad_credentials") == 20 and errors[-1] == "err.throttled"
    # The owner, from an address never used before, through the same proxy:
    assert logged_in(post(app_server, "/api/login", {"login": owner, "password": PASSWORD},
                          local_address="127.0.0.1", x_forwarded_for="198.51.100.77"))
    r = post(app_server, "/api/login", {"login": targets[0], "password": PASSWORD},
             local_address="127.0.0.1", x_forwarded_for=guesser)
    assert error_of(r) == "err.throttled"


def test_forwarded_headers_from_anyone_else_are_not_believed(app_server):
    """A client that is not the proxy cannot dodge the per-address limit by writing X-Forwarded-For."""
    targets = [_register(app_server) for _ in range(6)]
    errors = [error_of(post(app_server, "/api/login", {"login": t, "password": "wrong password"},
                            local_address="127.0.0.35", x_forwarded_for=f"192.0.2.{n}"))
              for n, t in enumerate(targets * 4)]
    assert errors.count("err.bad_credentials") == 20 and errors[-1] == "err.throttled"


# --------------------------------------------------------------------------
# 13. A wrong current password says so
# --------------------------------------------------------------------------
def test_wrong_current_password_has_its_own_message(app_server):
    login = f"pw{secrets.token_hex(3)}"
    r = post(app_server, "/api/register", {"login": login, "password": PASSWORD, "password_repeat": PASSWORD})
    cookie = f"{w.COOKIE_NAME}={r.cookies[w.COOKIE_NAME]}"
    r = post(app_server, "/api/password", {"old_password": "not my password", "new_password": "another pw 123",
                                           "new_password_repeat": "another pw 123"}, cookie=cookie)
    assert error_of(r) == "err.wrong_current_password"
    assert urlsplit(r.headers["location"]).path == "/settings"
    from corpchat import i18n

    for lang, strings in i18n.LANGUAGES.items():
        assert strings["err.wrong_current_password"] != strings["err.bad_credentials"], lang
    assert i18n.LANGUAGES["en"]["err.wrong_current_password"] == "The current password is wrong."


# --------------------------------------------------------------------------
# 7b, 9, 10. Where it listens, what it prints, what it leaves alone
# --------------------------------------------------------------------------
def _outside_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_listens_on_loopback_only_by_default(app_server):
    assert load().bind_address == "127.0.0.1"
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    with pytest.raises(OSError), socket.create_connection((address, app_server.port), timeout=3):
        pass


def test_the_last_line_printed_is_the_address_to_open(app_server):
    lines = [line.strip() for line in app_server.log_path.read_text().splitlines() if line.strip()]
    ready = [i for i, line in enumerate(lines) if line.startswith("CorpChat is ready")]
    assert ready, lines[-10:]
    assert lines[ready[0]] == f"CorpChat is ready. Open {app_server.url}"
    assert not [line for line in lines[ready[0]:] if "App running at" in line]
    assert "0.0.0.0" not in "\n".join(lines)
    assert "uv run reflex" not in "\n".join(lines) and "uv pip install" not in "\n".join(lines)


def test_starting_leaves_requirements_txt_alone(app_server):
    assert support.file_state(support.ROOT / "requirements.txt") == app_server.requirements_before
