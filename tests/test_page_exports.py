"""AppTest: the export controls on Compare (the comparison) and the Gallery (the current search),
and the Exports list on Status."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from support import COMPARE, GALLERY, STATUS, open_page, wait_until

from studio import services as svc
from studio.models import VideoGenerationParams
from studio.services import exports as export_jobs
from studio.store import utcnow


@pytest.fixture(autouse=True)
def export_workers_stopped():
    "Each test's export worker goes with its studio."
    yield
    svc.stop_export_workers()


def small_grid(services) -> str:
    grid_id, ids = svc.start_grid(
        services,
        VideoGenerationParams(prompt="A lighthouse at dusk", duration="4"),
        resolutions=["480p"],
        aspect_ratios=["16:9", "9:16"],
    )
    assert all(g.status == "done" for g in svc.wait_for(services, ids, timeout=60))
    return grid_id


def texts(at: AppTest, kind: str) -> list[str]:
    return [e.value.replace("\\", "") for e in getattr(at, kind)]  # markdown escapes dropped


def links(at: AppTest) -> str:
    return " ".join(h.proto.body for h in at.get("html"))


def test_compare_exports_the_comparison_with_its_video(studio):
    grid_id = small_grid(studio)
    at = open_page(COMPARE, studio, {"grid": grid_id})
    assert at.checkbox(key="compare_grid_kind_zip").value is True
    at.checkbox(key="compare_grid_kind_sheet").check()
    at.checkbox(key="compare_grid_kind_video").check()
    at.button(key="compare_grid_start").click().run()
    assert not at.error, texts(at, "error")
    export_id = at.session_state["compare_grid_export_id"]
    # While it is built, a progress bar says so (and the page goes on: nothing waited for it).
    bars = [b.proto.text for b in at.get("progress") if "cells done" not in b.proto.text]
    assert len(bars) == 1 and bars[0].startswith(
        ("Waiting to start (ZIP + contact sheet + comparison video)", "Building ")
    )
    wait_until(at, lambda a: any("Ready" in t for t in texts(a, "success")), timeout=200)
    job = svc.export_job(studio, export_id)
    assert job is not None and job.status == "done" and len(job.files) == 3
    shown = links(at)
    for name in job.files:
        assert f'href="/exports/{export_id}/{name}"' in shown
    assert job.created_by == studio.settings.author


def test_the_gallery_exports_its_search_and_says_when_nothing_matches(studio):
    small_grid(studio)
    at = open_page(GALLERY, studio, {"q": "zzqxnomatch"})
    with pytest.raises(KeyError):
        at.checkbox(key="gallery_kind_video")  # a search is no comparison
    at.button(key="gallery_start").click().run()
    assert any("Nothing to export: no take matches this search" in t for t in texts(at, "error"))
    assert "gallery_export_id" not in at.session_state

    at = open_page(GALLERY, studio, {"q": "lighthouse"})
    at.button(key="gallery_start").click().run()
    wait_until(at, lambda a: any("Ready" in t for t in texts(a, "success")), timeout=150)
    job = svc.export_job(studio, at.session_state["gallery_export_id"])
    assert job is not None and job.selection.kind == "query" and job.kinds == ["zip"]
    assert svc.resolve(studio, job.selection).items and "lighthouse" in job.title


def test_no_kind_chosen_cannot_start(studio):
    grid_id = small_grid(studio)
    at = open_page(COMPARE, studio, {"grid": grid_id})
    at.checkbox(key="compare_grid_kind_zip").uncheck().run()
    assert at.button(key="compare_grid_start").disabled


def test_status_lists_recent_exports_with_their_state(studio):
    grid_id = small_grid(studio)
    done = svc.start_export(studio, svc.Selection("grid", grid_id), ["sheet"], created_by="Ana")
    studio.store.db.table("exports").insert(
        {
            "id": "deadbeef0001",
            "selection_kind": "grid",
            "selection_ref": grid_id,
            "kinds": '["zip"]',
            "status": "running",
            "created_at": utcnow(),
            "process": "f" * 32,  # a process that is gone
        }
    )
    at = open_page(STATUS, studio)
    wait_until(at, lambda a: any("Ready" in t for t in texts(a, "success")), timeout=150)
    assert "Exports" in texts(at, "subheader")
    at.container(f"status_export_{done.id}")
    at.container("status_export_deadbeef0001")
    assert any("by Ana" in t for t in texts(at, "caption"))
    assert any(export_jobs.INTERRUPTED_MESSAGE.split(":")[0] in t for t in texts(at, "error"))
    job = svc.export_job(studio, done.id)
    assert job is not None and f"/exports/{done.id}/{job.files[0]}" in links(at)
