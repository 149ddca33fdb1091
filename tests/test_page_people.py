"""AppTest: who is who on the pages. The sidebar shows the login (with log out), the trusted
proxy's name, or the typed name (asked for once, kept by a cookie); with login configured and no
login, only the login screen shows; Create and Compare sign new work with the person's name; the
Gallery's whose-takes filter (mine / everyone's / a person) lives in the link."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest
from support import COMPARE, CREATE, ENTRY, GALLERY, PAGE_TIMEOUT_S

from studio import people, ui
from studio import services as svc
from studio.models import VideoGenerationParams

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s", "client_id": "c"}


def visit(
    path: str,
    services,
    *,
    user: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    auth: bool = False,
    query_params: dict[str, str] | None = None,
) -> AppTest:
    "A new browser session on `path`, as a given person (login, request headers and cookies)."
    at = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    at.session_state["services"] = services
    at.session_state[ui.REQUEST_KEY] = {"headers": headers or {}, "cookies": cookies or {}}
    if user is not None:
        at.user = user
    if auth:
        at.secrets["auth"] = AUTH
    at.query_params.update(query_params or {})
    if path == CREATE:  # the entry script's own run (sidebar, login screen) opens Create
        at.run()
    else:  # AppTest runs a switched-to page file alone, without the entry script
        at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def again(at: AppTest, services) -> AppTest:
    """The next full run of the same browser session: AppTest reruns only the page file after a
    click, so a fresh AppTest carrying this session's state runs the entry script (the sidebar)."""
    nxt = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    nxt.session_state["services"] = services
    for key in (ui.REQUEST_KEY, ui.TYPED_NAME_KEY, ui.NAME_EDIT_KEY, ui.NAME_ERROR_KEY):
        if key in at.session_state:
            nxt.session_state[key] = at.session_state[key]
    nxt.run()
    assert not nxt.exception, nxt.exception
    return nxt


def save_name(at: AppTest, services, name: str) -> AppTest:
    at.sidebar.text_input(key=ui.NAME_INPUT_KEY).input(name)
    [save] = [b for b in at.sidebar.button if b.label == "Remember me"]
    save.click().run()
    assert not at.exception, at.exception
    return again(at, services)


def sidebar_text(at: AppTest) -> str:
    return "\n".join(c.value for c in at.sidebar.caption)


def add_by(studio, author: str, prompt: str) -> str:
    return studio.store.add_generation(VideoGenerationParams(prompt=prompt), author=author)


def test_a_logged_in_person_is_shown_with_log_out(idle):
    at = visit(CREATE, idle, user={"is_logged_in": True, "email": "ada@example.com", "name": "Ada"}, auth=True)
    assert "Logged in as **ada@example.com**" in sidebar_text(at)
    assert at.sidebar.button(key="studio_logout").label == "Log out"
    assert not at.sidebar.text_input  # no name to type


def test_with_login_configured_nobody_gets_past_the_login_screen(idle):
    at = visit(CREATE, idle, user={"is_logged_in": False}, auth=True)
    assert at.title[0].value == "Mosaic Prompt Studio"
    assert at.button(key="studio_login").label == "Log in"
    assert not at.text_area and not at.sidebar.caption  # nothing of the studio: no prompt, no sidebar


def test_the_trusted_header_names_the_person_only_when_configured(idle):
    headers = {"X-Forwarded-Email": "grace@example.com"}
    at = visit(CREATE, idle, headers=headers)
    assert "grace" not in sidebar_text(at) and at.sidebar.text_input(key=ui.NAME_INPUT_KEY)
    idle.settings.trusted_user_header = "X-Forwarded-Email"
    at = visit(CREATE, idle, headers=headers)
    assert "**grace@example.com** (from your company sign-in)" in sidebar_text(at)
    assert not at.sidebar.text_input


def test_a_name_is_asked_once_then_kept_and_can_change(idle):
    at = visit(CREATE, idle)
    assert "Until then, what you make is unsigned." in sidebar_text(at)
    at = save_name(at, idle, "  Ada \t Lovelace ")
    assert "You are **Ada Lovelace**" in sidebar_text(at)
    [script] = [h.proto.body for h in at.sidebar.get("html") if people.NAME_COOKIE in h.proto.body]
    assert "studio_name=Ada%20Lovelace" in script and "Max-Age=34560000" in script
    # The next visit: the browser sends the cookie, nothing is asked and no script is sent again.
    at = visit(CREATE, idle, cookies={people.NAME_COOKIE: "Ada%20Lovelace"})
    assert "You are **Ada Lovelace**" in sidebar_text(at)
    assert not [h for h in at.sidebar.get("html") if people.NAME_COOKIE in h.proto.body]
    at.sidebar.button(key="studio_change_name").click().run()
    at = save_name(again(at, idle), idle, "Ada L.")
    assert "You are **Ada L.**" in sidebar_text(at)


def test_a_bad_name_is_refused_where_it_was_typed(idle):
    at = visit(CREATE, idle)
    at = save_name(at, idle, "\x00\x01 ")
    assert "Type a name" in at.sidebar.error[0].value
    assert "Until then" in sidebar_text(at)


def test_the_server_author_signs_work_until_a_name_is_typed(idle):
    idle.settings.author = "studio"
    at = visit(CREATE, idle)
    assert "signed “studio”" in sidebar_text(at)


def run_create(at: AppTest) -> None:
    at.text_area(key="create_prompt").set_value("A heron at dawn")
    [button] = at.container("create_run").button
    button.click().run()
    assert not at.exception, at.exception


def test_create_signs_new_takes_with_the_person(idle):
    at = visit(CREATE, idle, cookies={people.NAME_COOKIE: "Ada"})
    run_create(at)
    [gen] = svc.get_many(idle, at.session_state["create_jobs"])
    assert gen.author == "Ada"


def test_compare_signs_the_comparison_and_its_cells_with_the_login(idle):
    at = visit(COMPARE, idle, user={"is_logged_in": True, "email": "bo@example.com"}, auth=True)
    at.text_area(key="compare_prompt").input("A kite")
    at.multiselect(key="compare_resolutions").set_value(["480p"])
    at.multiselect(key="compare_aspect_ratios").set_value(["16:9"])
    [launch] = [b for b in at.button if b.key and b.key.startswith("compare_launch_")]
    launch.click().run()
    assert not at.exception
    [saved] = svc.grids(idle)
    assert saved["author"] == "bo@example.com"
    assert {g.author for g in svc.grid(idle, saved["id"])[1]} == {"bo@example.com"}


def gallery_prompts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def test_the_gallery_shows_mine_everyones_or_one_persons_takes(idle):
    add_by(idle, "Ada", "Ada's fox")
    add_by(idle, "Bo", "Bo's owl")
    add_by(idle, "Cy", "Cy's cat")
    at = visit(GALLERY, idle, cookies={people.NAME_COOKIE: "Ada"})
    whose = at.selectbox(key=svc.WHOSE_PARAM)
    assert whose.label == "Whose takes" and whose.value == svc.WHOSE_EVERYONE
    assert whose.options == ["everyone", "mine", "Ada", "Bo", "Cy"] and "signed “Ada”" in whose.help
    assert sorted(gallery_prompts(at)) == ["Ada's fox", "Bo's owl", "Cy's cat"]
    whose.set_value(svc.WHOSE_MINE).run()
    assert gallery_prompts(at) == ["Ada's fox"]
    at.selectbox(key=svc.WHOSE_PARAM).set_value("Bo").run()
    assert gallery_prompts(at) == ["Bo's owl"]
    assert "whose" in at.expander[0].label  # the folded filters say a filter is on


def test_a_link_names_whose_takes_and_mine_means_the_visitor(idle):
    add_by(idle, "Ada", "Ada's fox")
    add_by(idle, "Bo", "Bo's owl")
    at = visit(GALLERY, idle, cookies={people.NAME_COOKIE: "Bo"}, query_params={"whose": "mine"})
    assert gallery_prompts(at) == ["Bo's owl"]
    at = visit(GALLERY, idle, query_params={"whose": "Ada"})
    assert gallery_prompts(at) == ["Ada's fox"]
    at = visit(GALLERY, idle, query_params={"whose": "Nobody"})
    assert "Nobody called “Nobody”" in at.info[0].value
    assert sorted(gallery_prompts(at)) == ["Ada's fox", "Bo's owl"]
