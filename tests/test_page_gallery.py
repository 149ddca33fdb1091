"""AppTest: the Gallery page (cards, paging, search and filters in the URL, the detail dialog and
everything it can do), on the real entry script with an injected studio."""

from __future__ import annotations

import re
from datetime import date

import pytest
from support import GALLERY, add_done, open_page, players, wait_until

from studio import services as svc
from studio.models import Generation, VideoGenerationParams


def found(studio, gen_id: str) -> Generation:
    "The generation, which the test expects to exist."
    gen = svc.get(studio, gen_id)
    assert gen is not None, gen_id
    return gen


def thumbs(at) -> list[str]:
    "The thumbnails on the page (each a poster of a hover-preview video), in order."
    bodies = [h.proto.body for h in at.get("html")]
    return [m.group(1) for b in bodies if (m := re.search(r'class="studio-hover" poster="([^"]+)"', b))]


def texts(at) -> list[str]:
    return [t.value for t in at.text]


def warnings(at) -> str:
    return "\n".join(w.value for w in at.warning)


def test_empty_gallery_points_to_create(idle):
    at = open_page(GALLERY, idle)
    assert not at.exception
    assert "No videos yet" in at.info[0].value
    assert [link.value for link in at.page_link] == ["Go to Create"]
    assert not thumbs(at)


def test_cards_are_newest_first_and_paged_by_24(idle):
    ids = [add_done(idle, f"Shot number {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00") for i in range(30)]
    at = open_page(GALLERY, idle)
    assert not at.exception
    assert texts(at)[:2] == ["Shot number 29", "Shot number 28"] and len(texts(at)) == 24
    assert thumbs(at)[0] == f"http://localhost:8501/files/{ids[29]}.jpg"
    assert "1–24 of 30 · page 1 of 2" in [c.value for c in at.caption]
    assert at.button(key="gallery_prev_top").disabled
    at.button(key="gallery_next_bottom").click().run()
    assert texts(at) == [f"Shot number {i}" for i in range(5, -1, -1)]
    assert "25–30 of 30 · page 2 of 2" in [c.value for c in at.caption]
    assert at.button(key="gallery_next_top").disabled
    at.text_input(key="q").set_value("number").run()  # a new search starts again at page 1
    assert texts(at)[0] == "Shot number 29"


def test_the_page_number_is_in_the_link_so_a_reload_stays_on_it(idle):
    for i in range(30):
        add_done(idle, f"Shot number {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00")
    at = open_page(GALLERY, idle)
    assert "page" not in at.query_params
    at.button(key="gallery_next_top").click().run()
    assert at.query_params["page"] == "2"
    reloaded = open_page(GALLERY, idle, {"page": "2"})  # a reload, or the link sent to someone
    assert texts(reloaded)[0] == "Shot number 5" and "25–30 of 30 · page 2 of 2" in [c.value for c in reloaded.caption]
    reloaded.button(key="gallery_prev_top").click().run()
    assert "page" not in reloaded.query_params and texts(reloaded)[0] == "Shot number 29"
    past_the_end = open_page(GALLERY, idle, {"page": "9"})
    assert texts(past_the_end)[0] == "Shot number 5" and past_the_end.query_params["page"] == "2"
    bad = open_page(GALLERY, idle, {"page": "two"})
    assert texts(bad)[0] == "Shot number 29" and "Ignored page=two" in bad.warning[0].value


def test_the_filters_fold_away_and_say_which_are_on(idle):
    add_done(idle, "A zebra", resolution="720p")
    at = open_page(GALLERY, idle)
    (panel,) = [e for e in at.expander if e.label.startswith("Filters")]  # beside it: the export controls
    assert panel.label == "Filters" and not panel.proto.expanded
    at = open_page(GALLERY, idle, {"resolution": "720p", "starred": "true"})
    assert at.expander[0].label == "Filters · 2 on: resolution, starred"


def test_search_and_each_filter_narrow_the_cards(idle):
    zebra = add_done(
        idle,
        "A zebra crossing a neon bridge",
        resolution="720p",
        aspect_ratio="16:9",
        duration="4",
        created_at="2026-11-02T09:00:00+00:00",
    )
    fox = add_done(
        idle,
        "A red fox in fresh snow",
        resolution="1080p",
        aspect_ratio="9:16",
        generate_audio=False,
        created_at="2026-11-05T09:00:00+00:00",
    )
    svc.set_starred(idle, fox, True)
    svc.set_tags(idle, zebra, "stripes, client A")
    at = open_page(GALLERY, idle)
    assert texts(at) == ["A red fox in fresh snow", "A zebra crossing a neon bridge"]
    at.text_input(key="q").set_value("zeb").run()
    assert texts(at) == ["A zebra crossing a neon bridge"]
    at.text_input(key="q").set_value("stripes").run()  # tags are searched too
    assert texts(at) == ["A zebra crossing a neon bridge"]
    at.text_input(key="q").set_value('c++ "zebra AND (').run()  # search syntax in input is plain text
    assert not at.exception and "Nothing matches this search" in at.info[0].value
    at.text_input(key="q").set_value("").run()
    cases = [
        ("multiselect", "resolution", ["1080p"], fox),
        ("multiselect", "aspect_ratio", ["16:9"], zebra),
        ("multiselect", "duration", ["4"], zebra),
        ("selectbox", "audio", "off", fox),
        ("checkbox", "starred", True, fox),
    ]
    for kind, key, value, expected in cases:
        getattr(at, kind)(key=key).set_value(value).run()
        assert [b.key for b in at.button if b.key.startswith("gallery_open_")] == [f"gallery_open_{expected}"], key
        at.button(key="gallery_clear").click().run()
        assert len(texts(at)) == 2, key
    at.date_input(key="since").set_value(date(2026, 11, 3)).run()
    assert texts(at) == ["A red fox in fresh snow"]
    at.date_input(key="until").set_value(date(2026, 11, 2)).run()
    assert "nothing can match" in warnings(at)
    assert "Nothing matches this search" in at.info[0].value
    at.button(key="gallery_clear").click().run()
    at.text_input(key="author").set_value("Nobody").run()
    assert not texts(at)


def test_a_bookmarked_url_prefills_the_widgets(idle):
    add_done(idle, "A zebra crossing a neon bridge", resolution="720p")
    add_done(idle, "A zebra on a 1080p beach", resolution="1080p")
    at = open_page(GALLERY, idle, {"q": "zebra", "resolution": "720p", "status": "done"})
    assert not at.exception
    assert at.text_input(key="q").value == "zebra"
    assert at.multiselect(key="resolution").value == ["720p"]
    assert at.multiselect(key="status").value == ["done"]
    assert texts(at) == ["A zebra crossing a neon bridge"]
    assert not at.warning


def test_invalid_url_values_are_named_and_the_rest_still_applies(idle):
    add_done(idle, "A zebra crossing a neon bridge", resolution="720p")
    add_done(idle, "A zebra at 480p", resolution="480p")
    at = open_page(
        GALLERY, idle, {"resolution": ["4k", "720p"], "audio": "maybe", "since": "yesterday", "colour": "red"}
    )
    assert not at.exception
    text = warnings(at).replace("\\", "")
    assert "Ignored resolution=4k: use 480p, 720p or 1080p." in text
    assert "Ignored audio=maybe: use on or off." in text
    assert "Ignored since=yesterday: use a date like" in text
    assert "Ignored colour=red: the gallery has no such filter" in text
    assert at.multiselect(key="resolution").value == ["720p"]
    assert texts(at) == ["A zebra crossing a neon bridge"]
    at.run()  # the message stays after a rerun (Streamlit has dropped the values from the URL)...
    assert "resolution=4k" in warnings(at)
    at.button(key="gallery_dismiss_notices").click().run()  # ...until dismissed
    assert not at.warning


def test_an_unknown_id_says_so_and_shows_the_gallery(idle):
    add_done(idle, "A zebra crossing a neon bridge")
    at = open_page(GALLERY, idle, {"id": "nosuchthing"})
    assert not at.exception
    assert "no generation with id “nosuchthing”" in at.error[0].value
    assert texts(at) == ["A zebra crossing a neon bridge"]
    at.button(key="gallery_unknown_ok").click().run()
    assert not at.error and "id" not in at.query_params


def test_detail_shows_video_prompt_settings_timings_ids_and_file_facts(studio):
    prompt = "A zebra crossing a neon bridge, *not markdown* <b>nor html</b>"
    gen = svc.wait_for(studio, svc.generate(studio, VideoGenerationParams(prompt=prompt, duration="4")), timeout=60)[0]
    assert gen.status == "done"
    at = open_page(GALLERY, studio)
    at.button(key=f"gallery_open_{gen.id}").click().run()
    assert not at.exception
    assert at.query_params["id"] == gen.id
    [clip] = players(at)[f"detail_player_{gen.id}"]["clips"]  # the review player, with its comments' markers
    assert clip["url"] == f"http://localhost:8501/files/{gen.video_path}"
    assert at.code[0].value == prompt  # plain text, exactly as written
    facts = "\n".join(m.value for m in at.markdown).replace("\\", "")
    for expected in (
        "**Resolution:** 720p",
        "**Duration:** 4 s",
        f"**Video size:** {gen.width}×{gen.height}",
        f"**Run:** {gen.run_id}",
        f"**Agent:** {gen.agent_id}",
        f"**SHA-256:** {gen.sha256}",
        f"({gen.file_size:,} bytes)",
        "**Time taken:**",
        "**Finished:** 20",
    ):
        assert expected in facts, expected
    assert gen.render_id is None or f"**Render:** {gen.render_id}" in facts
    assert "There is no other finished generation to compare this one with yet." in [c.value for c in at.caption]


def test_star_rating_tags_and_notes_are_saved_and_bad_tags_keep_the_text(idle):
    gen_id = add_done(idle, "A zebra crossing a neon bridge")
    at = open_page(GALLERY, idle, {"id": gen_id})
    at.toggle(key=f"detail_star_{gen_id}").set_value(True).run()
    at.feedback(key=f"detail_rating_{gen_id}").set_value(3).run()
    at.text_input(key=f"detail_tags_{gen_id}").set_value("hero, client A")
    at.text_area(key=f"detail_notes_{gen_id}").set_value("Use for the launch")
    at.button(key=f"detail_save_{gen_id}").click().run()
    gen = found(idle, gen_id)
    assert (gen.starred, gen.rating, gen.tag_list, gen.notes) == (True, 4, ["hero", "client A"], "Use for the launch")
    assert "Tags and notes saved." in [s.value for s in at.success]
    too_long = "x" * (svc.MAX_TAG_CHARS + 1)
    at.text_input(key=f"detail_tags_{gen_id}").set_value(f"hero, {too_long}")
    at.button(key=f"detail_save_{gen_id}").click().run()
    assert f"at most {svc.MAX_TAG_CHARS} characters" in at.error[0].value
    assert at.text_input(key=f"detail_tags_{gen_id}").value == f"hero, {too_long}"
    assert found(idle, gen_id).tag_list == ["hero", "client A"]


@pytest.mark.parametrize("keep", ["prompt", "settings"])
def test_open_as_new_draft_fills_create(idle, keep):
    gen_id = add_done(idle, "A zebra crossing a neon bridge", resolution="1080p", aspect_ratio="9:16")
    at = open_page(GALLERY, idle, {"id": gen_id})
    at.radio(key=f"detail_keep_{gen_id}").set_value(keep).run()
    at.button(key=f"detail_draft_{gen_id}").click().run()
    assert not at.exception
    assert at.title[0].value == "Create"
    expected = ("A zebra crossing a neon bridge", "720p") if keep == "prompt" else ("", "1080p")
    assert (at.text_area(key="create_prompt").value, at.radio(key="create_resolution").value) == expected


def test_api_request_snippet_in_curl_or_python_for_either_flow_with_a_placeholder_key(studio):
    gen_id = studio.store.add_generation(VideoGenerationParams(prompt="A zebra", resolution="480p"))
    studio.runner.cancel(gen_id)
    at = open_page(GALLERY, studio, {"id": gen_id})
    curl = at.code[-1].value
    assert curl.startswith("#!/usr/bin/env bash") and '"resolution": "480p"' in curl and "update_params" in curl
    at.radio(key=f"detail_flow_{gen_id}").set_value("three_call").run()
    three = at.code[-1].value
    assert "update_params" not in three and "/agent/$AGENT_ID/update" in three
    at.radio(key=f"detail_lang_{gen_id}").set_value("python").run()
    python = at.code[-1].value
    assert "import httpx" in python and '"resolution": "480p"' in python and "pprint" not in python
    assert at.code[-1].language == "python"
    for snippet in (curl, three, python):
        assert "mk_your_api_key" in snippet and studio.settings.key not in snippet


def test_delete_needs_confirmation_and_removes_file_and_row(studio):
    gen = svc.wait_for(
        studio, svc.generate(studio, VideoGenerationParams(prompt="A doomed take", duration="4")), timeout=60
    )[0]
    video = studio.media_path(gen.video_path)
    assert video.exists()
    at = open_page(GALLERY, studio, {"id": gen.id})
    assert at.button(key=f"detail_delete_{gen.id}").disabled
    at.checkbox(key=f"detail_delete_sure_{gen.id}").check().run()
    at.button(key=f"detail_delete_{gen.id}").click().run()
    assert not at.exception
    assert svc.get(studio, gen.id) is None and not video.exists()
    assert "id" not in at.query_params
    assert "Deleted" in at.toast[0].value
    assert "No videos yet" in at.info[0].value


def test_a_running_generation_cannot_be_deleted_but_can_be_cancelled(idle):
    gen_id = idle.store.add_generation(VideoGenerationParams(prompt="Still cooking"))
    at = open_page(GALLERY, idle, {"id": gen_id})
    assert any("still running, so it can't be deleted" in i.value for i in at.info)
    assert f"detail_delete_{gen_id}" not in [b.key for b in at.button]
    assert at.get("progress")  # the card shows progress instead of a thumbnail
    at.button(key=f"detail_cancel_{gen_id}").click().run()
    assert found(idle, gen_id).status == "cancelled"
    assert f"detail_retry_{gen_id}" in [b.key for b in at.button]


def test_grid_cells_link_to_their_comparison_and_to_an_ab_view(idle):
    grid_id, (a, b) = idle.store.add_grid(
        prompt="A zebra",
        axes={"resolutions": ["480p", "720p"]},
        cells=[(VideoGenerationParams(prompt="A zebra", resolution=r), r) for r in ("480p", "720p")],
    )
    for gen_id in (a, b):
        idle.store.update(gen_id, status="done", width=640, height=480, duration_s=4.0, has_audio=0)
    add_done(idle, "Unrelated")
    at = open_page(GALLERY, idle, {"id": a})
    [link] = [link for link in at.page_link if "comparison" in link.value]
    assert link.proto.page.endswith("compare") and f"grid={grid_id}" in link.proto.query_string
    at.button(key=f"detail_grid_{a}").click().run()
    assert at.text_input(key="grid_id").value == grid_id
    assert sorted(b.key for b in at.button if b.key.startswith("gallery_open_")) == sorted(
        [f"gallery_open_{a}", f"gallery_open_{b}"]
    )
    at.button(key=f"gallery_open_{a}").click().run()
    at.selectbox(key=f"detail_ab_{a}").set_value(b).run()
    at.button(key=f"detail_compare_{a}").click().run()
    assert not at.exception
    assert at.title[0].value.endswith("Compare") and at.query_params == {"a": a, "b": b}
    assert "A/B" in [h.value for h in at.subheader] and not at.error


def test_cards_follow_a_running_generation_until_its_thumbnail_shows(idle):
    gen_id = svc.generate(idle, VideoGenerationParams(prompt="A slow sunrise", duration="4"))[0]
    at = open_page(GALLERY, idle)
    assert at.get("progress")[0].proto.text.startswith("⏳ waiting to start · ") and not thumbs(at)
    idle.runner.start()  # the worker picks the job up while the page keeps rerunning
    wait_until(at, lambda at: bool(thumbs(at)), timeout=60)
    assert thumbs(at)[0] == f"http://localhost:8501/files/{found(idle, gen_id).thumb_path}"
    assert not at.get("progress") and texts(at) == ["A slow sunrise"]


def test_a_count_that_stops_says_at_least_and_the_pager_still_offers_next(idle):
    for i in range(30):
        add_done(idle, f"Shot number {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00", resolution="720p")
    idle.store.count_bound = 25  # counts stop at 25 past the first page, at 50 past the second
    at = open_page(GALLERY, idle)
    assert "1–24 of 25+ · page 1 of 2+" in [c.value for c in at.caption]
    at.button(key="gallery_next_top").click().run()
    assert "25–30 of 30 · page 2 of 2" in [c.value for c in at.caption]  # a short page ends the count
    # A search plus a filter reads rows to count; out of steps at once, it only knows the page.
    idle.store.count_steps = 1
    at = open_page(GALLERY, idle, {"q": "number", "resolution": "720p"})
    assert "1–24 of 24+ · page 1 of 1+" in [c.value for c in at.caption]
    assert not at.button(key="gallery_next_top").disabled
    at.button(key="gallery_next_top").click().run()
    assert texts(at) == [f"Shot number {i}" for i in range(5, -1, -1)]
    assert "25–30 of 30 · page 2 of 2" in [c.value for c in at.caption]


# ---------------------------------------------------------------------- many at once, stacked comparisons


def add_grid_done(
    studio, prompt: str, resolutions=("480p", "720p"), ratios=("16:9", "9:16", "1:1")
) -> tuple[str, list]:
    "A finished comparison (every cell done, with file names), written straight into the history."
    cells = [
        (VideoGenerationParams(prompt=prompt, resolution=r, aspect_ratio=a), f"{r} · {a}")
        for r in resolutions
        for a in ratios
    ]
    axes = {"resolutions": list(resolutions), "aspect_ratios": list(ratios)}
    grid_id, ids = studio.store.add_grid(prompt=prompt, axes=axes, cells=cells, name="")
    for gen_id in ids:
        studio.store.update(gen_id, status="done", video_path=f"{gen_id}.mp4", thumb_path=f"{gen_id}.jpg")
    return grid_id, ids


def tick(at, gen_id: str):
    return at.checkbox(key=f"gallery_pick_{gen_id}").check().run()


def bar(at) -> str:
    return "\n".join(m.value for m in at.markdown if "selected" in m.value)


def test_ticked_cards_are_starred_tagged_untagged_together_and_the_count_shows(idle):
    ids = [add_done(idle, f"Shot {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00") for i in range(5)]
    at = open_page(GALLERY, idle)
    assert "gallery_bulk_star" not in [b.key for b in at.button]  # nothing selected: no actions yet
    for gen_id in ids[:3]:
        tick(at, gen_id)
    assert "3 takes selected" in bar(at)
    at.button(key="gallery_bulk_star").click().run()
    assert [found(idle, i).starred for i in ids] == [True, True, True, False, False]
    assert any("Starred 3 takes" in s.value for s in at.success)
    at.text_input(key="gallery_bulk_tag").set_value("client A").run()
    at.button(key="gallery_bulk_tag_add").click().run()
    assert [found(idle, i).tags for i in ids] == ["client A"] * 3 + [None, None]
    at.text_input(key="gallery_bulk_tag").set_value("client A").run()
    at.button(key="gallery_bulk_tag_remove").click().run()
    assert [found(idle, i).tags for i in ids] == [None] * 5
    at.button(key="gallery_bulk_unstar").click().run()
    assert not any(found(idle, i).starred for i in ids)
    at.button(key="gallery_bulk_tag_add").click().run()  # no tag typed: said where the bar is
    assert any("Type one tag" in e.value for e in at.error)


def test_bulk_delete_needs_confirmation_says_how_many_and_touches_nothing_else(studio):
    ids = [add_done(studio, f"Shot {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00") for i in range(4)]
    for gen_id in ids:
        for name in (f"{gen_id}.mp4", f"{gen_id}.jpg"):
            studio.media_path(name).write_bytes(b"x")
    at = open_page(GALLERY, studio)
    tick(at, ids[0])
    tick(at, ids[1])
    assert at.button(key="gallery_bulk_delete").disabled
    assert at.button(key="gallery_bulk_delete").label == "Delete 2 takes"
    assert "delete these 2 takes" in at.checkbox(key="gallery_bulk_sure").label
    at.checkbox(key="gallery_bulk_sure").check().run()
    at.button(key="gallery_bulk_delete").click().run()
    assert [svc.get(studio, i) is None for i in ids] == [True, True, False, False]
    assert not studio.media_path(f"{ids[0]}.mp4").exists() and studio.media_path(f"{ids[2]}.mp4").exists()
    assert any("Deleted 2 takes" in s.value for s in at.success)
    assert "selected" not in bar(at) and texts(at) == ["Shot 3", "Shot 2"]


def test_the_selection_survives_paging_and_select_all_and_clear(idle):
    ids = [add_done(idle, f"Shot {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00") for i in range(30)]
    at = open_page(GALLERY, idle)
    tick(at, ids[29])
    at.button(key="gallery_next_top").click().run()
    tick(at, ids[0])
    assert "2 takes selected" in bar(at)
    at.button(key="gallery_prev_top").click().run()
    assert at.checkbox(key=f"gallery_pick_{ids[29]}").value and not at.checkbox(key=f"gallery_pick_{ids[28]}").value
    at.button(key="gallery_select_page").click().run()
    assert "25 takes selected" in bar(at)  # the 24 here and the one on page 2
    assert all(at.checkbox(key=f"gallery_pick_{i}").value for i in ids[6:])
    at.button(key="gallery_bulk_star").click().run()
    assert sum(found(idle, i).starred for i in ids) == 25
    at.button(key="gallery_select_clear").click().run()
    assert "selected" not in bar(at) and not any(c.value for c in at.checkbox if c.key.startswith("gallery_pick_"))


def test_a_comparison_is_one_stacked_card_that_opens_into_its_cells_and_back(idle):
    before = add_done(idle, "A single before")
    grid_id, cells = add_grid_done(idle, "A kite over the sea")
    after = add_done(idle, "A single after")
    at = open_page(GALLERY, idle)
    assert texts(at) == ["A single after", "A kite over the sea", "A single before"]
    assert "1–3 of 3 · page 1 of 1" in [c.value for c in at.caption]
    assert "🔀 Comparison · 6 cells · 480p/720p × 16:9/9:16/1:1" in [c.value for c in at.caption]
    assert f"gallery_open_{cells[0]}" not in [b.key for b in at.button]
    at.button(key=f"gallery_open_stack_{grid_id}").click().run()
    assert at.text_input(key="grid_id").value == grid_id
    assert sorted(b.key for b in at.button if b.key.startswith("gallery_open_")) == sorted(
        f"gallery_open_{c}" for c in cells
    )
    assert "1–6 of 6 · page 1 of 1" in [c.value for c in at.caption]
    at.button(key="gallery_back").click().run()
    assert at.text_input(key="grid_id").value == "" and len(texts(at)) == 3
    assert {before, after} <= {b.key.removeprefix("gallery_open_") for b in at.button}


def test_filters_apply_to_cells_and_the_stack_says_how_many_match(idle):
    grid_id, cells = add_grid_done(idle, "A kite over the sea")
    add_done(idle, "A single", resolution="480p")
    at = open_page(GALLERY, idle, {"resolution": "720p"})
    assert texts(at) == ["A kite over the sea"]
    assert "🔀 Comparison · 6 cells · 480p/720p × 16:9/9:16/1:1 · 3 match" in [c.value for c in at.caption]
    assert at.button(key=f"gallery_open_stack_{grid_id}").label == "Open its 3 cells"
    at.button(key=f"gallery_open_stack_{grid_id}").click().run()
    assert sorted(b.key for b in at.button if b.key.startswith("gallery_open_")) == sorted(
        f"gallery_open_{c}" for c in cells if found(idle, c).resolution == "720p"
    )
    assert "1–3 of 3 · page 1 of 1" in [c.value for c in at.caption]
    none = open_page(GALLERY, idle, {"q": "zebra"})
    assert not texts(none) and "Nothing matches" in none.info[0].value


def test_stacked_paging_counts_a_comparison_once_across_pages(idle):
    expected = []
    for i in range(30):
        if i % 3 == 0:
            add_grid_done(idle, f"Grid {i}", resolutions=("480p", "720p"), ratios=("16:9",))
            expected.append(f"Grid {i}")
        else:
            add_done(idle, f"Single {i}")
            expected.append(f"Single {i}")
    expected.reverse()
    at = open_page(GALLERY, idle)  # 30 items on the gallery (10 comparisons of 2 cells, 20 singles): 40 takes
    assert "1–24 of 30 · page 1 of 2" in [c.value for c in at.caption]
    assert texts(at) == expected[:24]
    at.button(key="gallery_next_top").click().run()
    assert texts(at) == expected[24:] and "25–30 of 30 · page 2 of 2" in [c.value for c in at.caption]


def test_ticking_a_stack_selects_all_its_cells(idle):
    grid_id, cells = add_grid_done(idle, "A kite over the sea")
    at = open_page(GALLERY, idle)
    at.checkbox(key=f"gallery_pick_grid_{grid_id}").check().run()
    assert "6 takes selected" in bar(at)
    at.button(key="gallery_bulk_star").click().run()
    assert all(found(idle, c).starred for c in cells)


def test_thumbnails_preview_on_hover_without_loading_first(idle):
    gen_id = add_done(idle, "A zebra")
    at = open_page(GALLERY, idle)
    [thumb] = [h.proto.body for h in at.get("html") if "studio-hover" in h.proto.body and "<video" in h.proto.body]
    assert f'src="http://localhost:8501/files/{gen_id}.mp4"' in thumb
    assert 'preload="none"' in thumb and " muted " in thumb and " playsinline " in thumb
    [script] = [h.proto for h in at.get("html") if "__studioHover" in h.proto.body]
    assert script.unsafe_allow_javascript and "mouseenter" in script.body and "mouseleave" in script.body


def test_ticked_cards_go_into_a_collection_together(idle):
    ids = [add_done(idle, f"Shot {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00") for i in range(3)]
    at = open_page(GALLERY, idle)
    tick(at, ids[0])
    tick(at, ids[2])
    at.text_input(key="gallery_bulk_collection_new_name").set_value("Client picks").run()
    at.button(key="gallery_bulk_collection_create").click().run()
    [coll] = svc.collections(idle)
    assert coll.name == "Client picks" and [g.id for g in svc.collection_items(idle, coll.id)] == [ids[0], ids[2]]


def test_ticked_cards_are_exported_as_a_set_of_takes(idle):
    ids = [add_done(idle, f"Shot {i}", created_at=f"2026-11-01T10:{i:02d}:00+00:00") for i in range(3)]
    at = open_page(GALLERY, idle)
    tick(at, ids[2])
    tick(at, ids[0])
    assert at.expander(key="gallery_bulk_export_export").label == "Export these takes"
    at.button(key="gallery_bulk_export_start").click().run()
    job = svc.export_job(idle, at.session_state["gallery_bulk_export_export_id"])
    assert job is not None and job.selection == svc.Selection.of_takes([ids[2], ids[0]])
