"""Decisions: the Wilson interval, overlap and the votes still needed (studio.decisions), and the
service that rolls the votes up per setting and value with stars, ratings, winners, cost per
generated second and median time, under its filters (studio.services.decisions)."""

from __future__ import annotations

import math

import pytest
from support import add_done, settings_for
from vote_rows import add_vote

from studio import costs
from studio import decisions as maths
from studio import services as svc
from studio.errors import ParamsError

# ---------------------------------------------------------------------- the interval


@pytest.mark.parametrize(
    "wins,n,low,high",
    [
        (7, 10, 0.3968, 0.8922),  # the textbook example
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (50, 100, 0.4038, 0.5962),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_matches_known_values(wins, n, low, high):
    got = maths.wilson(wins, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_with_no_votes_says_nothing_is_known():
    assert maths.wilson(0, 0) == (0.0, 1.0)


def test_intervals_that_touch_or_cross_overlap_and_apart_ones_do_not():
    assert maths.overlap((0.2, 0.5), (0.5, 0.9))
    assert maths.overlap((0.2, 0.6), (0.3, 0.4))
    assert not maths.overlap((0.2, 0.49), (0.5, 0.9))


def _apart_after(p1, n1, p2, n2, k):
    return not maths.overlap(maths.wilson(p1 * (n1 + k), n1 + k), maths.wilson(p2 * (n2 + k), n2 + k))


@pytest.mark.parametrize("p1,n1,p2,n2", [(0.7, 10, 0.3, 10), (0.6, 5, 0.4, 5), (0.55, 40, 0.45, 40), (0.8, 3, 0.5, 8)])
def test_votes_needed_is_the_smallest_count_that_separates(p1, n1, p2, n2):
    k = maths.votes_needed(p1, n1, p2, n2)
    assert k is not None and k > 0
    assert _apart_after(p1, n1, p2, n2, k)
    assert not _apart_after(p1, n1, p2, n2, k - 1)


def test_votes_needed_for_seven_of_ten_against_three_of_ten():
    # 70 % against 30 %: at 10 + 14 votes each the intervals still overlap, at 10 + 15 they part.
    assert maths.votes_needed(0.7, 10, 0.3, 10) == 15
    assert maths.overlap(maths.wilson(0.7 * 24, 24), maths.wilson(0.3 * 24, 24))
    assert not maths.overlap(maths.wilson(0.7 * 25, 25), maths.wilson(0.3 * 25, 25))


def test_votes_needed_is_zero_when_apart_and_none_when_level():
    assert maths.votes_needed(0.9, 100, 0.1, 100) == 0
    assert maths.votes_needed(0.5, 10, 0.5, 10) is None
    assert maths.votes_needed(0.501, 10, 0.499, 10, limit=1000) is None  # beyond the limit


# ---------------------------------------------------------------------- tallies and verdicts


def ballot(choice, **differed):
    return maths.Ballot("a", "b", choice, {k: tuple(v) for k, v in differed.items()})


def test_a_vote_counts_for_every_setting_that_differed_and_ties_are_neither_win_nor_loss():
    ballots = [
        ballot("a", aspect_ratio=("9:16", "16:9"), resolution=("720p", "480p")),
        ballot("b", aspect_ratio=("9:16", "16:9")),
        ballot("none", aspect_ratio=("16:9", "9:16")),
    ]
    found = maths.tally(ballots)
    ratios = {t.value: t for t in found["aspect_ratio"]}
    assert (ratios["9:16"].wins, ratios["9:16"].losses, ratios["9:16"].ties) == (1, 1, 1)
    assert (ratios["16:9"].wins, ratios["16:9"].losses, ratios["16:9"].ties) == (1, 1, 1)
    assert ratios["9:16"].votes == 3 and ratios["9:16"].win_rate == 0.5
    [hi, lo] = maths.ranked(found["resolution"])
    assert (hi.value, hi.win_rate, lo.value, lo.win_rate) == ("720p", 1.0, "480p", 0.0)
    assert found["duration"] == []


def test_audio_values_compare_as_booleans_and_durations_as_text():
    found = maths.tally([ballot("a", generate_audio=(1, False)), ballot("a", duration=(5, "10"))])
    assert {t.value for t in found["generate_audio"]} == {True, False}
    assert {t.value for t in found["duration"]} == {"5", "10"}
    assert maths.value_label("generate_audio", True) == "audio on" and maths.value_label("duration", "5") == "5 s"


def test_the_verdict_names_a_leader_whose_interval_is_apart():
    ballots = [ballot("a", aspect_ratio=("9:16", "16:9"))] * 19 + [ballot("b", aspect_ratio=("9:16", "16:9"))]
    v = maths.verdict("aspect_ratio", maths.tally(ballots)["aspect_ratio"])
    low, high = maths.wilson(19, 20)
    assert v.separated and v.leader == "9:16"
    assert v.sentence == (
        f"The team prefers 9:16: 95 % (95 % CI {round(low * 100)}–{round(high * 100)} %) over 20 votes."
    )


def test_the_verdict_says_when_the_data_do_not_yet_separate_and_how_many_votes_would():
    ballots = [ballot("a", aspect_ratio=("9:16", "16:9"))] * 7 + [ballot("b", aspect_ratio=("9:16", "16:9"))] * 3
    ballots.append(ballot("none", aspect_ratio=("9:16", "16:9")))
    v = maths.verdict("aspect_ratio", maths.tally(ballots)["aspect_ratio"])
    assert not v.separated and v.leader == "9:16"
    assert [(u.value, u.votes_needed) for u in v.unseparated] == [("16:9", 15)]
    assert v.sentence.startswith("The data do not yet separate 9:16 and 16:9: about 15 more votes with a preference")
    assert "9:16 leads with 70 % (95 % CI 40–89 %) over 10 votes (and 1 “no preference”)" in v.sentence


def test_the_verdict_with_no_votes_or_only_ties():
    assert maths.verdict("resolution", []).sentence == "No votes yet on pairs whose resolution differed."
    only_ties = maths.tally([ballot("none", resolution=("720p", "480p"))] * 2)["resolution"]
    assert "was “no preference”" in maths.verdict("resolution", only_ties).sentence


# ---------------------------------------------------------------------- the service


@pytest.fixture
def rated(clean_sim, tmp_path, database_url):
    "A studio (worker off) with a credit rate per resolution."
    rates = dict(credits_per_second="480p=1,720p=2,1080p=4", database_url=database_url)
    services = svc.build_services(settings_for(clean_sim, tmp_path / "rated", **rates), start_worker=False)
    yield services
    services.close()


def pair(studio, *, author="ana", a="9:16", b="16:9", res=("720p", "720p"), prompt="Product shot: a watch", **extra):
    first = add_done(studio, prompt, author=author, aspect_ratio=a, resolution=res[0], **extra)
    second = add_done(studio, prompt, author=author, aspect_ratio=b, resolution=res[1], **extra)
    return first, second


def section(table, setting):
    [found] = [s for s in table.settings if s.setting == setting]
    return found


@pytest.mark.usefixtures("backend")
def test_the_table_rolls_up_votes_stars_ratings_winners_costs_and_times(rated):
    a, b = pair(rated, res=("720p", "1080p"))
    rated.store.update(a, starred=1, rating=5, winner=1, elapsed_s=200.0)
    rated.store.update(b, rating=2, elapsed_s=400.0)
    c, d = pair(rated)
    rated.store.update(c, rating=4, elapsed_s=300.0)
    for voter in ("ana", "ben", "cy"):
        add_vote(rated, voter, a, b, "a")
    add_vote(rated, "ana", c, d, "none")
    add_vote(rated, "ben", d, c, "b")

    table = svc.decisions(rated)
    assert table.votes == 5 and table.voters == ("ana", "ben", "cy") and table.credit_rates
    ratios = section(table, "aspect_ratio")
    [vertical, wide] = ratios.rows
    assert (vertical.value, vertical.wins, vertical.losses, vertical.ties, vertical.votes) == ("9:16", 4, 0, 1, 5)
    assert (wide.value, wide.wins, wide.losses, wide.ties) == ("16:9", 0, 4, 1)
    assert (vertical.ci_low, vertical.ci_high) == pytest.approx(maths.wilson(4, 4))
    assert (vertical.takes, vertical.starred, vertical.rated, vertical.grid_winners) == (2, 1, 2, 1)
    assert vertical.mean_rating == 4.5 and vertical.median_time_s == 250.0
    # Priced at the value itself, the rest as in most of the voted takes (720p: 3 of 4; the ratios
    # tie, so the baseline 16:9): the 1080p take on the 16:9 side does not make 16:9 look dearer.
    assert ratios.cost_basis == ("720p", "16:9")
    assert vertical.tokens_per_second == pytest.approx(costs.tokens("720p", "9:16", 1))
    assert wide.tokens_per_second == pytest.approx(costs.tokens("720p", "16:9", 1))
    assert (vertical.credits_per_second, wide.credits_per_second) == (2.0, 2.0)
    assert vertical.win_rate_per_credit == pytest.approx(1.0 / 2.0)
    assert wide.win_rate_per_credit == 0.0
    assert vertical.win_rate_per_1k_tokens == pytest.approx(1.0 / (costs.tokens("720p", "9:16", 1) / 1000))
    assert ratios.verdict.leader == "9:16"
    assert set(ratios.leader_take_ids) == {a, c}
    resolution = section(table, "resolution")
    assert [(r.value, r.wins, r.losses) for r in resolution.rows] == [("720p", 3, 0), ("1080p", 0, 3)]
    # One take each way: each tie goes to the baseline, 720p and 16:9.
    assert resolution.cost_basis == ("720p", "16:9")
    assert [(r.tokens_per_second, r.credits_per_second) for r in resolution.rows] == [
        (costs.tokens("720p", "16:9", 1), 2.0),
        (costs.tokens("1080p", "16:9", 1), 4.0),
    ]
    assert section(table, "duration").rows == ()


def test_without_a_credit_rate_worth_it_is_per_1k_tokens(idle):
    a, b = pair(idle)
    add_vote(idle, "ana", a, b, "b")
    table = svc.decisions(idle)
    [wide, _] = section(table, "aspect_ratio").rows
    assert not table.credit_rates and wide.value == "16:9"
    assert wide.credits_per_second is None and wide.win_rate_per_credit is None
    assert wide.win_rate_per_1k_tokens == pytest.approx(1.0 / (costs.tokens("720p", "16:9", 1) / 1000))
    assert table.as_json()["worth_it"] == "win_rate_per_1k_tokens"


@pytest.mark.usefixtures("backend")
def test_votes_on_deleted_takes_still_count(idle):
    a, b = pair(idle)
    add_vote(idle, "ana", a, b, "a")
    add_vote(idle, "ben", a, b, "a")
    svc.delete_generation(idle, a)
    svc.delete_generation(idle, b)
    [vertical, wide] = section(svc.decisions(idle), "aspect_ratio").rows
    assert (vertical.value, vertical.wins, wide.losses) == ("9:16", 2, 2)
    assert vertical.takes == 0 and vertical.median_time_s is None
    # With no take left, the cost is the value's own at 720p.
    assert vertical.tokens_per_second == pytest.approx(costs.tokens("720p", "9:16", 1))


@pytest.mark.usefixtures("backend")
def test_filters_by_voter_and_date(idle):
    a, b = pair(idle)
    add_vote(idle, "ana", a, b, "a", created_at="2026-03-01T10:00:00+00:00")
    add_vote(idle, "ben", a, b, "b", created_at="2026-03-02T23:59:00+00:00")
    add_vote(idle, "cy", a, b, "b", created_at="2026-03-03T00:00:00+00:00")

    def wins(**values):
        rows = section(svc.decisions(idle, svc.decision_filters(idle, values)), "aspect_ratio").rows
        return {r.value: r.wins for r in rows}

    assert wins() == {"9:16": 1, "16:9": 2}
    assert wins(voter="ana") == {"9:16": 1, "16:9": 0}
    assert wins(since="2026-03-02") == {"9:16": 0, "16:9": 2}
    assert wins(until="2026-03-02") == {"9:16": 1, "16:9": 1}  # a date covers its whole day
    assert wins(since="2026-03-02", until="2026-03-02") == {"9:16": 0, "16:9": 1}


@pytest.mark.usefixtures("backend")
def test_filters_by_tag_collection_and_author_of_the_takes(idle):
    a, b = pair(idle, author="ana")
    idle.store.update(a, tags="product, hero")
    c, d = pair(idle, author="ben")
    add_vote(idle, "cy", a, b, "a")
    add_vote(idle, "cy", c, d, "b")
    board = svc.create_collection(idle, "Picks")
    svc.add_to_collection(idle, board.id, [d])

    def votes(**values):
        return svc.decisions(idle, svc.decision_filters(idle, values)).votes

    assert votes() == 2
    assert votes(tag="Product") == 1
    assert votes(author="ben") == 1
    assert votes(author="ana", tag="hero") == 1
    assert votes(author="ben", tag="hero") == 0
    assert votes(collection=board.id) == 1
    svc.delete_generation(idle, c)  # one take left is enough to know the vote's collection
    assert votes(collection=board.id) == 1


@pytest.mark.parametrize(
    "values,words",
    [
        ({"since": "March"}, "since takes a date"),
        ({"until": "2026-13-01"}, "until takes a date"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "is after until"),
        ({"collection": "nope"}, "no collection 'nope'"),
        ({"colour": "red"}, "no 'colour' filter"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(idle, values, words):
    with pytest.raises(ParamsError, match=words):
        svc.decision_filters(idle, values)


@pytest.mark.usefixtures("backend")
def test_the_json_is_the_table(idle):
    a, b = pair(idle, prompt="A red chair")
    c = add_done(idle, "A red chair, studio light", author="ana", aspect_ratio="9:16")
    add_vote(idle, "ana", a, b, "a")
    add_vote(idle, "ana", a, c, "b")
    out = svc.decisions(idle).as_json()
    assert out["votes"] == 2 and out["filters"] == {}
    prompts = next(s for s in out["settings"] if s["setting"] == "prompt")
    assert {v["value"] for v in prompts["values"]} == {"A red chair", "A red chair, studio light"}
    assert all(math.isfinite(v["ci_low"]) for s in out["settings"] for v in s["values"])


@pytest.mark.usefixtures("backend")
def test_votes_cast_through_the_review_service_roll_up(idle):
    a, b = pair(idle, res=("720p", "480p"))
    silent = add_done(idle, "Product shot: a watch", author="ana", aspect_ratio="9:16", generate_audio=False)
    svc.record_vote(idle, "ana", a, b, "a")
    svc.record_vote(idle, "ben", b, a, "b")
    svc.record_vote(idle, "cy", a, silent, "none")
    table = svc.decisions(idle)
    assert [(r.value, r.wins, r.losses) for r in section(table, "resolution").rows] == [("720p", 2, 0), ("480p", 0, 2)]
    assert [(r.value, r.ties) for r in section(table, "generate_audio").rows] == [(True, 1), (False, 1)]
    assert section(table, "aspect_ratio").verdict.leader == "9:16"


def test_with_three_values_the_verdict_names_every_value_not_yet_apart_from_the_leader():
    wide, square = ("9:16", "16:9"), ("9:16", "1:1")
    ballots = [ballot("a", aspect_ratio=wide)] * 3 + [ballot("a", aspect_ratio=square)]
    v = maths.verdict("aspect_ratio", maths.tally(ballots)["aspect_ratio"])
    needs = {u.value: u.votes_needed for u in v.unseparated}
    assert set(needs) == {"16:9", "1:1"}
    assert needs["16:9"] == maths.votes_needed(1.0, 4, 0.0, 3) and needs["1:1"] == maths.votes_needed(1.0, 4, 0.0, 1)
    more = max(n or 0 for n in needs.values())
    assert v.sentence.startswith(f"The data do not yet separate 9:16 from 16:9 or 1:1: about {more} more votes")
    many = (
        [ballot("a", aspect_ratio=wide)] * 30
        + [ballot("b", aspect_ratio=wide)] * 2
        + [ballot("a", aspect_ratio=square), ballot("b", aspect_ratio=square)]
    )
    v = maths.verdict("aspect_ratio", maths.tally(many)["aspect_ratio"])
    assert [u.value for u in v.unseparated] == ["1:1"]  # apart from 16:9 by now, not yet from 1:1
    assert v.sentence.startswith("The data do not yet separate 9:16 and 1:1: ")


def test_the_cost_basis_counts_resolution_and_aspect_ratio_each_on_its_own(rated):
    """A 720p comparison across three ratios and one 1080p final of its 16:9 cell: 3 of the 4 voted
    takes are 720p, so the aspect ratios are priced at 720p (not at the 1080p that would win a tie
    of four different (resolution, ratio) pairs)."""
    takes = {
        ratio: add_done(rated, "Product shot: a ceramic mug", resolution="720p", aspect_ratio=ratio, duration="4")
        for ratio in ("16:9", "9:16", "1:1")
    }
    final = add_done(rated, "Product shot: a ceramic mug", resolution="1080p", aspect_ratio="16:9", duration="10")
    add_vote(rated, "ana", takes["9:16"], takes["16:9"], "a")
    add_vote(rated, "ana", takes["1:1"], final, "a")
    ratios = section(svc.decisions(rated), "aspect_ratio")
    assert ratios.cost_basis == ("720p", "16:9")
    assert {r.value: r.credits_per_second for r in ratios.rows} == {"9:16": 2.0, "16:9": 2.0, "1:1": 2.0}
