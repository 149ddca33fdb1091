"""Login end to end in Chromium: the studio started with a secrets.toml [auth] pointing at a local
OpenID provider (oidc-provider-mock, in a thread). Someone not logged in sees only the login
screen and /files answers 401; they log in through the provider's form and the sidebar shows them;
what they make is signed with their e-mail; share links' prefix and /healthz stay open."""

from __future__ import annotations

import httpx
import oidc_provider_mock
import pytest
from browser import StudioServer, free_port, screenshot, wait_for_app
from playwright.sync_api import Page, expect

from studio.people import USER_COOKIE

EMAIL = "ada@example.com"


@pytest.fixture(scope="module")
def provider():
    with oidc_provider_mock.run_server_in_thread(port=free_port()) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def login_studio(provider, tmp_path_factory):
    "A studio whose secrets.toml (in its home folder) configures the login against `provider`."
    port = free_port()
    home = tmp_path_factory.mktemp("home")
    (home / ".streamlit").mkdir()
    (home / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-that-is-long-enough"\n'
        'client_id = "studio"\n'
        'client_secret = "studio-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    server = StudioServer(tmp_path_factory.mktemp("login-data"), home=home, port=port).start()
    yield server.base
    server.stop()


def test_nothing_without_the_login_then_the_provider_form_lets_ada_in(page: Page, login_studio):
    base = login_studio
    assert httpx.get(f"{base}/files/anything.mp4").status_code == 401
    assert httpx.get(f"{base}/exports/x/export.zip").status_code == 401
    assert httpx.get(f"{base}/healthz").json()["ok"]
    assert httpx.get(f"{base}/share/not-a-token").status_code != 401  # a share link's answer, not the gate's

    page.goto(base)
    wait_for_app(page)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("heading", name="Create")).to_have_count(0)
    expect(page.locator("textarea")).to_have_count(0)
    screenshot(page, "login-screen")

    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("input[name=sub]", timeout=30_000)  # the provider's form
    page.fill("input[name=sub]", EMAIL)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**", timeout=30_000)
    wait_for_app(page)
    sidebar = page.locator(".st-key-studio_identity")
    expect(sidebar).to_contain_text(f"Logged in as {EMAIL}")
    expect(page.get_by_role("heading", name="Create")).to_be_visible()
    expect(page.locator(".st-key-create_prompt textarea")).to_be_visible()
    wait_for_app(page)
    screenshot(page, "login-done")

    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert USER_COOKIE in cookies
    with_cookie = httpx.get(f"{base}/files/anything.mp4", cookies={USER_COOKIE: cookies[USER_COOKIE]})
    assert with_cookie.status_code == 404  # past the gate: there is just no such file
    assert httpx.get(f"{base}/files/anything.mp4").status_code == 401

    box = page.locator(".st-key-create_prompt textarea")
    box.fill("A lantern drifts over a lake")
    box.press("Control+Enter")
    wait_for_app(page)
    page.locator(".st-key-create_run button").click()
    page.wait_for_selector(".st-key-create_results video", timeout=45_000)
    page.goto(f"{base}/gallery?whose=mine")
    wait_for_app(page)
    expect(page.locator("[class*=st-key-gallery_card_]").first).to_contain_text(f"by {EMAIL}", timeout=45_000)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: "end_session" in url, timeout=30_000)  # the provider's own log out
    assert USER_COOKIE not in {c["name"] for c in page.context.cookies()}
    page.goto(base)
    wait_for_app(page)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
