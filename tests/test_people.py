"""Who is who: the order identities are taken in, the names people type, and the login gate that
keeps the studio (but not share links or /healthz) behind Streamlit's signed identity cookie."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from support import settings_for

from studio import people
from studio import services as svc
from studio.errors import ParamsError, SettingsError
from studio.models import VideoGenerationParams
from studio.settings import Settings
from studio.web import app_parts, login_middleware, make_routes

SECRET = "a-long-random-cookie-secret"
LOGGED_IN = {"is_logged_in": True, "email": "ada@example.com", "name": "Ada Lovelace", "sub": "u1"}


def who(**given):
    base: dict[str, Any] = dict(user=None, headers={}, cookies={}, trusted_header=None, typed=None, fallback="server")
    return people.resolve(**{**base, **given})


# ---------------------------------------------------------------------- resolve order


def test_the_login_comes_first_and_names_the_person_by_email():
    found = who(
        user=LOGGED_IN,
        headers={"X-Forwarded-Email": "proxy@example.com"},
        trusted_header="X-Forwarded-Email",
        cookies={people.NAME_COOKIE: "Typed"},
        typed="Typed",
    )
    assert found == people.Person("ada@example.com", "login", email="ada@example.com")
    assert found.known


def test_a_login_without_email_is_known_by_its_name():
    assert who(user={"is_logged_in": True, "name": "Ada"}).name == "Ada"


def test_a_user_not_logged_in_is_not_a_login():
    assert who(user={"is_logged_in": False, "email": "ada@example.com"}).source == "settings"


def test_the_header_counts_only_when_the_setting_names_it():
    headers = {"x-forwarded-email": "grace@example.com"}
    assert who(headers=headers).source == "settings"
    found = who(headers=headers, trusted_header="X-Forwarded-Email", cookies={people.NAME_COOKIE: "Typed"})
    assert (found.name, found.source) == ("grace@example.com", "header")
    assert who(headers={"X-Other": "x"}, trusted_header="X-Forwarded-Email").source == "settings"


def test_a_name_typed_now_beats_the_one_the_browser_remembers():
    assert who(typed="Now", cookies={people.NAME_COOKIE: "Before"}) == people.Person("Now", "name")
    assert who(cookies={people.NAME_COOKIE: "Ren%C3%A9e%20M"}).name == "Renée M"


def test_nobody_known_is_the_settings_author():
    found = who(fallback="studio-default")
    assert found == people.Person("studio-default", "settings") and not found.known


def test_a_bad_cookie_or_header_is_ignored_not_an_error():
    assert who(cookies={people.NAME_COOKIE: "x" * 500}).source == "settings"
    assert who(cookies={people.NAME_COOKIE: "%00%0A"}).source == "settings"
    assert who(headers={"X-E": "  "}, trusted_header="X-E").source == "settings"


# ---------------------------------------------------------------------- names people type


@pytest.mark.parametrize(
    "typed,kept",
    [
        ("Ada", "Ada"),
        ("  Ada   Lovelace ", "Ada Lovelace"),
        ("Ada\nLovelace", "Ada Lovelace"),
        ("Ada\x00\x07\u200bL", "AdaL"),
        ("Zoë 🎬", "Zoë 🎬"),
    ],
)
def test_names_are_one_clean_line(typed, kept):
    assert people.clean_name(typed) == kept


@pytest.mark.parametrize(
    "typed,words",
    [("", "Type a name"), ("   \t", "Type a name"), ("\x00", "Type a name"), ("x" * 61, "at most 60 characters")],
)
def test_bad_names_are_refused_with_a_reason(typed, words):
    with pytest.raises(ParamsError, match=words) as err:
        people.clean_name(typed)
    assert err.value.field == "name"


def test_the_remembering_script_cannot_be_broken_out_of():
    script = people.remember_script('</script><b>"Ada"</b>')
    assert script.count("<script>") == 1 and script.count("</script>") == 1
    assert "%3C%2Fscript%3E" in script and f"Max-Age={people.NAME_COOKIE_MAX_AGE_S}" in script
    assert people.NAME_COOKIE_MAX_AGE_S == 400 * 24 * 3600
    assert "Max-Age=0" in people.remember_script(None)


def test_the_trusted_header_setting_must_be_a_header_name():
    assert Settings(trusted_user_header=" X-Forwarded-Email ").trusted_user_header == "X-Forwarded-Email"
    assert Settings(trusted_user_header="").trusted_user_header is None
    with pytest.raises(ValueError, match="header name"):
        Settings(trusted_user_header="X Forwarded: Email")


# ---------------------------------------------------------------------- the signed identity cookie


def streamlit_cookie(user: dict, secret: str = SECRET, name: str = people.USER_COOKIE) -> str:
    "Signed exactly as Streamlit 1.67 signs it (starlette_auth_routes._set_single_cookie)."
    return URLSafeTimedSerializer(secret, salt=name).dumps(json.dumps(user))


def test_a_cookie_signed_with_the_secret_is_a_logged_in_user():
    assert people.signed_in_user({people.USER_COOKIE: streamlit_cookie(LOGGED_IN)}, SECRET) == LOGGED_IN


@pytest.mark.parametrize(
    "cookies",
    [
        {},
        {people.USER_COOKIE: streamlit_cookie(LOGGED_IN, secret="another secret")},
        {people.USER_COOKIE: streamlit_cookie(LOGGED_IN)[:-2] + "xx"},
        {people.USER_COOKIE: streamlit_cookie(LOGGED_IN, name="_streamlit_user_tokens")},
        {people.USER_COOKIE: streamlit_cookie({**LOGGED_IN, "is_logged_in": False})},
        {people.USER_COOKIE: URLSafeTimedSerializer(SECRET, salt=people.USER_COOKIE).dumps("not json")},
    ],
    ids=["none", "other-secret", "tampered", "other-salt", "logged-out", "not-json"],
)
def test_anything_else_is_nobody(cookies):
    assert people.signed_in_user(cookies, SECRET) is None


def test_a_cookie_split_in_chunks_is_read_whole():
    text = json.dumps(LOGGED_IN)
    half = len(text) // 2
    sign = URLSafeTimedSerializer
    cookies = {
        people.USER_COOKIE: sign(SECRET, salt=people.USER_COOKIE).dumps("chunks-2"),
        f"{people.USER_COOKIE}_1": sign(SECRET, salt=f"{people.USER_COOKIE}_1").dumps(text[:half]),
        f"{people.USER_COOKIE}_2": sign(SECRET, salt=f"{people.USER_COOKIE}_2").dumps(text[half:]),
    }
    assert people.signed_in_user(cookies, SECRET) == LOGGED_IN
    del cookies[f"{people.USER_COOKIE}_2"]
    assert people.signed_in_user(cookies, SECRET) is None


def secrets_file(folder: Path, text: str) -> Path:
    path = folder / "secrets.toml"
    path.write_text(text)
    return path


def test_login_is_configured_by_an_auth_section_with_a_cookie_secret(tmp_path):
    plain = secrets_file(tmp_path, 'MOSAIC_API_KEY = "mk_x"\n')
    assert people.login_secret([plain]) is None and login_middleware([plain]) == []
    (tmp_path / "b").mkdir()
    auth = secrets_file(tmp_path / "b", f'[auth]\ncookie_secret = "{SECRET}"\nclient_id = "c"\n')
    assert people.login_secret([plain, auth]) == SECRET
    broken = secrets_file(tmp_path, '[auth]\nclient_id = "c"\n')
    with pytest.raises(SettingsError, match="cookie_secret"):
        people.login_secret([broken])


# ---------------------------------------------------------------------- the gate, over HTTP


@pytest.fixture
def gated(clean_sim, tmp_path):
    "The studio's routes behind the gate, plus stand-ins for the login screen and websockets."
    services = svc.build_services(settings_for(clean_sim, tmp_path / "d"))

    async def stand_in(request):
        return PlainTextResponse(f"content of {request.url.path}")

    async def stream(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    extra = [
        Route("/", stand_in),
        WebSocketRoute("/_stcore/stream", stream),
        WebSocketRoute("/_stcore/other", stream),
    ]
    auth = secrets_file(tmp_path, f'[auth]\ncookie_secret = "{SECRET}"\nclient_id = "c"\n')
    app = Starlette(
        routes=[*make_routes(services.settings, services=lambda: services), *extra],
        middleware=login_middleware([auth]),
    )
    with TestClient(app) as client:
        yield client, services
    services.close()


def test_without_the_cookie_files_and_exports_are_locked(gated):
    client, services = gated
    [gen] = svc.wait_for(
        services, svc.generate(services, VideoGenerationParams(prompt="A fox", duration="4")), timeout=60
    )
    for path in (f"/files/{gen.video_path}", "/exports/x/export.zip", "/media/abc.mp4", "/_stcore/upload_file/s/f"):
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert b"ftyp" not in answer.content and "Log in" in answer.text
    client.cookies.set(people.USER_COOKIE, streamlit_cookie(LOGGED_IN, secret="forged"))
    assert client.get(f"/files/{gen.video_path}").status_code == 401
    client.cookies.set(people.USER_COOKIE, streamlit_cookie(LOGGED_IN))
    assert client.get(f"/files/{gen.video_path}").status_code == 200
    past_the_gate = client.get("/exports/x/export.zip")  # the export route's own answer: no such export
    assert past_the_gate.status_code == 404 and "Log in to the studio" not in past_the_gate.text


def test_share_links_health_and_the_login_screen_stay_open(gated):
    client, _ = gated
    shared = client.get("/share/not-a-token")  # the share page's own answer, not the gate's
    assert shared.status_code == 404 and "Log in to the studio" not in shared.text
    assert client.get("/healthz").json()["ok"]
    assert client.get("/gallery").status_code == 200  # the app shell, whose script shows the login
    assert client.get("/").status_code == 200
    assert "Log in" not in client.post("/hooks/mosaic", json={}).text  # reached the receiver itself


def test_a_browser_asking_for_a_locked_page_is_sent_to_the_login(gated):
    client, _ = gated
    answer = client.get("/_stcore/agent/interact", headers={"Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_websockets_other_than_the_login_screens_are_closed(gated):
    client, _ = gated
    with client.websocket_connect("/_stcore/stream") as ws:
        assert ws.receive_text() == "hello"
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/_stcore/other"):
        pass
    assert closed.value.code == people.WEBSOCKET_POLICY_VIOLATION
    client.cookies.set(people.USER_COOKIE, streamlit_cookie(LOGGED_IN))
    with client.websocket_connect("/_stcore/other") as ws:
        assert ws.receive_text() == "hello"


def test_the_app_gets_the_gate_only_with_login_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    assert app_parts(secrets=[])["middleware"] == []
    auth = secrets_file(tmp_path, f'[auth]\ncookie_secret = "{SECRET}"\n')
    [gate] = app_parts(secrets=[auth])["middleware"]
    assert gate.cls is people.LoginGate and gate.kwargs["secret"] == SECRET
