"""AppTest: comments on a take (issue 9 §3) in the Gallery's detail and the Compare A/B view: add,
reply, pin to the player's position or a typed time, edit and delete only by the author (the login
or the typed name), the time link asks the player to seek, and bad input is said where it was typed."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest
from support import COMPARE, ENTRY, GALLERY, PAGE_TIMEOUT_S, add_done, players

from studio import services as svc
from studio import ui
from studio.models import VideoGenerationParams

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s", "client_id": "c"}


def detail_as(
    studio, gen_id: str, *, name: str | None = None, login: str | None = None, state: dict[str, Any] | None = None
) -> AppTest:
    "The Gallery with one take's detail open, for a person with a typed name or a login."
    at = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    at.session_state["services"] = studio
    at.session_state[ui.REQUEST_KEY] = {"headers": {}, "cookies": {}}
    if name:
        at.session_state[ui.TYPED_NAME_KEY] = name
    if login:
        at.user = {"is_logged_in": True, "email": login}
        at.secrets["auth"] = AUTH
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.query_params["id"] = gen_id
    at.switch_page(GALLERY).run()
    assert not at.exception, at.exception
    return at


def key(gen_id: str, part: str) -> str:
    return f"detail_comments_{gen_id}_{part}"


def said(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown).replace("\\", "")


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error).replace("\\", "")


def send(at: AppTest, gen_id: str, text: str) -> AppTest:
    at.text_area(key=key(gen_id, "new_text")).input(text)
    at.button(key=key(gen_id, "send")).click().run()
    assert not at.exception, at.exception
    return at


def test_a_comment_is_added_signed_and_dated_then_the_box_empties(idle):
    take = add_done(idle, "a red bicycle")
    at = detail_as(idle, take, name="Ada")
    assert "0 comments" in said(at)
    send(at, take, "The *wheel* wobbles")
    [made] = svc.comments(idle, take)
    assert (made.author, made.body, made.at_s) == ("Ada", "The *wheel* wobbles", None)
    assert "**Ada**" in said(at) and "The *wheel* wobbles" in said(at)  # shown as typed, not as markdown
    assert "1 comment" in said(at) and " UTC" in said(at)
    assert at.text_area(key=key(take, "new_text")).value == ""


def test_pin_to_the_players_position_or_a_typed_time_and_the_time_link_seeks(idle):
    take = add_done(idle, "a red bicycle")
    player = f"detail_player_{take}"
    # The review player keeps its state (PlayerState.position) under its key.
    at = detail_as(idle, take, name="Ada", state={player: {"position": 2.5}})
    at.radio(key=key(take, "pin")).set_value("player").run()
    assert "The player is at 0:02.5." in [c.value for c in at.caption]
    send(at, take, "Here the light flares")
    at.radio(key=key(take, "pin")).set_value("typed").run()
    at.number_input(key=key(take, "pin_at")).set_value(1.2).run()
    send(at, take, "And here")
    assert [(c.body, c.at_s) for c in svc.pinned_comments(idle, [take])] == [
        ("And here", 1.2),
        ("Here the light flares", 2.5),
    ]

    link = next(b for b in at.button if b.label == "at 0:02.5")
    link.click().run()
    assert at.session_state[ui.seek_key(player)] == 2.5
    assert players(at)[player]["seek"]["to"] == 2.5  # what the player's browser half is told
    next(b for b in at.button if b.label == "at 0:01.2").click().run()
    assert at.session_state[ui.seek_key(player)] == 1.2
    next(b for b in at.button if b.label == "at 0:01.2").click().run()  # again: a new value, the same moment
    assert abs(at.session_state[ui.seek_key(player)] - 1.2) < 0.001
    assert at.session_state[ui.seek_key(player)] != 1.2


def test_an_untouched_player_is_at_the_start_and_the_page_says_so(idle):
    take = add_done(idle, "a red bicycle")
    at = detail_as(idle, take, name="Ada")
    at.radio(key=key(take, "pin")).set_value("player").run()
    assert "The player is at 0:00.0." in [c.value for c in at.caption]
    send(at, take, "Opens well")
    assert [(c.body, c.at_s) for c in svc.pinned_comments(idle, [take])] == [("Opens well", 0.0)]


def test_the_players_markers_are_the_pinned_comments(idle):
    take = add_done(idle, "a red bicycle")
    svc.add_comment(idle, take, "Ada", "Flare", at_s=2.5)
    svc.add_comment(idle, take, "Ben", "not pinned")
    at = detail_as(idle, take, name="Ada")
    markers = players(at)[f"detail_player_{take}"]["markers"]
    assert [(m["at"], m["label"], m["gen_id"]) for m in markers] == [(2.5, "Ada: Flare", take)]


def test_bad_input_is_said_under_the_box_and_keeps_the_text(idle):
    take = add_done(idle, "a red bicycle")
    at = detail_as(idle, take, name="Ada")
    send(at, take, "   ")
    assert "it is empty" in errors(at)
    too_long = "x" * (svc.MAX_COMMENT_CHARS + 1)
    send(at, take, too_long)
    assert f"at most {svc.MAX_COMMENT_CHARS} characters" in errors(at)
    assert at.text_area(key=key(take, "new_text")).value == too_long
    assert svc.comments(idle, take) == []


def test_replies_join_the_thread(idle):
    take = add_done(idle, "a red bicycle")
    first = svc.add_comment(idle, take, "Ada", "Too dark?", at_s=1.0)
    at = detail_as(idle, take, name="Ben")
    at.text_area(key=key(take, f"reply_text_{first.id}")).input("A little")
    at.button(key=key(take, f"reply_send_{first.id}")).click().run()
    assert not at.exception
    [reply] = [c for c in svc.comments(idle, take) if c.parent_id]
    assert (reply.author, reply.body, reply.parent_id) == ("Ben", "A little", first.id)
    assert "A little" in said(at) and "2 comments" in said(at)


def test_only_the_author_gets_edit_and_delete(idle):
    take = add_done(idle, "a red bicycle")
    mine = svc.add_comment(idle, take, "Ada", "first thought")
    theirs = svc.add_comment(idle, take, "ben@example.com", "from Ben")
    at = detail_as(idle, take, name="Ada")
    buttons = {b.key for b in at.button}
    assert key(take, f"delete_{mine.id}") in buttons and key(take, f"edit_save_{mine.id}") in buttons
    assert key(take, f"delete_{theirs.id}") not in buttons and key(take, f"edit_save_{theirs.id}") not in buttons

    at.text_area(key=key(take, f"edit_text_{mine.id}")).input("second thought")
    at.button(key=key(take, f"edit_save_{mine.id}")).click().run()
    edited = svc.comment(idle, mine.id)
    assert edited is not None and edited.body == "second thought" and edited.edited_at
    assert "second thought" in said(at) and "edited" in said(at)

    # Ben, logged in, sees his own buttons and not Ada's.
    ben = detail_as(idle, take, login="ben@example.com")
    buttons = {b.key for b in ben.button}
    assert key(take, f"delete_{theirs.id}") in buttons and key(take, f"delete_{mine.id}") not in buttons
    ben.button(key=key(take, f"delete_{theirs.id}")).click().run()
    assert [c.id for c in svc.comments(idle, take)] == [mine.id]


def test_a_deleted_first_comment_leaves_a_placeholder_over_its_replies(idle):
    take = add_done(idle, "a red bicycle")
    first = svc.add_comment(idle, take, "Ada", "opening")
    svc.add_comment(idle, take, "Ben", "the reply", parent_id=first.id)
    at = detail_as(idle, take, name="Ada")
    at.button(key=key(take, f"delete_{first.id}")).click().run()
    assert svc.DELETED_PLACEHOLDER in "\n".join(c.value for c in at.caption)
    assert "the reply" in said(at) and "opening" not in said(at)
    assert key(take, f"reply_send_{first.id}") not in {b.key for b in at.button}  # nothing to reply to


def test_a_comment_on_a_take_deleted_meanwhile_says_so(idle):
    take = add_done(idle, "a red bicycle")
    at = detail_as(idle, take, name="Ada")
    svc.delete_generation(idle, take)  # someone else deletes it while the detail is open
    send(at, take, "Nice")
    # The comment is refused and the page says why: the take it was about is gone.
    assert "it may have been deleted" in errors(at)
    assert svc.comments(idle, take) == []


def test_the_ab_view_has_comments_under_each_take(idle):
    a, b = add_done(idle, "take a"), add_done(idle, "take b")
    svc.add_comment(idle, b, "Ada", "B is better at the end", at_s=3.5)
    at = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    at.session_state["services"] = idle
    at.session_state[ui.TYPED_NAME_KEY] = "Ada"
    at.query_params.update({"a": a, "b": b})
    at.switch_page(COMPARE).run()
    assert not at.exception, at.exception
    assert "B is better at the end" in said(at)
    at.text_area(key="compare_ab_link_A_comments_new_text").input("A opens well")
    at.button(key="compare_ab_link_A_comments_send").click().run()
    assert not at.exception, at.exception
    assert [c.body for c in svc.comments(idle, a)] == ["A opens well"]
    next(btn for btn in at.button if btn.label == "at 0:03.5").click().run()
    assert at.session_state[ui.seek_key("compare_ab_link_player")] == 3.5
    ab = players(at)["compare_ab_link_player"]
    assert ab["seek"]["to"] == 3.5 and [m["at"] for m in ab["markers"]] == [3.5]


def test_gallery_cards_count_their_comments(idle):
    talked = add_done(idle, "a red bicycle")
    add_done(idle, "a blue car")  # no comments: its card says nothing about them
    first = svc.add_comment(idle, talked, "Ada", "one")
    svc.add_comment(idle, talked, "Ben", "two", parent_id=first.id)
    at = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    at.session_state["services"] = idle
    at.switch_page(GALLERY).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert sum("💬 2 comments" in c for c in captions) == 1
    assert sum("💬" in c for c in captions) == 1


def test_a_compare_cell_has_its_comments_behind_a_button(idle):
    cells = [(VideoGenerationParams(prompt="A kite", resolution=r, aspect_ratio="16:9"), r) for r in ("480p", "720p")]
    grid_id, ids = idle.store.add_grid(prompt="A kite", axes={}, cells=cells, author="Ada", name="Kites")
    for gen_id in ids:
        idle.store.update(gen_id, status="done", video_path=f"{gen_id}.mp4", duration_s=4.0, width=1280, height=720)
    svc.add_comment(idle, ids[1], "Ben", "The string snaps", at_s=2.0)
    at = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    at.session_state["services"] = idle
    at.session_state[ui.TYPED_NAME_KEY] = "Ada"
    at.query_params["grid"] = grid_id
    at.switch_page(COMPARE).run()
    assert not at.exception, at.exception
    assert "The string snaps" in said(at)
    at.text_area(key=f"grid_comments_{ids[0]}_new_text").input("Lovely sky")
    at.button(key=f"grid_comments_{ids[0]}_send").click().run()
    assert not at.exception, at.exception
    assert [(c.author, c.body) for c in svc.comments(idle, ids[0])] == [("Ada", "Lovely sky")]
    next(b for b in at.button if b.label == "at 0:02.0").click().run()
    assert at.session_state[ui.seek_key("compare_player_0")] == 2.0  # the grid's review player
    assert players(at)["compare_player_0"]["seek"]["to"] == 2.0


def test_a_moment_marked_in_the_player_becomes_the_new_comments_pin(idle):
    take = add_done(idle, "a red bicycle")
    player = f"detail_player_{take}"
    # "Mark" (M) in the player: a trigger value beside its position, for one run.
    at = detail_as(idle, take, name="Ada", state={player: {"position": 3.0, "marked": 1.5}})
    assert at.radio(key=key(take, "pin")).value == "typed"
    assert at.number_input(key=key(take, "pin_at")).value == 1.5
    send(at, take, "Marked here")
    assert [(c.body, c.at_s) for c in svc.pinned_comments(idle, [take])] == [("Marked here", 1.5)]


def test_someone_without_a_name_is_asked_for_one_and_keeps_the_text(idle):
    take = add_done(idle, "a red bicycle")
    at = detail_as(idle, take)  # no login, no typed name, and the server has no author
    send(at, take, "Who am I?")
    assert "Say who you are first" in errors(at)
    assert at.text_area(key=key(take, "new_text")).value == "Who am I?"
    assert svc.comments(idle, take) == []
