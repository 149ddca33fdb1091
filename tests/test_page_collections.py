"""AppTest: collections (boards) in the UI: the picker under a take on Create, Compare and the
Gallery's detail view; the Collections page (the list, one collection and everything it can do);
and the Gallery's filter by collection. On the real entry script with an injected studio."""

from __future__ import annotations

import pytest
import support
from support import COMPARE, CREATE, GALLERY, open_page, players, settings_for

from studio import services as svc
from studio.models import VideoGenerationParams

COLLECTIONS = "pages/collections.py"


@pytest.fixture
def ana_studio(clean_sim, tmp_path):
    "A studio (worker off) whose person is Ana: what `ui.who()` records as owner and adder."
    services = svc.build_services(settings_for(clean_sim, tmp_path / "ana", author="Ana"), start_worker=False)
    yield services
    services.close()


def add_done(studio, prompt: str, *, author: str = "ana", **params) -> str:
    "A finished take (support.add_done) made by ana unless said."
    return support.add_done(studio, prompt, author=author, **params)


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


def test_a_result_on_create_goes_into_a_new_collection_then_again_is_not_an_error(ana_studio):
    idle = ana_studio
    gen_id = add_done(idle, "A fox at dawn")
    at = open_page(CREATE, idle, {"jobs": gen_id})
    key = f"create_pick_{gen_id}"
    pick_new(at, key, "Fox picks")
    assert not at.exception
    [board] = svc.collections(idle)
    assert (board.name, board.owner, board.items) == ("Fox picks", "Ana", 1)
    assert svc.added_by(idle, board.id) == {gen_id: "Ana"}
    assert "Added 1 take to “Fox picks”." in [s.value for s in at.success]
    [link] = [p for p in at.get("page_link") if p.proto.label == "Open the collection"]
    assert (link.proto.page, link.proto.query_string) == ("collections", f"id={board.id}")
    assert "Already in “Fox picks”" in [c.value for c in at.caption]  # the popover says where the take is
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


def test_a_collection_deleted_in_another_tab_is_said_and_nothing_is_added(idle):
    gen_id = add_done(idle, "A fox at dawn")
    board = svc.create_collection(idle, "Soon gone")
    at = open_page(CREATE, idle, {"jobs": gen_id})
    svc.delete_collection(idle, board.id)  # the picker on screen still offers it
    at.button(key=f"create_pick_{gen_id}_add").click().run()
    assert not at.exception
    assert any("no such collection" in e.value and "deleted" in e.value for e in at.error)
    assert svc.collections(idle) == [] and not at.success


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
    # What it shows is more than the link meant: it is not offered to share or export as that search.
    assert any("Sharing and exporting this search are off" in c.value for c in at.caption)
    for key in ("gallery_share_create", "gallery_start"):
        with pytest.raises(KeyError):
            at.button(key=key)


def test_a_gallery_link_naming_nobody_known_shares_and_exports_nothing(idle):
    add_done(idle, "Shot one", author="Ana")
    at = open_page(GALLERY, idle, {"whose": "ana"})  # not "Ana": nobody of that name
    assert any("Nobody called “ana”" in i.value for i in at.info)
    assert any("whose filter" in c.value for c in at.caption)
    with pytest.raises(KeyError):
        at.button(key="gallery_share_create")
    at = open_page(GALLERY, idle, {"whose": "Ana"})
    assert at.button(key="gallery_share_create") and at.button(key="gallery_start")


# ---------------------------------------------------------------------- the Collections page


def board_with(studio, name: str, *prompts: str, owner: str = "ana") -> tuple[str, list[str]]:
    board = svc.create_collection(studio, name, owner=owner)
    ids = [add_done(studio, p) for p in prompts]
    svc.add_to_collection(studio, board.id, ids, added_by="ben")
    return board.id, ids


def test_the_list_shows_each_collection_and_an_empty_studio_says_how_to_start(idle):
    at = open_page(COLLECTIONS, idle)
    assert any("No collections yet" in i.value for i in at.info)
    first, ids = board_with(idle, "Fox picks", "fox one", "fox two")
    second = svc.create_collection(idle, "Empty board", owner="cleo")
    at.run()
    names = [m.value for m in at.markdown if m.value.startswith("**")]
    assert names == ["**Empty board**", "**Fox picks**"]  # the most recently changed first
    captions = [c.value for c in at.caption]
    assert any(c.startswith("2 takes · by ana · updated") for c in captions)
    assert any(c.startswith("0 takes · by cleo · updated") for c in captions)
    assert at.image[0].value == [f"http://localhost:8501/files/{ids[0]}.jpg"]  # the cover: the first finished take
    at.button(key=f"collections_open_{second.id}").click().run()
    assert at.query_params["id"] == second.id and at.title[0].value == "📚 Empty board"
    assert first


def test_a_new_collection_is_made_from_the_form_and_opens(ana_studio):
    idle = ana_studio
    at = open_page(COLLECTIONS, idle)
    at.text_input(key="collections_new_name").set_value("  Friday   review ")
    at.text_area(key="collections_new_description").set_value("What we show the client")
    at.button[0].click().run()  # the form's submit button comes first
    [board] = svc.collections(idle)
    assert (board.name, board.description) == ("Friday review", "What we show the client")
    assert board.owner == "Ana"  # ui.who()
    assert at.query_params["id"] == board.id
    assert at.title[0].value == "📚 Friday review"
    assert any("Created “Friday review”" in s.value for s in at.success)


@pytest.mark.parametrize(("name", "message"), [("", "Give the collection a name"), ("y" * 81, "at most 80")])
def test_a_bad_name_in_the_form_is_said_and_nothing_is_made(idle, name, message):
    at = open_page(COLLECTIONS, idle)
    at.text_input(key="collections_new_name").set_value(name)
    at.button[0].click().run()
    assert any(message in e.value for e in at.error)
    assert svc.collections(idle) == [] and "id" not in at.query_params


def test_one_collection_shows_its_takes_with_settings_and_people(idle):
    board = svc.create_collection(idle, "Fox picks", description="For the client", owner="ana")
    a = add_done(idle, "A fox at dawn", author="dan", resolution="1080p", aspect_ratio="9:16", duration="8")
    b = add_done(idle, "A fox at dusk", author="eve", resolution="480p", generate_audio=False)
    svc.add_to_collection(idle, board.id, [a], added_by="ben")
    svc.add_to_collection(idle, board.id, [b], added_by="cleo")
    model = idle.store.get(a).model
    at = open_page(COLLECTIONS, idle, {"id": board.id})
    assert at.title[0].value == "📚 Fox picks"
    assert "For the client" in [t.value for t in at.text]
    assert [t.value for t in at.text if t.value.startswith("A fox")] == ["A fox at dawn", "A fox at dusk"]
    captions = [c.value for c in at.caption]
    assert captions[0].startswith("Owner: ana · 2 takes · created ")
    assert f"1080p · 9:16 · 8 s · audio · {model}" in captions
    assert f"480p · auto ratio · auto length · no audio · {model}" in captions
    assert any(c.startswith("by dan · added by ben · ") for c in captions)
    assert any(c.startswith("by eve · added by cleo · ") for c in captions)
    assert not at.get("video")  # both play in the collection's review player, in its order
    together = players(at)[f"collection_player_{board.id}"]
    assert [c["url"] for c in together["clips"]] == [f"http://localhost:8501/files/{i}.mp4" for i in (a, b)]
    assert [c["label"] for c in together["clips"]] == [
        "1080p · 9:16 · 8 s · audio (#1)",
        "480p · auto ratio · auto length · no audio (#2)",
    ]
    assert together["dense"] is False
    assert [m.value for m in at.markdown if "badge" in m.value] == [":blue-badge[🖼️ Cover]"]  # on the first


def test_rename_and_describe_and_a_too_long_name_is_said(idle):
    coll_id, _ = board_with(idle, "Fox picks", "fox one")
    at = open_page(COLLECTIONS, idle, {"id": coll_id})
    at.text_input(key=f"collection_name_{coll_id}").set_value("z" * 81)
    at.button(key=f"FormSubmitter:collection_edit_{coll_id}-Save").click().run()
    assert any("at most 80 characters" in e.value for e in at.error)
    assert svc.collection(idle, coll_id).name == "Fox picks"
    at.text_input(key=f"collection_name_{coll_id}").set_value("Finals")
    at.text_area(key=f"collection_description_{coll_id}").set_value("Friday's picks")
    at.button(key=f"FormSubmitter:collection_edit_{coll_id}-Save").click().run()
    found = svc.collection(idle, coll_id)
    assert (found.name, found.description) == ("Finals", "Friday's picks")
    assert at.title[0].value == "📚 Finals"


def test_reorder_remove_and_cover(idle):
    coll_id, (a, b, c) = board_with(idle, "Board", "one", "two", "three")
    at = open_page(COLLECTIONS, idle, {"id": coll_id})
    assert at.button(key=f"collection_first_{a}").disabled and at.button(key=f"collection_last_{c}").disabled
    at.button(key=f"collection_first_{c}").click().run()  # to the front
    assert item_ids(idle, coll_id) == [c, a, b]
    at.button(key=f"collection_down_{c}").click().run()  # one place later
    assert item_ids(idle, coll_id) == [a, c, b]
    at.button(key=f"collection_last_{a}").click().run()  # to the end
    assert item_ids(idle, coll_id) == [c, b, a]
    assert [t.value for t in at.text if t.value in ("one", "two", "three")] == ["three", "two", "one"]
    at.button(key=f"collection_cover_{b}").click().run()
    assert svc.collection(idle, coll_id).cover_id == b and at.button(key=f"collection_cover_{b}").disabled
    at.button(key=f"collection_remove_{b}").click().run()
    assert item_ids(idle, coll_id) == [c, a] and svc.get(idle, b) is not None  # the take stays
    assert svc.collection(idle, coll_id).cover_id is None


def test_delete_needs_the_tick_and_leaves_the_takes(idle):
    coll_id, ids = board_with(idle, "Board", "one", "two")
    at = open_page(COLLECTIONS, idle, {"id": coll_id})
    assert at.button(key=f"collection_delete_{coll_id}").disabled
    at.checkbox(key=f"collection_delete_sure_{coll_id}").check().run()
    at.button(key=f"collection_delete_{coll_id}").click().run()
    assert svc.collections(idle) == [] and all(svc.get(idle, i) is not None for i in ids)
    assert "id" not in at.query_params
    assert any("Deleted the collection “Board”" in s.value for s in at.success)


@pytest.mark.parametrize("coll_id", ["gone1234", ""])
def test_an_unknown_or_deleted_collection_says_so_with_the_way_back(idle, coll_id):
    at = open_page(COLLECTIONS, idle, {"id": coll_id})
    assert any("no such collection" in e.value and "deleted" in e.value for e in at.error)
    at.button(key="collection_gone_back").click().run()
    assert "id" not in at.query_params and at.title[0].value == "📚 Collections"


def test_a_take_deleted_in_the_gallery_leaves_its_collections(idle):
    coll_id, (a, b) = board_with(idle, "Board", "one", "two")
    at = open_page(GALLERY, idle, {"id": a})
    at.checkbox(key=f"detail_delete_sure_{a}").check().run()
    at.button(key=f"detail_delete_{a}").click().run()
    at = open_page(COLLECTIONS, idle, {"id": coll_id})
    assert [t.value for t in at.text if t.value in ("one", "two")] == ["two"]
    assert any(c.value.startswith("Owner: ana · 1 take ·") for c in at.caption)
    assert item_ids(idle, coll_id) == [b]


def test_a_collection_is_shared_and_exported_from_its_page_and_an_empty_one_says_so(idle):
    coll_id, _ = board_with(idle, "Fox picks", "fox one", "fox two")
    key = f"collection_share_{coll_id}"
    at = open_page(COLLECTIONS, idle, {"id": coll_id})
    at.button(key=f"{key}_create").click().run()
    assert not at.exception and not at.error
    [link] = svc.ShareLinks(idle).list()
    assert link.selection == svc.Selection("collection", coll_id)
    assert any("/share/" in c.value for c in at.code)

    empty = svc.create_collection(idle, "Empty board", owner="cleo")
    at = open_page(COLLECTIONS, idle, {"id": empty.id})
    at.button(key=f"collection_export_{empty.id}_start").click().run()
    assert any("Nothing to export: this collection is empty" in e.value.replace("\\", "") for e in at.error)
    assert f"collection_export_{empty.id}_export_id" not in at.session_state
