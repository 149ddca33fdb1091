"""Draft → final (issue 9 §4): the m020_lineage migration from the previous schema with rows in it,
promote (same prompt and references, target settings, once per launch key), its refusals, the cost
difference, the lineage in both directions with deleted links, and the Gallery's drafts / finals
filter with exact counts."""

from __future__ import annotations

import re
import sqlite3

import pytest
from sqlite_utils import Database
from support import add_done

from studio import costs
from studio import services as svc
from studio.errors import ParamsError
from studio.migrations import known_migrations, migrations
from studio.models import NodeSettings
from studio.store import GalleryQuery, HistoryStore

TARGET = NodeSettings(resolution="1080p", duration="10", aspect_ratio="16:9")


def draft_of(studio, prompt: str = "A red kite over dunes", **params) -> str:
    settings = {"resolution": "480p", "duration": "4", "aspect_ratio": "16:9", **params}
    return add_done(studio, prompt, **settings)


def gen(studio, gen_id: str):
    found = svc.get(studio, gen_id)
    assert found is not None, gen_id
    return found


# ---------------------------------------------------------------------- the migration


def test_migrations_run_in_the_order_of_their_numbers():
    "m020_lineage runs after m018_votes and m019_comments once they land: the file order is the run order."
    numbers = [int(re.match(r"m(\d+)_", name).group(1)) for name in known_migrations()]  # type: ignore[union-attr]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert known_migrations()[-1] == "m020_lineage" or numbers[-1] > 20


def test_lineage_migration_from_the_previous_schema_keeps_rows_and_indexes_draft_id(tmp_path):
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m020_lineage")
    assert "draft_id" not in db["generations"].columns_dict
    for gen_id in ("old1", "old2"):
        db.execute(
            "INSERT INTO generations (id, created_at, prompt, status, resolution, duration, aspect_ratio) "
            f"VALUES ('{gen_id}', '2026-01-01T00:00:00+00:00', 'an old desert kite', 'done', '480p', '4', '16:9')"
        )
    db.conn.commit()
    db.close()

    store = HistoryStore(path)
    assert migrations.pending(store.db) == []
    assert store.db["generations"].columns_dict["draft_id"] is str
    assert any(ix.columns == ["draft_id"] for ix in store.db.table("generations").indexes)
    old = store.get("old1")
    assert old is not None and old.draft_id is None and old.prompt == "an old desert kite"
    store.set_draft("old2", "old1")
    assert [g.id for g in store.finals(["old1"])] == ["old2"]
    assert [g.id for g in store.page(GalleryQuery(stage="finals"))] == ["old2"]
    assert [g.id for g in store.page(GalleryQuery(stage="drafts", text="desert"))] == ["old1"]


# ---------------------------------------------------------------------- promote


@pytest.mark.usefixtures("backend")
def test_promote_queues_a_final_with_the_drafts_prompt_and_references_at_the_target_settings(idle):
    draft_id = draft_of(idle, selected_context={"images": ["img_kite"]}, generate_audio=False)
    final_id = svc.promote(idle, draft_id, TARGET, "ana")
    final = gen(idle, final_id)
    assert final.draft_id == draft_id and final.status == "queued" and final.author == "ana"
    assert final.prompt == "A red kite over dunes" and final.selected_context.images == ["img_kite"]
    assert (final.resolution, final.duration, final.aspect_ratio) == ("1080p", "10", "16:9")
    assert final.generate_audio is True  # the target's audio, as chosen
    assert gen(idle, draft_id).draft_id is None  # the draft is untouched
    assert [v.gen.id for v in svc.queue(idle)] == [final_id]  # the same queue Create uses


@pytest.mark.usefixtures("backend")
def test_a_double_click_launches_one_final_and_a_new_click_another(idle):
    draft_id = draft_of(idle)
    first = svc.promote(idle, draft_id, TARGET, "ana", launch_key="tok1")
    again = svc.promote(idle, draft_id, TARGET, "ana", launch_key="tok1")
    assert again == first and svc.count(idle) == 2
    other = svc.promote(idle, draft_id, {"resolution": "720p", "duration": "8"}, "ana", launch_key="tok2")
    assert other != first and svc.count(idle) == 3
    assert [link.id for link in svc.lineage(idle, draft_id)] == [draft_id, first, other]


def test_the_default_target_is_the_next_resolution_up_same_ratio_ten_seconds(idle):
    draft = gen(idle, draft_of(idle, aspect_ratio="9:16", generate_audio=False))
    target = svc.default_target(draft)
    assert (target.resolution, target.aspect_ratio, target.duration, target.generate_audio) == (
        "720p",
        "9:16",
        "10",
        False,
    )
    top = gen(idle, draft_of(idle, resolution="1080p", duration="10"))
    assert (svc.default_target(top).resolution, svc.default_target(top).duration) == ("1080p", "15")
    assert svc.plan_promotion(idle, top.id, svc.default_target(top)).problem is None


@pytest.mark.parametrize(
    "status,words",
    [
        ("failed", "This take failed, so there is no draft to promote"),
        ("cancelled", "This take was cancelled"),
        ("queued", "still being made; promote it once it is done"),
        ("running", "still being made"),
    ],
)
def test_only_a_finished_take_can_be_promoted(idle, status, words):
    draft_id = draft_of(idle)
    idle.store.update(draft_id, status=status)
    with pytest.raises(ParamsError, match=words):
        svc.promote(idle, draft_id, TARGET, "ana")
    assert svc.count(idle) == 1  # nothing queued


@pytest.mark.parametrize(
    "target,words",
    [
        ({"resolution": "480p", "duration": "4", "aspect_ratio": "16:9"}, "These are the draft's own settings"),
        ({"resolution": "4k"}, "Resolution must be one of 480p, 720p, 1080p"),
        ({"duration": "30"}, "Duration must be auto or a whole number of seconds 4..15"),
        ({"prompt": "something else"}, "A final keeps its draft's prompt and references"),
        ({"selected_context": {"images": ["x"]}}, "can change only model, resolution"),
        ("1080p", "must be a mapping"),
    ],
)
def test_bad_target_settings_say_what_is_wrong(idle, target, words):
    draft_id = draft_of(idle)
    with pytest.raises(ParamsError, match=re.escape(words)):
        svc.promote(idle, draft_id, target, "ana")
    assert svc.plan_promotion(idle, draft_id, target).problem is not None
    assert svc.count(idle) == 1


def test_a_deleted_take_cannot_be_promoted(idle):
    draft_id = draft_of(idle)
    svc.delete_generation(idle, draft_id)
    with pytest.raises(ParamsError, match="it may have been deleted"):
        svc.promote(idle, draft_id, TARGET, "ana")
    with pytest.raises(ParamsError, match="There is no take"):
        svc.promote(idle, "", TARGET, "ana")


# ---------------------------------------------------------------------- what it costs


def test_cost_difference_follows_the_token_model():
    draft = NodeSettings(resolution="480p", duration="4", aspect_ratio="16:9")
    diff = costs.cost_difference(draft, TARGET)
    expected = (1920 * 1080 * 241) / (864 * 496 * 97)  # pixels × frames, 24 per second plus one
    assert diff.ratio == pytest.approx((expected, expected))
    assert diff.describe() == f"480p 4 s → 1080p 10 s: about {round(expected, 1):g}× the tokens"
    rated = costs.cost_difference(draft, TARGET, costs.parse_credit_rates("480p=1,720p=2,1080p=4"))
    assert rated.describe().endswith("(≈ 4 → 40 credits)")
    auto = costs.cost_difference(NodeSettings(resolution="480p", duration="auto", aspect_ratio="16:9"), TARGET)
    per_10s, per_5s = (864 * 496 * 241), (864 * 496 * 121)  # the model makes 5–10 s when it chooses
    assert auto.ratio == pytest.approx((1920 * 1080 * 241 / per_10s, 1920 * 1080 * 241 / per_5s))
    assert auto.describe() == "480p auto length → 1080p 10 s: about 4.8–9.6× the tokens"


def test_the_plan_prices_the_final_and_says_how_long_it_takes(idle):
    draft_id = draft_of(idle)
    plan = svc.plan_promotion(idle, draft_id, TARGET)
    assert plan.problem is None and plan.estimate is not None and plan.estimate.runs == 1
    text = plan.describe()
    assert text.startswith("480p 4 s → 1080p 10 s: about 12× the tokens · ready in about ")


# ---------------------------------------------------------------------- lineage


@pytest.mark.usefixtures("backend")
def test_lineage_runs_both_ways_and_shows_deleted_links(idle):
    a = draft_of(idle)
    b = svc.promote(idle, a, {"resolution": "720p", "duration": "8"}, "ana")
    idle.store.update(b, status="done")
    c = svc.promote(idle, b, TARGET, "ana")
    d = svc.promote(idle, a, TARGET, "bo")
    unrelated = draft_of(idle, "Another take")
    chain = [link.id for link in svc.lineage(idle, b)]
    assert chain == [a, b, c]
    assert [link.id for link in svc.lineage(idle, a)] == [a, b, d, c]
    assert [link.id for link in svc.lineage(idle, unrelated)] == [unrelated]
    assert svc.lineage(idle, "no-such-take") == []

    svc.delete_generation(idle, unrelated)  # deleting an unrelated take changes nothing
    assert [link.id for link in svc.lineage(idle, b)] == [a, b, c]
    idle.store.update(c, status="done")
    svc.delete_generation(idle, a)
    links = svc.lineage(idle, b)
    assert [type(link).__name__ for link in links] == ["DeletedTake", "Generation", "Generation"]
    assert isinstance(links[0], svc.DeletedTake) and links[0].id == a and links[0].label == "a deleted take"
    svc.delete_generation(idle, c)
    links = svc.lineage(idle, b)
    assert [link.id for link in links] == [a, b, c] and isinstance(links[2], svc.DeletedTake)
    assert gen(idle, b).draft_id == a  # the final keeps naming its deleted draft


def test_draft_and_final_pair_is_the_pair_to_play_side_by_side(idle):
    a = draft_of(idle)
    b = svc.promote(idle, a, TARGET, "ana")
    assert svc.draft_and_final(svc.lineage(idle, a), gen(idle, a)) is None  # the final is not made yet
    idle.store.update(b, status="done")
    pair = svc.draft_and_final(svc.lineage(idle, a), gen(idle, a))
    assert pair is not None and [g.id for g in pair] == [a, b]
    pair = svc.draft_and_final(svc.lineage(idle, b), gen(idle, b))
    assert pair is not None and [g.id for g in pair] == [a, b]


# ---------------------------------------------------------------------- the Gallery's drafts / finals filter


@pytest.mark.usefixtures("backend")
def test_the_stage_filter_pages_and_counts_drafts_and_finals_exactly(idle):
    drafts = [draft_of(idle, f"Kite number {i}") for i in range(5)]
    finals = [svc.promote(idle, d, TARGET, "ana") for d in drafts[:3]]
    finals.append(svc.promote(idle, drafts[0], {"resolution": "720p", "duration": "8"}, "ana"))
    for i in range(4):
        draft_of(idle, f"Plain take {i}")
    finals_page = svc.gallery_page(idle, GalleryQuery(stage="finals"), page_size=3, stacked=True)
    assert finals_page.total.n == 4 and finals_page.total.exact and finals_page.pages == 2
    second = svc.gallery_page(idle, GalleryQuery(stage="finals"), 2, page_size=3, stacked=True)
    assert {g.id for g in [*finals_page.gens, *second.gens]} == set(finals)
    drafts_page = svc.gallery_page(idle, GalleryQuery(stage="drafts"), page_size=2)
    assert drafts_page.total.n == 3 and drafts_page.total.exact
    assert svc.count(idle, GalleryQuery(stage="drafts", text="number")) == 3
    assert svc.count(idle, GalleryQuery(stage="drafts", resolution=["1080p"])) == 0
    assert svc.count(idle, GalleryQuery(stage="finals", resolution=["720p"])) == 1
    assert svc.count(idle) == 13


def test_the_stage_filter_is_read_from_the_link(idle):
    assert svc.gallery_query({"stage": "drafts"}).stage == "drafts"
    assert svc.gallery_query({}).stage is None
    with pytest.raises(ParamsError, match="The stage filter takes drafts or finals"):
        svc.gallery_query({"stage": "bogus"})
    assert svc.url_problems({"stage": ["bogus"]}) == ["Ignored stage=bogus: use drafts or finals."]
    assert "drafts/finals" in svc.active_filters(GalleryQuery(stage="finals"))
    assert svc.describe_query(GalleryQuery(stage="finals", resolution=["1080p"])) == "Gallery search: 1080p · finals"
