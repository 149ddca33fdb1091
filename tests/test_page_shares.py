"""AppTest: the Share popover (`ui.share_controls`) on Compare (the comparison), in the Gallery's
detail dialog (one take) and above the Gallery's results (the search as filtered): create a link
with an expiry and the download choice, see its URL once, revoke and regenerate it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from support import COMPARE, GALLERY, add_done, open_page

from studio import services as svc
from studio import ui
from studio.errors import ParamsError
from studio.models import VideoGenerationParams

URL = re.compile(r"http://localhost:8501/share/([A-Za-z0-9_-]{43})")


def add_grid(studio) -> str:
    cells = [
        (VideoGenerationParams(prompt="A paper boat", resolution=r, aspect_ratio="16:9"), f"{r} · 16:9")
        for r in ("480p", "720p")
    ]
    grid_id, ids = studio.store.add_grid(prompt="A paper boat", axes={}, cells=cells)
    for gen_id in ids:
        studio.store.update(gen_id, status="done", video_path=f"{gen_id}.mp4", width=864, height=496, duration_s=4.0)
    return grid_id


def shown_urls(at) -> list[str]:
    return [m.group(0) for c in at.code for m in [URL.search(c.value)] if m]


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_compare_shares_the_comparison(idle):
    grid_id = add_grid(idle)
    at = open_page(COMPARE, idle, {"grid": grid_id})
    assert at.selectbox(key="compare_share_expiry").value == "never"
    assert not shown_urls(at)
    at.selectbox(key="compare_share_expiry").set_value("7d").run()
    at.checkbox(key="compare_share_download").uncheck().run()
    at.button(key="compare_share_create").click().run()
    assert not at.exception
    [url] = shown_urls(at)
    [link] = svc.ShareLinks(idle).list()
    assert link.selection == svc.Selection("grid", grid_id) and not link.allow_download
    assert link.expires_at and abs(
        datetime.fromisoformat(link.expires_at) - datetime.now(UTC) - timedelta(days=7)
    ) < timedelta(minutes=1)
    assert svc.ShareLinks(idle).check(URL.search(url).group(1)).id == link.id  # type: ignore[union-attr]
    assert "Link created" in at.success[0].value
    # The hint is shown as typed, markdown-escaped (a hint such as "_Li8" would otherwise turn italic).
    assert ui.plain(f"…{link.hint}") in captions(at) and "no downloads" in captions(at)


def test_revoke_and_regenerate_from_the_popover(idle):
    grid_id = add_grid(idle)
    at = open_page(COMPARE, idle, {"grid": grid_id})
    at.button(key="compare_share_create").click().run()
    [first] = svc.ShareLinks(idle).list()
    old_token = URL.search(shown_urls(at)[0]).group(1)  # type: ignore[union-attr]
    at.button(key=f"compare_share_regen_{first.id}").click().run()
    assert not at.exception
    [new_url] = shown_urls(at)
    new_token = URL.search(new_url).group(1)  # type: ignore[union-attr]
    assert new_token != old_token and "the old one is dead" in at.success[0].value
    links = svc.ShareLinks(idle)
    assert links.find(old_token).revoked_at and links.check(new_token)
    [live] = [x for x in links.list() if x.revoked_at is None]
    at.button(key=f"compare_share_revoke_{live.id}").click().run()
    assert not shown_urls(at) and "Revoked" in at.success[0].value
    assert all(x.revoked_at for x in svc.ShareLinks(idle).list())
    assert "revoked" in captions(at)
    assert not [b for b in at.button if b.key and b.key.startswith("compare_share_revoke_")]  # dead links: no buttons


def test_only_the_maker_revokes_or_regenerates_a_link(idle):
    grid_id = add_grid(idle)
    links = svc.ShareLinks(idle)
    made = links.create(svc.Selection("grid", grid_id), created_by="Ana")
    at = open_page(COMPARE, idle, {"grid": grid_id})  # somebody else (not Ana) opens the popover
    assert "by Ana" in captions(at)
    assert not [b for b in at.button if b.key and b.key.startswith(("compare_share_revoke_", "compare_share_regen_"))]
    for end in (links.revoke, links.regenerate):
        with pytest.raises(ParamsError, match="Only Ana, who made this link, can revoke or regenerate it"):
            end(made.link.id, by="Ben")
    assert links.check(made.token) and links.revoke(made.link.id, by="Ana").revoked_at


def test_the_detail_dialog_shares_one_take_until_a_date(idle):
    gen_id = add_done(idle, "A red fox in fresh snow")
    at = open_page(GALLERY, idle, {"id": gen_id})
    key = f"detail_share_{gen_id}"
    at.selectbox(key=f"{key}_expiry").set_value("date").run()
    day = datetime.now(UTC).date() + timedelta(days=3)
    at.date_input(key=f"{key}_date").set_value(day).run()
    at.button(key=f"{key}_create").click().run()
    assert not at.exception and len(shown_urls(at)) == 1
    [link] = svc.ShareLinks(idle).list()
    assert link.selection == svc.Selection("generation", gen_id) and link.allow_download
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)  # through the end of that day
    assert link.expires_at == end.isoformat(timespec="microseconds")


def test_the_gallery_shares_the_search_as_filtered(idle):
    add_done(idle, "A red fox in fresh snow", resolution="720p")
    add_done(idle, "An owl at dusk", resolution="720p")
    at = open_page(GALLERY, idle, {"q": "fox", "resolution": "720p"})
    at.button(key="gallery_share_create").click().run()
    assert not at.exception and len(shown_urls(at)) == 1
    [link] = svc.ShareLinks(idle).list()
    assert link.selection.kind == "query"
    assert link.selection.query() == svc.GalleryQuery(text="fox", resolution=["720p"])
    assert [g.prompt for g in svc.resolve(idle, link.selection).items] == ["A red fox in fresh snow"]


def test_sharing_a_take_deleted_meanwhile_makes_no_link_and_says_so(idle):
    gen_id = add_done(idle, "A red fox in fresh snow")
    at = open_page(GALLERY, idle, {"id": gen_id})
    idle.store.delete(gen_id)  # in another tab
    at.button(key=f"detail_share_{gen_id}_create").click().run()
    assert not at.exception
    assert any("it may have been deleted" in e.value for e in at.error)
    assert svc.ShareLinks(idle).list() == []
