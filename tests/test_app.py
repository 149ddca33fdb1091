"""AppTest: the entry script routes the four pages and always shows which API is in use."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio import services as svc
from studio import ui
from studio.models import VideoGenerationParams

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["pages/create.py", "pages/compare.py", "pages/gallery.py", "pages/status.py"]


@pytest.fixture
def entry(studio):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.session_state["services"] = studio
    return at


def test_entry_script_opens_create_and_names_the_api(entry):
    entry.run()
    assert not entry.exception
    assert any("Mosaic" in s.value for s in entry.sidebar.success)
    assert entry.title[0].value == "Create"


@pytest.mark.parametrize(
    "page,title",
    [
        ("pages/create.py", "Create"),
        ("pages/compare.py", "Compare"),
        ("pages/gallery.py", "Gallery"),
        ("pages/status.py", "Status"),
    ],
)
def test_every_page_renders(entry, page, title):
    # AppTest runs a switched-to page file on its own (it resets Streamlit's pages/ flag each
    # run), so the sidebar frame is checked above and in the browser tests; here, the page itself.
    entry.run()
    entry.switch_page(page).run()
    assert not entry.exception
    assert title in entry.title[0].value


def test_sidebar_counts_generations_in_progress(entry, studio):
    studio.runner.stop()
    svc.generate(studio, VideoGenerationParams(prompt="A glass whale"), takes=2)
    entry.run()
    assert any("2 generations in progress in the studio" in c.value for c in entry.sidebar.caption)


def launch_on_create(app: AppTest, prompt: str) -> list[str]:
    "Run a prompt from Create; returns the ids this session now waits for."
    app.run()
    app.text_area(key="create_prompt").set_value(prompt)
    (button,) = app.container("create_run").button
    button.click().run()
    assert not app.exception, app.exception
    return [i for ids in app.session_state[ui.WATCHING_KEY].values() for i in ids]


def same_session(app: AppTest, services: svc.Services) -> AppTest:
    """The next script run of the same browser session. AppTest reruns only the page file of an
    app with a pages/ folder (it resets the flag st.navigation sets), so a fresh AppTest that
    carries the session's state runs the entry script, the frame around every page, again."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.session_state["services"] = services
    for key in (ui.WATCHING_KEY, ui.NOTES_KEY):
        if key in app.session_state:
            at.session_state[key] = app.session_state[key]
    at.run()
    assert not at.exception, at.exception
    return at


def sent_html(app: AppTest) -> list[str]:
    return [e.proto.body for e in app.get("html")]


def test_a_launch_becomes_this_sessions_and_the_sidebar_counts_it(entry, studio):
    studio.runner.stop()
    svc.generate(studio, VideoGenerationParams(prompt="Someone else's run"))
    mine = launch_on_create(entry, "A glass whale")
    [gen] = svc.get_many(studio, mine)
    assert gen.prompt == "A glass whale"
    at = same_session(entry, studio)
    assert any("1 run of yours in flight" in c.value for c in at.sidebar.caption)
    assert any("2 generations in progress in the studio" in c.value for c in at.sidebar.caption)
    assert any("Notification.requestPermission" in body for body in sent_html(at))


def test_a_run_launched_here_is_announced_once_when_it_ends(entry, studio):
    mine = launch_on_create(entry, "A heron lands on a pier")
    svc.wait_for(studio, mine, timeout=30)
    at = same_session(entry, studio)
    assert [t.value for t in at.toast] == ["Your run finished: the video is ready."]
    notes = [body for body in sent_html(at) if "new Notification" in body]
    assert len(notes) == 1 and "Your run finished" in notes[0]
    assert "heron" not in notes[0]  # no prompt text in the page's script
    assert not any("of yours in flight" in c.value for c in at.sidebar.caption)
    again = same_session(at, studio)
    assert not again.toast and not [b for b in sent_html(again) if "new Notification" in b]  # once


def test_takes_that_end_with_a_cancellation_say_so(idle):
    ids = svc.generate(idle, VideoGenerationParams(prompt="Two takes"), takes=2)
    idle.runner.cancel(ids[1])
    idle.store.transition(ids[0], ("queued",), "done")
    [launch], in_flight = svc.ended(idle, {"k": ids})
    assert in_flight == 0 and not launch.ok
    assert launch.message() == "Your takes finished: 1 of 2 done, 1 cancelled."


def test_the_mode_is_also_shown_compactly_above_the_page_for_phones(entry):
    entry.run()
    assert "Mosaic" in entry.container("studio_mode_badge").caption[0].value


def test_simulator_mode_is_announced(keyless):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.session_state["services"] = keyless
    at.run()
    assert not at.exception
    assert any("Simulator mode" in w.value for w in at.sidebar.warning)


def everything_sent(node) -> str:
    "Every protobuf message a page sends to the browser, as text."
    parts = [str(getattr(node, "proto", ""))]
    children = getattr(node, "children", {})
    for child in children.values() if isinstance(children, dict) else children:
        parts.append(everything_sent(child))
    return "\n".join(parts)


@pytest.mark.parametrize(
    "page,param,shown",
    [
        ("pages/create.py", "jobs", "A kite"),
        ("pages/gallery.py", "id", "mk_your_api_key"),
        ("pages/status.py", None, "Works"),
    ],
)
def test_the_api_key_never_reaches_a_page(entry, studio, page, param, shown):
    from support import TEST_KEY

    [gen] = svc.wait_for(studio, svc.generate(studio, VideoGenerationParams(prompt="A kite", duration="4")), timeout=60)
    if param:
        entry.query_params[param] = gen.id  # the finished run; in the gallery, its detail and API snippet
    entry.run()
    entry.switch_page(page).run()
    assert not entry.exception
    rendered = everything_sent(entry._tree)
    assert shown in rendered  # the walk does see what the page shows
    assert TEST_KEY not in rendered
