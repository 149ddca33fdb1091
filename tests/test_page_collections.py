"""AppTest: collections (boards) in the UI: the picker under a take on Create, Compare and the
Gallery's detail view; the Collections page (the list, one collection and everything it can do);
and the Gallery's filter by collection. On the real entry script with an injected studio."""

from __future__ import annotations

from support import COMPARE, CREATE, GALLERY, open_page

from studio import services as svc
from studio.models import VideoGenerationParams

COLLECTIONS = "pages/collections.py"


def add_done(studio, prompt: str, *, author: str = "ana", grid_id: str | None = None, **params) -> str:
    "A finished generation written straight into the history (no worker, no video file)."
    gen_id = studio.store.add_generation(VideoGenerationParams(prompt=prompt, **params), author=author, grid_id=grid_id)
    studio.store.update(
        gen_id,
        status="done",
        video_path=f"{gen_id}.mp4",
        thumb_path=f"{gen_id}.jpg",
        width=1280,
        height=720,
        duration_s=4.0,
        has_audio=1,
        run_id=f"run-{gen_id}",
    )
    return gen_id


def done_grid(studio) -> tuple[str, list[str]]:
    "A 2×2 comparison whose cells are all finished."
    grid_id, ids = svc.start_grid(
        studio,
        VideoGenerationParams(prompt="A lighthouse in fog", duration="4"),
        resolutions=["480p", "720p"],
        aspect_ratios=["16:9", "9:16"],
    )
    for gen_id in ids:
        studio.store.update(gen_id, status="done", video_path=f"{gen_id}.mp4", thumb_path=f"{gen_id}.jpg")
    return grid_id, ids


def pick_new(at, key: str, name: str):
    at.text_input(key=f"{key}_new_name").set_value(name)
    return at.button(key=f"{key}_create").click().run()


def pick_existing(at, key: str, coll_id: str):
    at.selectbox(key=f"{key}_choice").set_value(coll_id)
    return at.button(key=f"{key}_add").click().run()


def item_ids(studio, coll_id: str) -> list[str]:
    return [g.id for g in svc.collection_items(studio, coll_id)]


# ---------------------------------------------------------------------- the picker


def test_a_result_on_create_goes_into_a_new_collection_then_again_is_not_an_error(idle):
    gen_id = add_done(idle, "A fox at dawn")
    at = open_page(CREATE, idle, {"jobs": gen_id})
    key = f"create_pick_{gen_id}"
    pick_new(at, key, "Fox picks")
    assert not at.exception
    [board] = svc.collections(idle)
    assert (board.name, board.owner, board.items) == ("Fox picks", idle.settings.author, 1)
    assert svc.added_by(idle, board.id) == {gen_id: idle.settings.author}
    assert "Added 1 take to “Fox picks”." in [s.value for s in at.success]
    [link] = [p for p in at.get("page_link") if p.proto.label == "Open the collection"]
    assert link.proto.page.endswith("collections") or "collections" in link.proto.page
    pick_existing(at, key, board.id)
    assert not at.exception and not at.error
    assert "“Fox picks” already has it; nothing changed." in [s.value for s in at.success]
    assert item_ids(idle, board.id) == [gen_id]


def test_a_too_long_name_is_refused_where_the_person_is(idle):
    gen_id = add_done(idle, "A fox at dawn")
    at = open_page(CREATE, idle, {"jobs": gen_id})
    pick_new(at, f"create_pick_{gen_id}", "x" * (svc.MAX_COLLECTION_NAME_CHARS + 1))
    assert not at.exception
    assert any("at most 80 characters" in e.value for e in at.error)
    assert svc.collections(idle) == []


def test_a_compare_cell_and_the_whole_comparison_go_into_a_collection(idle):
    grid_id, ids = done_grid(idle)
    board = svc.create_collection(idle, "Lighthouse", owner="ana")
    at = open_page(COMPARE, idle, {"grid": grid_id})
    pick_existing(at, f"grid_pick_{ids[2]}", board.id)
    assert not at.exception
    assert item_ids(idle, board.id) == [ids[2]]
    pick_existing(at, f"compare_pick_all_{grid_id}", board.id)
    assert not at.exception
    assert item_ids(idle, board.id) == [ids[2], ids[0], ids[1], ids[3]]  # the one already in it keeps its place
    assert any("Added 3 takes to “Lighthouse”; 1 already in it." in s.value for s in at.success)
    pick_existing(at, f"compare_pick_all_{grid_id}", board.id)
    assert any("“Lighthouse” already has all 4; nothing changed." in s.value for s in at.success)


def test_the_gallery_detail_adds_its_take(idle):
    gen_id = add_done(idle, "A fox at dawn")
    at = open_page(GALLERY, idle, {"id": gen_id})
    pick_new(at, f"detail_pick_{gen_id}", "From the gallery")
    assert not at.exception
    [board] = svc.collections(idle)
    assert item_ids(idle, board.id) == [gen_id]


# ---------------------------------------------------------------------- the Gallery's filter


def card_texts(at) -> list[str]:
    return [t.value for t in at.text]


def test_the_gallery_filters_by_collection_newest_first(idle):
    a, b, c = (add_done(idle, f"Shot {n}") for n in ("one", "two", "three"))
    board = svc.create_collection(idle, "Picks", owner="ana")
    svc.add_to_collection(idle, board.id, [a, c])  # the collection's order is a, c; the gallery's is newest first
    at = open_page(GALLERY, idle, {"collection": board.id})
    assert at.selectbox(key="collection").value == board.id
    assert card_texts(at) == ["Shot three", "Shot one"]
    assert "collection" in at.expander[0].label
    at.selectbox(key="collection").set_value(None).run()
    assert card_texts(at) == ["Shot three", "Shot two", "Shot one"] and "collection" not in at.query_params
    at.selectbox(key="collection").set_value(board.id).run()  # the pick is in the link, as an id
    assert card_texts(at) == ["Shot three", "Shot one"] and at.query_params["collection"] == board.id
    at.button(key="gallery_clear").click().run()
    assert at.selectbox(key="collection").value is None and "collection" not in at.query_params
    assert card_texts(at) == ["Shot three", "Shot two", "Shot one"] and b


def test_a_gallery_link_to_a_deleted_collection_says_so_and_shows_everything(idle):
    add_done(idle, "Shot one")
    at = open_page(GALLERY, idle, {"collection": "gone1234"})
    assert not at.exception
    assert any("There is no collection “gone1234”" in w.value for w in at.warning)
    assert card_texts(at) == ["Shot one"]
