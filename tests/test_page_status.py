"""AppTest: the Status page (pages/status.py): API mode, key check, credits, and the queue."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from streamlit.testing.v1 import AppTest
from support import STATUS, open_page, settings_for

from studio import services as svc
from studio.models import Generation, VideoGenerationParams


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def has_block(at: AppTest, key: str) -> bool:
    try:
        at.container(key)
    except KeyError:
        return False
    return True


def queue_rows(at: AppTest) -> list[str]:
    return [(b.key or "").removeprefix("status_job_") for b in at.container if (b.key or "").startswith("status_job_")]


def failed_rows(at: AppTest) -> list[str]:
    return [
        (b.key or "").removeprefix("status_failed_") for b in at.container if (b.key or "").startswith("status_failed_")
    ]


def got(services: svc.Services, gen_id: str) -> Generation:
    gen = svc.get(services, gen_id)
    assert gen is not None, gen_id
    return gen


def queue_some(services: svc.Services, n: int = 1, prompt: str = "Queued shot") -> list[str]:
    return svc.generate(services, VideoGenerationParams(prompt=prompt, duration="4"), takes=n)


def test_shows_the_api_the_key_check_and_the_credit_balance(studio, clean_sim):
    at = open_page(STATUS, studio)
    shown = metrics(at)
    balance = studio.client.credits().current_balance
    assert shown["API in use"] == "Mosaic"
    assert shown["API key"] == "Works"
    org = studio.client.whoami().organization_name
    assert any(f"organization: {org}" in c.value for c in at.caption)
    assert shown["Credit balance"] == f"{balance:,.0f}"
    assert any(clean_sim.base_url in c.value for c in at.caption)
    assert not at.error


def test_the_simulator_shows_no_credit_balance_as_if_it_were_money(tmp_path):
    from studio.settings import Settings

    keyless = svc.build_services(Settings(data_dir=tmp_path / "k"), start_worker=False)
    try:
        shown = metrics(open_page(STATUS, keyless))
        assert shown["API in use"] == "Simulator" and shown["Credit balance"] == "None used"
    finally:
        keyless.close()


def test_a_refused_key_is_explained(clean_sim, tmp_path):
    services = svc.build_services(
        settings_for(clean_sim, tmp_path / "bad", api_key="not_a_mosaic_key"), start_worker=False
    )
    try:
        at = open_page(STATUS, services)
        assert metrics(at)["API key"] == "Refused"
        assert metrics(at)["Credit balance"] == "Not reported"
        (error,) = at.error
        assert "The key check (/whoami) failed" in error.value and "401" in error.value
    finally:
        services.close()


def test_simulator_mode_is_named(keyless):
    at = open_page(STATUS, keyless)
    assert metrics(at)["API in use"] == "Simulator"
    assert metrics(at)["Connection"] == "Works"


def test_empty_queue_only_watches_for_new_runs(studio):
    studio.runner.stop()
    at = open_page(STATUS, studio)
    assert any("Nothing is running" in i.value for i in at.info)
    assert not has_block(at, "status_live") and has_block(at, "status_idle")
    assert not at.get("progress")
    (started_elsewhere,) = queue_some(studio, prompt="Started in another tab")
    at.run()  # what the idle watcher's next tick does
    assert queue_rows(at) == [started_elsewhere] and not has_block(at, "status_idle")


def test_queue_shows_progress_and_cancel_then_retry_puts_it_back(idle):
    first, second = queue_some(idle, 2, prompt="Two *takes* of a **markdown** prompt")
    at = open_page(STATUS, idle)
    assert has_block(at, "status_live")
    assert at.subheader[0].value == "Queue: 2 in progress"
    assert queue_rows(at) == [first, second]
    assert next(p.proto.text for p in at.get("progress")).startswith("⏳ waiting to start")
    assert "Two *takes* of a **markdown** prompt" in [t.value for t in at.text]  # plain text, not markdown

    at.button(key=f"status_cancel_{first}").click().run()
    assert got(idle, first).status == "cancelled"
    assert queue_rows(at) == [second]
    assert failed_rows(at) == [first]
    assert "Cancelled before it started" in [t.value for t in at.container(f"status_failed_{first}").text]

    at.button(key=f"status_retry_{first}").click().run()
    assert got(idle, first).status == "queued"
    assert sorted(queue_rows(at)) == sorted([first, second]) and failed_rows(at) == []


def test_new_jobs_appear_while_the_page_polls(idle):
    (first,) = queue_some(idle)
    at = open_page(STATUS, idle)
    (later,) = queue_some(idle, prompt="Queued after the page opened")
    at.run()
    assert queue_rows(at) == [first, later]


def test_running_jobs_finish_and_polling_stops(idle):
    # The worker starts only once the page shows the job in flight, so the page is seen polling
    # (a job that finished before the page opened would skip straight to the idle state).
    (gen_id,) = queue_some(idle, prompt="Watch me finish")
    at = open_page(STATUS, idle)
    assert queue_rows(at) == [gen_id] and has_block(at, "status_live") and not has_block(at, "status_idle")
    idle.runner.start()
    deadline = time.monotonic() + 30
    while has_block(at, "status_live"):
        assert time.monotonic() < deadline, "the queue never emptied"
        time.sleep(0.2)
        at.run()
        assert not at.exception
    assert got(idle, gen_id).status == "done"
    assert queue_rows(at) == [] and any("Nothing is running" in i.value for i in at.info)
    assert has_block(at, "status_idle")


def test_a_failed_run_shows_the_apis_message_and_can_be_retried(studio, clean_sim):
    clean_sim.script_fault("run_fail", route="run")
    (gen_id,) = queue_some(studio, prompt="Fails once")
    svc.wait_for(studio, [gen_id], timeout=30)
    at = open_page(STATUS, studio)
    assert failed_rows(at) == [gen_id]
    assert any("Video generation failed" in t.value for t in at.container(f"status_failed_{gen_id}").text)
    at.button(key=f"status_retry_{gen_id}").click().run()
    assert got(studio, gen_id).attempt == 2
    svc.wait_for(studio, [gen_id], timeout=30)
    at.run()
    assert got(studio, gen_id).status == "done" and failed_rows(at) == []


def test_a_job_whose_video_is_being_saved_cannot_be_cancelled(idle):
    (gen_id,) = queue_some(idle)
    at = open_page(STATUS, idle)
    assert [b.key for b in at.button if b.key == f"status_cancel_{gen_id}"]  # offered while it waits
    assert idle.store.transition(gen_id, ("queued",), "downloading")
    at.run()
    assert queue_rows(at) == [gen_id]
    assert "saving the video" in at.get("progress")[0].proto.text
    assert not [b for b in at.button if b.key == f"status_cancel_{gen_id}"]


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def started_ago(services: svc.Services, gen_id: str, seconds: float, *, generating_for: float | None = None) -> None:
    "Make a queued run look as if Mosaic accepted it `seconds` ago (and the model started later)."
    assert services.store.transition(gen_id, ("queued",), "running", submitted_at=ago(seconds), run_id=f"run-{gen_id}")
    if generating_for is not None:
        services.store.update_job(gen_id, generating_since=ago(generating_for))


def test_a_generating_run_shows_how_long_it_has_run_and_the_time_left(idle):
    waiting, working = queue_some(idle, 2)
    started_ago(idle, waiting, 90)
    started_ago(idle, working, 90, generating_for=60)
    at = open_page(STATUS, idle)
    first, second = (bar.proto for bar in at.get("progress"))
    # 720p takes 3–6 min upstream (studio.costs), so 1.5 min after submission 1.5–4.5 min are left;
    # the page rounds the upper end up to a whole minute, which the seconds the page takes to open
    # can move from 5 to 4.
    assert re.fullmatch(r"📤 sent to Mosaic, waiting for the model · 1 min 3\d s · about 1–[45] min left", first.text)
    assert re.fullmatch(r"🎬 generating · 1 min( \d s)? · about 1–[45] min left", second.text), second.text
    bar = at.get("progress")[1]
    assert 0.2 < bar.proto.value / 100 < 0.95  # driven by time, not stuck at 10 %
    assert not at.warning


def test_a_run_past_its_expected_time_says_so_before_it_is_stuck(idle):
    (gen_id,) = queue_some(idle)
    started_ago(idle, gen_id, 10 * 60)  # 720p takes 3–6 min: past 1.5x that, not yet 20 min
    at = open_page(STATUS, idle)
    assert "taking longer than usual" in at.get("progress")[0].proto.text
    assert not at.warning


def test_a_stuck_run_is_called_stuck_with_its_time_and_offers_cancel(idle):
    (gen_id,) = queue_some(idle)
    started_ago(idle, gen_id, idle.settings.stuck_after + 60)
    at = open_page(STATUS, idle)
    (warning,) = at.warning
    assert warning.value.startswith("Stuck") and "submitted 21 min ago" in warning.value
    cancel = at.button(key=f"status_cancel_{gen_id}")
    assert cancel.proto.type == "primary"
    cancel.click().run()
    assert not at.exception and idle.store.job(gen_id)["cancel_requested"]  # sent at the worker's next look


def test_a_stopped_duplicate_run_is_listed_with_why_and_what_the_cancel_did(idle):
    idle.store.claim_stray("run-late-1", "gen-a", "agent-1", "a late duplicate: the job already follows run run-2")
    idle.store.stray_cancelled("run-late-1", "cancelled", ended=True)
    idle.store.claim_stray("run-late-2", None, "agent-1", "its generation was deleted")
    at = open_page(STATUS, idle)
    assert "Duplicate runs stopped" in [h.value for h in at.subheader]
    texts = [t.value for t in at.text]
    assert "Run run-late-1" in texts and "a late duplicate: the job already follows run run-2" in texts
    captions = " ".join(c.value for c in at.caption)
    assert "Stopped: cancelled" in captions and "Still to cancel: cancel not sent yet" in captions
    assert "take deleted" in captions


def test_no_duplicate_section_when_nothing_was_stopped(idle):
    at = open_page(STATUS, idle)
    assert "Duplicate runs stopped" not in [h.value for h in at.subheader]
