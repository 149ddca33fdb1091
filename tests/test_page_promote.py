"""AppTest: promoting a draft to a final (issue 9 §4): the Promote dialog from the Gallery detail and
from a Compare cell (target settings, the cost difference before launch, the seed note, Launch),
what it says after launch, the lineage chain on the detail with deleted links, draft and final side
by side, and the Gallery's drafts / finals filter."""

from __future__ import annotations

import json

from support import COMPARE, GALLERY, add_done, open_page, settings_for

from studio import services as svc
from studio import ui
from studio.models import Generation, VideoGenerationParams


def take(studio, gen_id: str) -> Generation:
    found = svc.get(studio, gen_id)
    assert found is not None, gen_id
    return found


def draft_of(studio, prompt: str = "A red kite over dunes", **params) -> str:
    return add_done(studio, prompt, **{"resolution": "480p", "duration": "4", "aspect_ratio": "16:9", **params})


def launch_button(at):
    [button] = [b for b in at.button if b.key and b.key.startswith("promote_launch_")]
    return button


def infos(at) -> list[str]:
    return [i.value for i in at.info]


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def open_promote(studio, draft_id: str):
    "The Gallery detail of the draft, then its Promote button: the detail closes, the dialog opens."
    at = open_page(GALLERY, studio, {"id": draft_id})
    at.button(key=f"detail_promote_{draft_id}").click().run()
    assert not at.exception, at.exception
    assert "id" not in at.query_params  # one dialog at a time
    return at


def test_promote_from_the_gallery_shows_the_cost_difference_and_launches_one_final(idle):
    draft_id = draft_of(idle)
    at = open_promote(idle, draft_id)
    key = f"promote_{draft_id}"
    assert at.selectbox(key=f"{key}_resolution").value == "720p"  # the next resolution up
    assert at.selectbox(key=f"{key}_duration").value == "10"
    assert at.selectbox(key=f"{key}_aspect_ratio").value == "16:9"
    assert [i for i in infos(at) if i.startswith("480p 4 s → 720p 10 s: about 5.3× the tokens · ready in about ")]
    assert svc.SEED_NOTE in captions(at)
    at.selectbox(key=f"{key}_resolution").set_value("1080p").run()
    [line] = [i for i in infos(at) if "→" in i]
    assert line.startswith("480p 4 s → 1080p 10 s: about 12× the tokens · ready in about ")
    launch_button(at).click().run()
    assert not at.exception, at.exception
    [final] = [g for g in svc.history(idle) if g.id != draft_id]
    assert final.draft_id == draft_id and (final.resolution, final.duration) == ("1080p", "10")
    assert final.prompt == take(idle, draft_id).prompt
    [done] = [s.value for s in at.success]
    assert done.startswith("Launched the final (1080p · 16:9 · 10 s · audio). While it runs, the sidebar")
    assert at.session_state[ui.WATCHING_KEY][f"promote:{final.id}"] == [final.id]  # the sidebar watches it
    at.run()  # a refresh launches nothing more
    assert svc.count(idle) == 2
    at.button(key=f"promote_open_{final.id}").click().run()
    assert at.query_params["id"] == final.id and ui.PROMOTE_KEY not in at.session_state
    chain = [m.value for m in at.markdown if m.value in ("**Draft**", "**This take**", "**Final**")]
    assert chain == ["**Draft**", "**This take**"]


def test_settings_equal_to_the_drafts_say_so_and_launch_is_off(idle):
    draft_id = draft_of(idle)
    at = open_promote(idle, draft_id)
    key = f"promote_{draft_id}"
    at.selectbox(key=f"{key}_resolution").set_value("480p")
    at.selectbox(key=f"{key}_duration").set_value("4").run()
    assert any("These are the draft's own settings" in w.value for w in at.warning)
    assert launch_button(at).disabled
    assert svc.count(idle) == 1


def test_a_take_that_failed_or_still_runs_has_no_promote_button(idle):
    failed = draft_of(idle)
    idle.store.update(failed, status="failed", error="boom")
    running = idle.store.add_generation(VideoGenerationParams(prompt="Still going"))
    for gen_id in (failed, running):
        at = open_page(GALLERY, idle, {"id": gen_id})
        assert f"detail_promote_{gen_id}" not in [b.key for b in at.button]


def test_a_draft_deleted_while_the_dialog_is_open_says_so(idle):
    draft_id = draft_of(idle)
    at = open_promote(idle, draft_id)
    svc.delete_generation(idle, draft_id)
    launch_button(at).click().run()
    assert [e.value for e in at.error] == [
        "This take no longer exists: it was deleted, so there is nothing to promote."
    ]
    assert svc.count(idle) == 0


def test_the_detail_shows_the_chain_with_deleted_links_and_draft_beside_final(idle):
    a = draft_of(idle)
    b = svc.promote(idle, a, {"resolution": "720p", "duration": "8"}, "ana")
    idle.store.update(b, status="done", video_path=f"{b}.mp4", thumb_path=f"{b}.jpg", width=1280, height=720)
    c = svc.promote(idle, b, {"resolution": "1080p", "duration": "10"}, "ana")
    at = open_page(GALLERY, idle, {"id": b})
    roles = [m.value for m in at.markdown if m.value in ("**Draft**", "**This take**", "**Final**")]
    assert roles == ["**Draft**", "**This take**", "**Final**"]
    assert "**Draft** · 480p · 16:9 · 4 s · audio → **Final** · 720p · auto ratio · 8 s · audio" in captions(at)
    players = [json.loads(e.proto.json) for e in at.get("bidi_component")]
    [pair] = [p for p in players if [c["label"] for c in p["clips"]] == ["Draft", "Final"]]  # side by side
    assert [c["url"].rsplit("/", 1)[1] for c in pair["clips"]] == [f"{a}.mp4", f"{b}.mp4"]
    assert any("studio-diff-chips" in h.proto.body and "720p" in h.proto.body for h in at.get("html"))
    at.button(key=f"detail_lineage_{b}_open_{a}").click().run()  # a card links to its take
    assert at.query_params["id"] == a
    svc.delete_generation(idle, a)
    idle.store.update(c, status="failed")
    at = open_page(GALLERY, idle, {"id": b})
    assert "🗑️ Draft: a deleted take" in captions(at)
    svc.delete_generation(idle, c)
    at = open_page(GALLERY, idle, {"id": b})
    assert {"🗑️ Draft: a deleted take", "🗑️ Final: a deleted take"} <= set(captions(at))


def test_the_gallery_filters_drafts_and_finals_from_the_link(idle):
    a = draft_of(idle, "Kite draft")
    svc.promote(idle, a, {"resolution": "1080p", "duration": "10"}, "ana")
    draft_of(idle, "Unrelated take")
    shown = lambda at: [t.value for t in at.text]  # noqa: E731
    finals = open_page(GALLERY, idle, {"stage": "finals"})
    assert shown(finals) == ["Kite draft"] and any("final of a draft" in c for c in captions(finals))
    assert "1–1 of 1 · page 1 of 1" in captions(finals)
    drafts = open_page(GALLERY, idle, {"stage": "drafts"})
    assert shown(drafts) == ["Kite draft"] and drafts.selectbox(key="stage").value == "drafts"
    assert "drafts/finals" in drafts.expander[0].label
    everything = open_page(GALLERY, idle)
    assert len(shown(everything)) == 3
    everything.selectbox(key="stage").set_value("finals").run()
    assert shown(everything) == ["Kite draft"] and "1–1 of 1 · page 1 of 1" in captions(everything)
    bad = open_page(GALLERY, idle, {"stage": "bogus"})
    assert any("Ignored stage=bogus" in w.value and "use drafts or finals" in w.value for w in bad.warning)


def test_promote_from_a_compare_cell(idle):
    params = VideoGenerationParams(prompt="A lighthouse in fog", resolution="480p", duration="4", aspect_ratio="16:9")
    grid_id, [cell_id] = idle.store.add_grid(
        prompt=params.prompt, axes={"resolutions": ["480p"], "aspect_ratios": ["16:9"]}, cells=[(params, "480p · 16:9")]
    )
    idle.store.update(cell_id, status="done", video_path=f"{cell_id}.mp4", width=864, height=496, duration_s=4.0)
    at = open_page(COMPARE, idle, {"grid": grid_id})
    at.button(key=f"grid_promote_{cell_id}").click().run()
    assert not at.exception, at.exception
    assert [i for i in infos(at) if i.startswith("480p 4 s → 720p 10 s: about ")]
    launch_button(at).click().run()
    [final] = [g for g in svc.history(idle) if g.id != cell_id]
    assert final.draft_id == cell_id and final.grid_id is None  # a final is not a cell of the comparison
    assert any(s.value.startswith("Launched the final") for s in at.success)


def test_a_final_past_the_daily_cap_is_refused_in_the_dialog_and_nothing_is_queued(clean_sim, tmp_path):
    capped = svc.build_services(settings_for(clean_sim, tmp_path / "capped", cap_person_day=12), start_worker=False)
    try:
        draft_id = draft_of(capped)  # 4 s of today's 12
        at = open_promote(capped, draft_id)
        launch_button(at).click().run()
        [refusal] = [e.value for e in at.error]
        assert refusal.startswith(
            "Your daily cap is 12 s of video; you have used 4 s today and this run would add 10 s"
        )
        assert svc.count(capped) == 1 and not at.success
    finally:
        capped.close()
