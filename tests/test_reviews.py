"""Blind review: which takes make a pair, the queue's random order and sides (a seeded rng), one
vote per person per pair, scopes, deleted and unfinished takes, bad input, and the votes table
from the previous schema."""

from __future__ import annotations

import itertools
import json
import random
import sqlite3

import pytest
from sqlite_utils import Database
from support import add_done

from studio import services as svc
from studio.errors import ParamsError, StudioError
from studio.migrations import migrations
from studio.models import ASPECT_RATIOS, DURATIONS, RESOLUTIONS, VideoGenerationParams
from studio.services.reviews import MAX_GROUP_TAKES
from studio.store import HistoryStore

PROMPT = "a product shot of a red sneaker on white"
VOTE_COLUMNS = {
    "id": str,
    "voter": str,
    "a_id": str,
    "b_id": str,
    "pair_key": str,
    "choice": str,
    "winner_id": str,
    "prompt": str,
    "differed": str,
    "scope": str,
    "created_at": str,
}


def _comparison(studio, prompt: str = PROMPT, **axes) -> str:
    "An empty saved comparison (its cells are added with add_done(..., grid_id=...))."
    grid_id, _ = studio.store.add_grid(prompt=prompt, axes=axes, cells=[])
    return grid_id


def _all_pairs(studio, voter: str = "ana", scope=None) -> set[str]:
    "Vote 'none' through the whole queue; the pair keys it served."
    served = set()
    rng = random.Random(7)
    while (pair := svc.review_queue(studio, voter, scope, rng=rng).pair) is not None:
        served.add(pair.pair_key)
        svc.record_vote(studio, voter, pair.a.id, pair.b.id, "none", scope)
    return served


# ---------------------------------------------------------------------- pairing rules


@pytest.mark.usefixtures("backend")
def test_pairs_are_finished_takes_of_the_same_prompt_that_differ_in_settings(idle):
    wide = add_done(idle, PROMPT, aspect_ratio="16:9")
    tall = add_done(idle, PROMPT, aspect_ratio="9:16")
    again = add_done(idle, PROMPT, aspect_ratio="16:9")  # a retake at the same settings as `wide`
    hd = add_done(idle, PROMPT, aspect_ratio="16:9", resolution="1080p")
    add_done(idle, "a blue teapot", aspect_ratio="1:1")  # another prompt: pairs with nothing
    running = idle.store.add_generation(VideoGenerationParams(prompt=PROMPT, aspect_ratio="1:1"))
    idle.store.update(running, status="running")
    no_file = add_done(idle, PROMPT, aspect_ratio="4:3")
    idle.store.update(no_file, video_path=None)

    queue = svc.review_queue(idle, "ana", rng=random.Random(1))
    assert queue.takes == 5 and queue.pairs == 5 and queue.voted == 0 and queue.left == 5
    assert _all_pairs(idle) == {
        svc.pair_key(wide, tall),
        svc.pair_key(wide, hd),
        svc.pair_key(tall, again),
        svc.pair_key(tall, hd),
        svc.pair_key(again, hd),
    }
    assert svc.pair_key(wide, again) not in _all_pairs(idle, "ben")  # same settings: nothing to judge


def test_a_comparisons_prompt_variants_pair_up_and_different_references_do_not(idle):
    grid = _comparison(idle, prompts=[PROMPT, "a red sneaker, studio light"])
    first = add_done(idle, PROMPT, grid_id=grid)
    variant = add_done(idle, "a red sneaker, studio light", grid_id=grid)
    outside = add_done(idle, "a red sneaker, studio light", resolution="480p")  # same text as the variant
    with_ref = add_done(idle, PROMPT, resolution="1080p", selected_context={"images": ["img_1"]})

    pairs = _all_pairs(idle)
    assert pairs == {svc.pair_key(first, variant), svc.pair_key(variant, outside)}
    assert not any(with_ref in key for key in pairs)
    vote = svc.votes(idle, gen_ids=[first])[0]
    assert list(vote.differed) == ["prompt"] and vote.differed["prompt"][0] == vote.prompt
    assert set(vote.differed["prompt"]) == {PROMPT, "a red sneaker, studio light"}


def test_a_prompt_with_many_takes_pairs_up_its_newest_ones_only(idle):
    combos = list(itertools.product(RESOLUTIONS, ASPECT_RATIOS, DURATIONS))[: MAX_GROUP_TAKES + 2]
    for resolution, ratio, duration in combos:
        add_done(idle, PROMPT, resolution=resolution, aspect_ratio=ratio, duration=duration)
    queue = svc.review_queue(idle, "ana")
    assert (queue.takes, queue.pairs) == (MAX_GROUP_TAKES + 2, MAX_GROUP_TAKES * (MAX_GROUP_TAKES - 1) // 2)


def test_the_order_and_the_sides_come_from_the_rng_so_a_seed_repeats_them(idle):
    for ratio in ("16:9", "9:16", "1:1", "4:3", "21:9"):
        add_done(idle, PROMPT, aspect_ratio=ratio)

    def first_pairs(seed: int) -> list[tuple[str, str]]:
        rng = random.Random(seed)
        return [
            (p.a.id, p.b.id) for p in (svc.review_queue(idle, "ana", rng=rng).pair for _ in range(12)) if p is not None
        ]

    assert first_pairs(3) == first_pairs(3)
    served = first_pairs(3) + first_pairs(4) + first_pairs(5)
    assert len({svc.pair_key(a, b) for a, b in served}) > 3  # not always the same pair
    sides = {(a, b) for a, b in served}
    assert any((b, a) in sides for a, b in sides)  # a pair comes both ways round: the sides are random


def test_the_current_pair_stays_until_it_is_voted_on(idle):
    for ratio in ("16:9", "9:16", "1:1"):
        add_done(idle, PROMPT, aspect_ratio=ratio)
    pair = svc.review_queue(idle, "ana", rng=random.Random(2)).pair
    assert pair is not None
    for seed in range(5):
        again = svc.review_queue(idle, "ana", current=(pair.a.id, pair.b.id), rng=random.Random(seed)).pair
        assert again is not None and (again.a.id, again.b.id) == (pair.a.id, pair.b.id)
    svc.record_vote(idle, "ana", pair.a.id, pair.b.id, "a")
    following = svc.review_queue(idle, "ana", current=(pair.a.id, pair.b.id), rng=random.Random(0)).pair
    assert following is not None and following.pair_key != pair.pair_key


# ---------------------------------------------------------------------- votes


@pytest.mark.usefixtures("backend")
def test_a_vote_records_the_voter_both_takes_the_winner_and_what_differed(idle):
    wide = add_done(idle, PROMPT, aspect_ratio="16:9", duration="5")
    tall = add_done(idle, PROMPT, aspect_ratio="9:16", duration="8", generate_audio=False)
    vote = svc.record_vote(idle, "  ana  ", tall, wide, "B", scope="tag:hero")
    assert (vote.voter, vote.a_id, vote.b_id, vote.choice, vote.winner_id, vote.loser_id) == (
        "ana",
        tall,
        wide,
        "b",
        wide,
        tall,
    )
    assert vote.pair_key == svc.pair_key(wide, tall) == "|".join(sorted([wide, tall]))
    assert vote.differed == {"aspect_ratio": ["9:16", "16:9"], "duration": ["8", "5"], "generate_audio": [False, True]}
    [stored] = idle.store.query("SELECT * FROM votes")
    assert json.loads(stored["differed"]) == vote.differed
    assert stored["scope"] == "tag:hero" and stored["prompt"] == PROMPT and stored["choice"] == "b"
    assert svc.votes(idle) == [vote]

    none = svc.record_vote(idle, "ben", wide, tall, "none")
    assert none.winner_id is None and none.loser_id is None and none.scope is None
    assert [v.voter for v in svc.votes(idle)] == ["ben", "ana"]
    assert [v.voter for v in svc.votes(idle, voter="ana")] == ["ana"]
    assert [v.voter for v in svc.votes(idle, scope="tag:hero")] == ["ana"]
    assert svc.votes(idle, since="2999-01-01") == [] and len(svc.votes(idle, until="2999-01-01")) == 2


@pytest.mark.usefixtures("backend")
def test_one_vote_per_person_per_pair_whichever_side_each_take_was_on(idle):
    wide = add_done(idle, PROMPT, aspect_ratio="16:9")
    tall = add_done(idle, PROMPT, aspect_ratio="9:16")
    svc.record_vote(idle, "ana", wide, tall, "a")
    for a, b, choice in ((wide, tall, "a"), (tall, wide, "b"), (wide, tall, "none")):
        with pytest.raises(ParamsError, match=r"ana already voted on this pair .*nothing changed"):
            svc.record_vote(idle, "ana", a, b, choice)
    svc.record_vote(idle, "ben", tall, wide, "a")  # another person: their own vote
    assert sorted((v.voter, v.winner_id) for v in svc.votes(idle)) == [("ana", wide), ("ben", tall)]
    assert svc.review_queue(idle, "ana").pair is None
    assert svc.review_queue(idle, "cleo").pair is not None


@pytest.mark.parametrize(
    "voter,choice,match",
    [
        ("", "a", "Say who you are"),
        ("   ", "a", "Say who you are"),
        (None, "a", "Say who you are"),
        ("x" * 201, "a", "at most 200"),
        ("ana", "left", "A vote is one of a, b, none"),
        ("ana", "", "A vote is one of"),
        ("ana", None, "A vote is one of"),
    ],
)
def test_bad_voters_and_choices_are_refused_and_nothing_is_saved(idle, voter, choice, match):
    wide = add_done(idle, PROMPT, aspect_ratio="16:9")
    tall = add_done(idle, PROMPT, aspect_ratio="9:16")
    with pytest.raises(ParamsError, match=match):
        svc.record_vote(idle, voter, wide, tall, choice)
    assert svc.votes(idle) == []


@pytest.mark.usefixtures("backend")
def test_deleted_unfinished_unrelated_and_identical_takes_cannot_be_voted_on(idle):
    wide = add_done(idle, PROMPT, aspect_ratio="16:9")
    tall = add_done(idle, PROMPT, aspect_ratio="9:16")
    retake = add_done(idle, PROMPT, aspect_ratio="16:9")
    teapot = add_done(idle, "a blue teapot", aspect_ratio="1:1")
    failed = add_done(idle, PROMPT, aspect_ratio="1:1")
    idle.store.update(failed, status="failed", error="the model refused")
    gone = add_done(idle, PROMPT, aspect_ratio="4:3")
    svc.delete_generation(idle, gone)

    cases = [
        ((gone, wide), "Take A .* no longer exists: it was deleted"),
        ((wide, gone), "Take B .* no longer exists"),
        ((wide, failed), "Take B .* is not finished \\(it is failed\\)"),
        ((wide, teapot), "not a review pair"),
        ((wide, retake), "not a review pair"),
        ((wide, wide), "two different takes"),
        ((wide, ""), "Say which take is B"),
    ]
    for (a, b), match in cases:
        with pytest.raises(ParamsError, match=match):
            svc.record_vote(idle, "ana", a, b, "a")
    with pytest.raises(ParamsError, match="restricted to collection, comparison, tag"):
        svc.record_vote(idle, "ana", wide, tall, "a", scope="board:1")
    with pytest.raises(ParamsError, match="Say which tag"):
        svc.record_vote(idle, "ana", wide, tall, "a", scope="tag:  ")
    assert svc.votes(idle) == []
    assert isinstance(ParamsError("x"), StudioError)


@pytest.mark.usefixtures("backend")
def test_votes_survive_deleting_an_unrelated_take_and_a_voted_take(idle):
    wide = add_done(idle, PROMPT, aspect_ratio="16:9")
    tall = add_done(idle, PROMPT, aspect_ratio="9:16")
    square = add_done(idle, PROMPT, aspect_ratio="1:1")
    other = add_done(idle, "a blue teapot")
    first = svc.record_vote(idle, "ana", wide, tall, "b")
    second = svc.record_vote(idle, "ana", square, wide, "a")

    svc.delete_generation(idle, other)
    assert svc.votes(idle) == [second, first]
    svc.delete_generation(idle, tall)
    assert svc.votes(idle) == [second, first]
    assert svc.votes(idle, gen_ids=[tall]) == [first]
    assert first.differed == {"aspect_ratio": ["16:9", "9:16"]} and first.winner_id == tall
    # The queue forgets the pairs of the deleted take; the vote on the pair still there stays counted.
    queue = svc.review_queue(idle, "ana")
    assert (queue.pairs, queue.voted, queue.pair) == (1, 1, None)


# ---------------------------------------------------------------------- scopes


@pytest.mark.usefixtures("backend")
def test_the_queue_can_be_restricted_to_a_collection_a_comparison_or_a_tag(idle):
    grid = _comparison(idle, aspect_ratios=["16:9", "9:16"])
    g1 = add_done(idle, PROMPT, grid_id=grid, aspect_ratio="16:9")
    g2 = add_done(idle, PROMPT, grid_id=grid, aspect_ratio="9:16")
    loose = add_done(idle, PROMPT, aspect_ratio="1:1")
    t1 = add_done(idle, "a teapot", resolution="480p")
    t2 = add_done(idle, "a teapot", resolution="1080p")
    t3 = add_done(idle, "a teapot", resolution="720p")
    svc.set_tags(idle, t1, "Hero, client")
    svc.set_tags(idle, t2, "hero")
    svc.set_tags(idle, t3, "heroic")  # a longer tag is another tag
    board = svc.create_collection(idle, "Picks")
    svc.add_to_collection(idle, board.id, [g1, loose, t1])

    assert svc.review_queue(idle, "ana").pairs == 3 + 3
    comparison = svc.ReviewScope.of("comparison", grid)
    assert _all_pairs(idle, "ana", comparison) == {svc.pair_key(g1, g2)}
    assert _all_pairs(idle, "ben", f"collection:{board.id}") == {svc.pair_key(g1, loose)}
    assert _all_pairs(idle, "cleo", svc.ReviewScope.from_params({"tag": "HERO"})) == {svc.pair_key(t1, t2)}
    assert {v.scope for v in svc.votes(idle)} == {f"comparison:{grid}", f"collection:{board.id}", "tag:HERO"}
    # ana voted in the comparison only: everything else is still hers to judge.
    queue = svc.review_queue(idle, "ana")
    assert (queue.voted, queue.left) == (1, 5)

    with pytest.raises(ParamsError, match="no such collection"):
        svc.review_queue(idle, "ana", "collection:gone")
    with pytest.raises(ParamsError, match="no such comparison"):
        svc.review_queue(idle, "ana", "comparison:gone")
    assert svc.review_queue(idle, "ana", "tag:nobody-uses-this").takes == 0


def test_scopes_read_from_a_link_and_back():
    assert svc.ReviewScope.from_params({}) == svc.ReviewScope()
    scope = svc.ReviewScope.from_params({"collection": " c1 "})
    assert (scope.key, scope.params()) == ("collection:c1", {"collection": "c1"})
    assert svc.ReviewScope.parse(scope.key) == scope
    assert svc.ReviewScope.parse(None).key is None and svc.ReviewScope.parse("").params() == {}
    with pytest.raises(ParamsError, match="Say which comparison"):
        svc.ReviewScope.from_params({"comparison": ""})
    with pytest.raises(ParamsError, match=f"at most {svc.MAX_TAG_CHARS}"):
        svc.ReviewScope.of("tag", "t" * (svc.MAX_TAG_CHARS + 1))


def test_an_empty_voter_gets_no_queue(idle):
    with pytest.raises(ParamsError, match="Say who you are"):
        svc.review_queue(idle, " ")


# ---------------------------------------------------------------------- schema


def test_votes_arrive_on_a_database_with_history(tmp_path):
    "The previous schema (m017) with rows in it: after the upgrade the old takes can be voted on."
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m018_votes")
    assert "votes" not in db.table_names()
    for gen_id, ratio in (("old1", "16:9"), ("old2", "9:16")):
        db.execute(
            "INSERT INTO generations (id, created_at, prompt, status, aspect_ratio, video_path) "
            f"VALUES ('{gen_id}', '2026-01-01T00:00:00+00:00', 'an old sneaker', 'done', '{ratio}', '{gen_id}.mp4')"
        )
    db.execute(
        "INSERT INTO exports (id, selection_kind, selection_ref, kinds, status, created_at) "
        "VALUES ('e1', 'grid', 'g', '[\"zip\"]', 'done', '2026-01-01')"
    )
    db.conn.commit()
    db.close()

    store = HistoryStore(path)
    assert migrations.pending(store.db) == []
    assert store.db["votes"].columns_dict == VOTE_COLUMNS
    assert {tuple(i.columns) for i in store.db.table("votes").indexes} >= {
        ("voter",),
        ("created_at",),
        ("a_id",),
        ("b_id",),
        ("voter", "pair_key"),
    }
    assert store.get("old1") is not None and store.db["exports"].count == 1
    not_null = {c.name for c in store.db["votes"].columns if c.notnull}
    assert not_null == set(VOTE_COLUMNS) - {"id", "winner_id", "scope"}
    store.db.execute(
        "INSERT INTO votes (id, voter, a_id, b_id, pair_key, choice, winner_id, prompt, differed, created_at) "
        "VALUES ('v1', 'ana', 'old1', 'old2', 'old1|old2', 'a', 'old1', 'p', '{}', '2026-01-02')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute(
            "INSERT INTO votes (id, voter, a_id, b_id, pair_key, choice, prompt, differed, created_at) "
            "VALUES ('v2', 'ana', 'old2', 'old1', 'old1|old2', 'none', 'p', '{}', '2026-01-02')"
        )
