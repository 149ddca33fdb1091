"""Who is who: the person behind a session, and the gate that keeps the studio behind its login.

`resolve` takes the identity in a fixed order: Streamlit's login (`st.user`), then a header set by
a trusted reverse proxy (only when STUDIO_TRUSTED_USER_HEADER names it), then the display name the
person typed (the browser keeps it in the `studio_name` cookie), else the settings' author. It
imports no Streamlit: `studio.ui` hands it `st.user`, the request's headers and cookies.
`LoginGate` is an ASGI middleware: with login configured, only a signed Streamlit identity cookie
opens anything but the login screen, share links and the health check.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from .errors import ParamsError, SettingsError

Source = Literal["login", "header", "name", "settings"]

NAME_COOKIE = "studio_name"
NAME_COOKIE_MAX_AGE_S = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chromium caps it at 400 days)
MAX_NAME_CHARS = 60  # a typed display name
MAX_IDENTITY_CHARS = 254  # an e-mail address from the login or the proxy (RFC 5321's path limit)
# Streamlit 1.67's identity cookie (web/server/starlette/starlette_server_config.py): a JSON object
# signed by itsdangerous' URLSafeTimedSerializer with [auth] cookie_secret, the cookie's name as
# salt, valid 30 days plus a day of grace; a large one is split into "chunks-N" and name_1..name_N.
USER_COOKIE = "_streamlit_user"
USER_COOKIE_MAX_AGE_S = 31 * 24 * 3600
CHUNKS = re.compile(r"chunks-(\d+)")
MAX_CHUNKS = 32
AUTH_SECTION = "auth"
# What Streamlit needs to draw its login screen and run the login: the app shell, its assets,
# its websocket (the entry script shows nothing but the login button until st.user is logged in)
# and the OpenID Connect endpoints. Everything else (/files, /media, uploads, the agent API, the
# studio's own routes) answers 401 without the cookie.
LOGIN_OPEN_PATHS = frozenset(
    {
        "/",
        "/favicon.png",
        "/manifest.json",
        "/auth/login",
        "/auth/logout",
        "/oauth2callback",
        "/_stcore/health",
        "/_stcore/host-config",
        "/_stcore/stream",
    }
)
LOGIN_OPEN_PREFIXES = ("/static/",)
WEBSOCKET_POLICY_VIOLATION = 1008


@dataclass(frozen=True)
class Person:
    "Who is using a session: the name recorded as author, and where it came from."

    name: str
    source: Source
    email: str | None = None

    @property
    def known(self) -> bool:
        "True when the person said or proved who they are (not the server's default author)."
        return self.source != "settings"


def clean_name(text: object, *, limit: int = MAX_NAME_CHARS) -> str:
    """A display name as one short line: control and format characters dropped, runs of spaces made
    one. ParamsError (field "name") when nothing is left or it is longer than `limit`."""
    if not isinstance(text, str):
        raise ParamsError("A name is text", field="name")
    kept = "".join(
        " " if c.isspace() else c for c in text if not unicodedata.category(c).startswith("C") or c.isspace()
    )
    name = " ".join(kept.split())
    if not name:
        raise ParamsError("Type a name (letters, not only spaces)", field="name")
    if len(name) > limit:
        raise ParamsError(f"A name is at most {limit} characters (this one has {len(name)})", field="name")
    return name


def _lenient(text: object, limit: int = MAX_NAME_CHARS) -> str | None:
    "A name that came with a request (a cookie, a header): cleaned, or None when unusable."
    try:
        return clean_name(text, limit=limit)
    except ParamsError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    "A header by name, whatever its case (a plain dict in tests, Streamlit's mapping in the app)."
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def resolve(
    *,
    user: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    trusted_header: str | None,
    typed: str | None,
    fallback: str,
) -> Person:
    """The person, first match wins: a logged-in `user` (st.user: its e-mail, else its name), the
    `trusted_header` (only when set: anyone can send any header to a server the proxy does not
    guard), the name `typed` in this session or remembered in the NAME_COOKIE, else `fallback`."""
    if user and user.get("is_logged_in"):
        email = _lenient(user.get("email"), MAX_IDENTITY_CHARS)
        name = email or _lenient(user.get("name"), MAX_IDENTITY_CHARS) or _lenient(user.get("sub"), MAX_IDENTITY_CHARS)
        if name:
            return Person(name, "login", email=email)
    if trusted_header:
        name = _lenient(_header(headers, trusted_header), MAX_IDENTITY_CHARS)
        if name:
            return Person(name, "header", email=name if "@" in name else None)
    for candidate in (typed, unquote(cookies.get(NAME_COOKIE, ""))):
        name = _lenient(candidate)
        if name:
            return Person(name, "name")
    return Person(fallback, "settings")


def remember_script(name: str | None) -> str:
    """A script that keeps `name` in this browser for NAME_COOKIE_MAX_AGE_S (None: forgets it). The
    value is percent-encoded, so nothing in a name can end the string or the script."""
    value = quote(name, safe="") if name else ""
    max_age = NAME_COOKIE_MAX_AGE_S if name else 0
    cookie = json.dumps(f"{NAME_COOKIE}={value}; Max-Age={max_age}; Path=/; SameSite=Lax")
    return f"<script>document.cookie = {cookie};</script>"


# ---------------------------------------------------------------------- the login gate


def login_secret(files: Iterable[Path]) -> str | None:
    """The `cookie_secret` of the `[auth]` section of the first secrets file that has one (login is
    configured), or None (no login). SettingsError for an `[auth]` without a usable cookie_secret."""
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise SettingsError(f"{path} could not be read: {err}") from err
        auth = data.get(AUTH_SECTION)
        if not isinstance(auth, dict):
            continue
        secret = auth.get("cookie_secret")
        if not isinstance(secret, str) or not secret.strip():
            raise SettingsError(f"{path}: [auth] needs cookie_secret (a long random string) for the login")
        return secret
    return None


def _unsign(secret: str, name: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        found = URLSafeTimedSerializer(secret, salt=name).loads(value, max_age=USER_COOKIE_MAX_AGE_S)
    except BadSignature:  # SignatureExpired is one too
        return None
    return found if isinstance(found, str) else None


def signed_in_user(cookies: Mapping[str, str], secret: str) -> dict[str, Any] | None:
    "The identity in Streamlit's signed user cookie when its signature holds and it is logged in, else None."
    raw = _unsign(secret, USER_COOKIE, cookies.get(USER_COOKIE))
    if raw is None:
        return None
    chunked = CHUNKS.fullmatch(raw)
    if chunked:
        count = int(chunked.group(1))
        if not 0 < count <= MAX_CHUNKS:
            return None
        parts = [_unsign(secret, f"{USER_COOKIE}_{i}", cookies.get(f"{USER_COOKIE}_{i}")) for i in range(1, count + 1)]
        if any(p is None for p in parts):
            return None
        raw = "".join(p for p in parts if p is not None)
    try:
        user = json.loads(raw)
    except ValueError:
        return None
    return user if isinstance(user, dict) and user.get("is_logged_in") is True else None


class LoginGate:
    """ASGI middleware: with login configured, a request without a valid Streamlit identity cookie
    reaches only `open_paths` / `open_prefixes`; a page a browser asks for is sent to the login
    screen at `/`, anything else is 401, and a websocket is closed."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        open_paths: Collection[str] = (),
        open_prefixes: Collection[str] = (),
    ):
        self.app = app
        self.secret = secret
        self.open_paths = LOGIN_OPEN_PATHS | set(open_paths)
        self.open_prefixes = (*LOGIN_OPEN_PREFIXES, *open_prefixes)

    def is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        if signed_in_user(HTTPConnection(scope).cookies, self.secret) is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await WebSocketClose(WEBSOCKET_POLICY_VIOLATION)(scope, receive, send)
            return
        wants_page = scope.get("method") in ("GET", "HEAD") and "text/html" in Headers(scope=scope).get("accept", "")
        response = (
            RedirectResponse("/", status_code=303)
            if wants_page
            else PlainTextResponse("Log in to the studio first.", status_code=401)
        )
        await response(scope, receive, send)
