"""AppTest: the Decisions page on the real entry script with an injected studio: the empty state,
one section per setting (sentence, table, chart), filters read from and written to the URL, and a
link whose filters cannot be used."""

from __future__ import annotations

import json

import pytest
from support import add_done, open_page
from vote_rows import add_vote

from studio import decisions as maths
from studio import services as svc

DECISIONS = "pages/decisions.py"


def aspect_votes(studio, wins: int, losses: int, ties: int = 0, *, voters=("ana", "ben", "cy", "dee", "eli")):
    "Votes on pairs 9:16 against 16:9 (each pair new, so one person may vote on many)."
    for n, choice in enumerate(["a"] * wins + ["b"] * losses + ["none"] * ties):
        a = add_done(studio, "Product shot: a watch", author="ana", aspect_ratio="9:16")
        b = add_done(studio, "Product shot: a watch", author="ana", aspect_ratio="16:9")
        add_vote(studio, voters[n % len(voters)], a, b, choice, created_at=f"2026-03-0{1 + n % 3}T10:00:00+00:00")


def shown(text: str) -> str:
    "Text as the page shows it: markdown escapes (ui.plain) taken away."
    return text.replace("\\", "")


def texts(at) -> list[str]:
    return [shown(e.value) for kind in ("markdown", "caption", "info", "success", "error") for e in getattr(at, kind)]


def test_with_no_votes_the_page_says_what_to_do(idle):
    at = open_page(DECISIONS, idle)
    [info] = [i.value for i in at.info]
    assert info.startswith("No votes yet. Decisions come from blind reviews: on the Review page")
    assert not at.table
    [link] = [p for p in at.get("page_link") if p.proto.label == "Go to Review"]
    assert link.proto.page == "review"


def test_each_setting_with_votes_gets_its_sentence_table_and_chart(idle):
    aspect_votes(idle, wins=7, losses=3, ties=1)
    at = open_page(DECISIONS, idle)
    assert "**11 votes** from 5 voters (ana, ben, cy, dee, eli)." in texts(at)
    [sentence] = [shown(i.value) for i in at.info]
    assert sentence.startswith("The data do not yet separate 9:16 and 16:9: about 15 more votes with a preference")
    [table] = at.table
    frame = table.value
    assert list(frame.index) == ["9:16", "16:9"]
    low, high = maths.wilson(7, 10)
    assert frame.loc["9:16", "Win rate"] == "70 %"
    assert frame.loc["9:16", "95 % interval"] == f"{round(low * 100)}–{round(high * 100)} %"
    assert frame.loc["9:16", "Wins / losses / ties"] == "7 / 3 / 1"
    assert frame.loc["16:9", "Votes"] == 11
    assert "Win rate per 1k tokens" in frame.columns  # no credit rate configured
    [chart] = at.get("vega_lite_chart")
    [bar, dot, _even] = json.loads(chart.proto.spec)["layer"]
    assert (bar["encoding"]["x"]["field"], bar["encoding"]["x2"]["field"]) == ("low", "high")  # the error bar
    assert dot["encoding"]["x"]["field"] == "rate"
    assert any("neither a win nor a loss" in t for t in texts(at))
    assert any(t.startswith("No votes yet on pairs that differed in resolution, duration") for t in texts(at))


def test_a_clear_leader_is_named(idle):
    aspect_votes(idle, wins=14, losses=1)
    at = open_page(DECISIONS, idle)
    [sentence] = [shown(s.value) for s in at.success]
    low, high = maths.wilson(14, 15)
    assert sentence == f"The team prefers 9:16: 93 % (95 % CI {round(low * 100)}–{round(high * 100)} %) over 15 votes."


def test_filters_come_from_the_url_and_fill_the_form(idle):
    aspect_votes(idle, wins=3, losses=2)
    at = open_page(DECISIONS, idle, {"voter": "ben", "since": "2026-03-01"})
    assert at.selectbox(key="decisions_voter").value == "ben"
    assert str(at.date_input(key="decisions_since").value) == "2026-03-01"
    assert "**1 vote** from 1 voter (ben)." in texts(at)


def test_apply_writes_the_filters_into_the_url(idle):
    aspect_votes(idle, wins=3, losses=2)
    at = open_page(DECISIONS, idle)
    at.selectbox(key="decisions_voter").set_value("cy")
    at.button(key="FormSubmitter:decisions_filters-Apply").click().run()
    assert not at.exception
    assert at.query_params["voter"] == "cy"
    assert "**1 vote** from 1 voter (cy)." in texts(at)
    at.button(key="FormSubmitter:decisions_filters-Clear").click().run()
    assert "voter" not in at.query_params
    assert "**5 votes** from 5 voters (ana, ben, cy, dee, eli)." in texts(at)


@pytest.mark.parametrize(
    "params,words",
    [({"since": "yesterday"}, "since takes a date"), ({"collection": "gone"}, "no collection 'gone'")],
)
def test_a_link_with_unusable_filters_says_so(idle, params, words):
    aspect_votes(idle, wins=1, losses=1)
    at = open_page(DECISIONS, idle, params)
    [error] = [shown(e.value) for e in at.error]
    assert error.startswith("This view's filters can't be used") and words in error
    assert not at.table


def test_filters_that_match_nothing_say_so(idle):
    aspect_votes(idle, wins=1, losses=1)
    at = open_page(DECISIONS, idle, {"voter": "nobody"})
    assert [i.value for i in at.info] == ["No votes match these filters. Widen them, or clear them to see every vote."]


def test_the_page_is_in_the_navigation(idle):
    board = svc.create_collection(idle, "Picks")
    at = open_page(DECISIONS, idle, {"collection": board.id})
    assert not at.exception and at.selectbox(key="decisions_collection").value == board.id


def test_comments_pinned_on_the_leaders_takes_are_listed(idle):
    aspect_votes(idle, wins=3, losses=0)
    [vote] = idle.store.query("SELECT a_id FROM votes LIMIT 1")
    svc.add_comment(idle, vote["a_id"], "ben", "The strap *shines* here", at_s=2.5)
    svc.add_comment(idle, vote["a_id"], "cy", "Not pinned to a moment")
    at = open_page(DECISIONS, idle)
    [line] = [m.value for m in at.markdown if "·" in m.value and "strap" in m.value]
    assert shown(line).startswith("`0:02.5` · **ben** · ")
    assert line.endswith("The strap \\*shines\\* here")  # the comment's own asterisks, escaped: not bold
    assert not [m for m in at.markdown if "Not pinned" in m.value]
    assert "Comments pinned to moments of the 9:16 takes" in " ".join(texts(at))


def test_the_cost_column_says_what_it_holds_fixed(idle):
    aspect_votes(idle, wins=2, losses=1)
    short = add_done(idle, "Product shot: a watch", author="ana", duration="4")
    long = add_done(idle, "Product shot: a watch", author="ana", duration="10")
    add_vote(idle, "ana", short, long, "a")
    at = open_page(DECISIONS, idle)
    assert (
        "A generated second costs the same whichever duration: priced at 720p, auto aspect ratio (as 16:9), "
        "as most of these takes." in texts(at)
    )
    assert "Cost per generated second at 720p, as most of these takes, so it shows what the aspect ratio changes." in (
        texts(at)
    )
