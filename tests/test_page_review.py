"""AppTest: the Review page. Blind pairs with no settings shown, votes A / B / no preference, the
reveal and the next pair at once, the counts, the empty queue saying why, the scope from the URL
(and back into it), and refusals where the reviewer is. On the real entry script."""

from __future__ import annotations

from contextlib import closing

import pytest
from support import add_done, open_page, settings_for

from studio import services as svc
from studio import ui

REVIEW = "pages/review.py"
PROMPT = "a product shot of a red sneaker on white"
RATIOS = ("16:9", "9:16", "1:1")
CURRENT_KEY = "review_current"  # pages/review.py: the pair on screen (scope key, A's id, B's id)


@pytest.fixture
def reviewer(clean_sim, tmp_path):
    "A studio (worker off) whose person is Ana: the voter `ui.who()` gives the Review page."
    settings = settings_for(clean_sim, tmp_path / "ana", author="Ana")
    with closing(svc.build_services(settings, start_worker=False)) as ana:
        yield ana


def ratios(studio, prompt: str = PROMPT, **params) -> dict[str, str]:
    "Finished takes of one prompt, one per aspect ratio: ratio -> id."
    return {ratio: add_done(studio, prompt, aspect_ratio=ratio, **params) for ratio in RATIOS}


def on_screen(at) -> tuple[str, str]:
    "The pair shown: (A's id, B's id)."
    _, a_id, b_id = at.session_state[CURRENT_KEY]
    return a_id, b_id


def unescaped(elements) -> list[str]:
    "The texts of these elements as a person reads them (ui.plain escapes markdown's specials)."
    return [e.value.replace("\\", "") for e in elements]


def texts(at) -> str:
    "Everything written on the page's main area (markdown, captions, alerts, buttons)."
    parts = unescaped((*at.main.markdown, *at.main.caption, *at.main.info, *at.main.success, *at.main.error))
    return "\n".join([*parts, *(b.label for b in at.main.button)])


def errors(at) -> list[str]:
    return unescaped(at.main.error)


def counts(at) -> str:
    return next(c for c in unescaped(at.main.caption) if "left in this scope" in c)


def vote(at, choice: str):
    return at.button(key=f"review_vote_{choice}").click().run()


def test_blind_votes_a_b_and_none_then_the_queue_is_done(reviewer):
    takes = ratios(reviewer, author="dan")
    ratio_of = {gen_id: ratio for ratio, gen_id in takes.items()}
    at = open_page(REVIEW, reviewer)
    assert counts(at).startswith("0 pairs voted · 3 left in this scope")
    labels = [b.label for b in at.main.button]
    assert labels == ["A is better", "No preference", "B is better"]
    assert [b.proto.shortcut for b in at.main.button] == ["left", "down", "right"]
    assert [m.value for m in at.main.markdown if m.value in ("### A", "### B")] == ["### A", "### B"]
    shown = texts(at)
    for hidden in (*RATIOS, "720p", "dan", PROMPT, *takes.values()):  # settings, author, prompt, file names
        assert hidden not in shown

    seen = set()
    for number, choice in enumerate(("a", "b", "none"), start=1):
        a_id, b_id = on_screen(at)
        seen.add(svc.pair_key(a_id, b_id))
        vote(at, choice)
        assert not at.exception and not at.main.error
        [last] = svc.votes(reviewer, limit=1)
        assert (last.voter, last.a_id, last.b_id, last.choice) == ("Ana", a_id, b_id, choice)
        assert last.winner_id == {"a": a_id, "b": b_id, "none": None}[choice]
        picked = {"a": "A", "b": "B", "none": "no preference"}[choice]
        reveal = next(m for m in unescaped(at.main.markdown) if m.startswith("**Vote saved"))
        assert f"you picked {picked}" in reveal
        assert f"aspect ratio: A {ratio_of[a_id]}, B {ratio_of[b_id]}" in reveal
        assert counts(at).startswith(f"{number} pair{'s' if number != 1 else ''} voted · {3 - number} left")
        if number < 3:
            assert svc.pair_key(*on_screen(at)) not in seen  # the next pair, at once
    assert len(svc.votes(reviewer)) == 3
    assert "review_vote_a" not in [b.key for b in at.button]
    assert any("You have voted on all 3 pairs in the studio" in s.value for s in at.main.success)


def test_an_empty_queue_says_why_and_what_to_do(reviewer):
    at = open_page(REVIEW, reviewer)
    assert any("No finished takes in the studio yet" in i.value and "Compare" in i.value for i in at.main.info)
    assert "review_vote_a" not in [b.key for b in at.button]
    add_done(reviewer, "a teapot", aspect_ratio="16:9")
    add_done(reviewer, "a kettle", aspect_ratio="9:16")
    at = open_page(REVIEW, reviewer)
    assert any("2 finished takes in the studio make no pair" in i.value for i in at.main.info)
    assert counts(at).startswith("0 pairs voted · 0 left")


def test_the_scope_comes_from_the_link_and_votes_record_it(reviewer):
    takes = ratios(reviewer)
    other = ratios(reviewer, "a blue teapot")
    board = svc.create_collection(reviewer, "Sneaker picks")
    svc.add_to_collection(reviewer, board.id, [takes["16:9"], takes["9:16"]])
    at = open_page(REVIEW, reviewer, {"collection": board.id})
    assert at.segmented_control(key="review_scope_kind").value == "collection"
    assert at.selectbox(key="review_scope_collection").value == board.id
    assert counts(at).startswith("0 pairs voted · 1 left in this scope (the collection “Sneaker picks”)")
    assert set(on_screen(at)) == {takes["16:9"], takes["9:16"]}
    vote(at, "b")
    [made] = svc.votes(reviewer)
    assert made.scope == f"collection:{board.id}"
    assert any("You have voted on all 1 pair in the collection" in s.value for s in at.main.success)

    svc.set_tags(reviewer, other["1:1"], "hero")
    svc.set_tags(reviewer, other["16:9"], "hero, client")
    at = open_page(REVIEW, reviewer, {"tag": "hero"})
    assert at.text_input(key="review_scope_tag").value == "hero"
    assert set(on_screen(at)) == {other["1:1"], other["16:9"]}
    assert "takes tagged “hero”" in counts(at)


def test_picking_a_scope_puts_it_in_the_url(reviewer):
    ratios(reviewer)
    grid_id, _ = reviewer.store.add_grid(prompt=PROMPT, axes={}, cells=[], name="Ratios")
    for ratio in ("16:9", "9:16"):
        add_done(reviewer, PROMPT, aspect_ratio=ratio, grid_id=grid_id)
    at = open_page(REVIEW, reviewer)
    assert counts(at).startswith("0 pairs voted · 8 left")  # 5 takes of one prompt: 2 of the 10 pairs alike
    at.segmented_control(key="review_scope_kind").set_value("comparison").run()
    at.selectbox(key="review_scope_comparison").set_value(grid_id).run()
    assert not at.exception
    assert at.query_params.get("comparison") == [grid_id] or at.query_params.get("comparison") == grid_id
    assert counts(at).startswith("0 pairs voted · 1 left in this scope (the comparison “Ratios”)")
    assert set(on_screen(at)) == {g.id for g in svc.grid(reviewer, grid_id)[1]}
    at.segmented_control(key="review_scope_kind").set_value("everything").run()
    assert counts(at).startswith("0 pairs voted · 8 left")
    assert at.query_params.get("comparison") in (None, [])


@pytest.mark.parametrize(
    "params,message",
    [
        ({"collection": "gone"}, "There is no such collection: it may have been deleted"),
        ({"comparison": "gone"}, "There is no such comparison: it may have been deleted"),
        ({"comparison": ""}, "Say which comparison to review"),
        ({"tag": "x" * (svc.MAX_TAG_CHARS + 1)}, f"Tags are at most {svc.MAX_TAG_CHARS} characters"),
    ],
)
def test_a_bad_link_says_why_where_the_reviewer_is(reviewer, params, message):
    ratios(reviewer)
    at = open_page(REVIEW, reviewer, params)
    assert any(message in e for e in errors(at)), errors(at)
    assert not at.exception


def test_without_a_name_nobody_votes_and_the_page_says_so(idle):
    ratios(idle)
    at = open_page(REVIEW, idle)
    assert any("Say who you are" in e for e in errors(at))
    assert "review_vote_a" not in [b.key for b in at.button]
    at.session_state[ui.TYPED_NAME_KEY] = "Ben"
    at.run()
    assert not at.main.error and counts(at).startswith("0 pairs voted · 3 left")
    vote(at, "a")
    assert [v.voter for v in svc.votes(idle)] == ["Ben"]


def test_a_vote_on_a_take_deleted_meanwhile_is_refused_and_the_next_pair_comes(reviewer):
    takes = ratios(reviewer)
    at = open_page(REVIEW, reviewer)
    a_id, _ = on_screen(at)
    svc.delete_generation(reviewer, a_id)  # in another tab, while this pair was on screen
    vote(at, "a")
    assert any("no longer exists: it was deleted" in e and "Nothing was saved" in e for e in errors(at))
    assert svc.votes(reviewer) == []
    left = set(takes.values()) - {a_id}
    assert set(on_screen(at)) == left
    assert counts(at).startswith("0 pairs voted · 1 left")


def test_a_second_vote_on_the_same_pair_from_another_tab_is_refused(reviewer):
    ratios(reviewer)
    first = open_page(REVIEW, reviewer)
    second = open_page(REVIEW, reviewer)
    second.session_state[CURRENT_KEY] = first.session_state[CURRENT_KEY]  # both tabs show one pair
    vote(first, "a")
    vote(second, "b")
    assert any("Ana already voted on this pair" in e for e in errors(second))
    assert [v.choice for v in svc.votes(reviewer)] == ["a"]
