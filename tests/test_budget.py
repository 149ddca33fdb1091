"""Budget (issue 9 §6): today's spend by person and for the studio, daily caps in seconds of video
or credits, checked in the one place every launch passes (the store's launch transaction): Create's
takes, a comparison, a retry, the queue path a promotion uses, and `studio generate` / `grid`."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from media_files import picture
from support import add_done, ago, settings_for, use_sim_env

from studio import budget, cli
from studio import services as svc
from studio.budget import Caps, Spend
from studio.costs import parse_credit_rates
from studio.errors import BudgetError, SettingsError
from studio.models import NodeSettings, VideoGenerationParams
from studio.settings import load

RATES = parse_credit_rates("480p=1,720p=2,1080p=4")


def row(author="ann", status="done", resolution="720p", aspect_ratio="16:9", duration="5", duration_s=5.04):
    "A generation as the store reads it for the spend (budget.SPEND_COLUMNS)."
    values = (author, status, resolution, aspect_ratio, duration, duration_s)
    return dict(zip(budget.SPEND_COLUMNS, values, strict=True))


# ---------------------------------------------------------------------- what counts


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [
        ({"status": "done", "duration_s": 5.04}, 5),  # billed whole seconds: floor(frames / 24)
        ({"status": "done", "duration_s": 119 / 24}, 4),  # 119 frames: 4 whole seconds
        ({"status": "queued", "duration": "8"}, 8),  # committed: what it asked for
        ({"status": "running", "duration": "auto"}, 10),  # the model may make up to 10 s
        ({"status": "downloading", "duration": "4"}, 4),
        ({"status": "failed", "duration": "8"}, 0),  # no video made, nothing billed
        ({"status": "cancelled", "duration": "8"}, 0),
    ],
)
def test_what_a_take_counts_for(fields, seconds):
    assert budget.counted_seconds(row(**fields)) == seconds


def test_spend_is_summed_per_person_with_tokens_and_credits():
    rows = [
        row("ann", "done", "720p", duration_s=5.04),
        row("ann", "queued", "1080p", duration="4"),
        row("bob", "failed", "1080p", duration="10"),
        row("", "running", "480p", duration="5"),
    ]
    spends = budget.spend_by_person(rows, RATES)
    assert list(spends) == ["ann", "", "bob"]  # most seconds first
    ann = spends["ann"]
    assert (ann.takes, ann.seconds, ann.credits) == (2, 9, 5 * 2 + 4 * 4)
    assert ann.tokens == pytest.approx(1280 * 720 * 121 / 1024 + 1920 * 1080 * 97 / 1024)
    assert spends["bob"] == Spend(takes=1, seconds=0, tokens=0, credits=0)  # a failed run costs nothing
    studio = budget.total(spends, RATES)
    assert (studio.takes, studio.seconds, studio.credits) == (4, 14, 26 + 5)
    assert budget.spend_by_person(rows, None)["ann"].credits is None  # no rate: no credits


# ---------------------------------------------------------------------- the check and its message


def launch(n=1, resolution="720p", duration="5"):
    return [NodeSettings(resolution=resolution, duration=duration)] * n


def test_a_person_cap_in_seconds_says_the_cap_the_spend_and_what_the_launch_adds():
    caps = Caps(person_day=120)
    rows = [row("ann", "done", duration_s=float(s)) for s in (50, 50)]
    budget.check(caps, launch(4), "ann", rows, what="comparison")  # 100 + 20 fits
    with pytest.raises(BudgetError) as caught:
        budget.check(caps, launch(8), "ann", rows, what="comparison")
    assert str(caught.value) == (
        "Your daily cap is 120 s of video; you have used 100 s today and this comparison would add 40 s. "
        "Caps reset at 00:00 UTC."
    )
    assert (caught.value.scope, caught.value.cap, caught.value.spent, caught.value.adding) == ("person", 120, 100, 40)
    budget.check(caps, launch(8), "bob", rows)  # another person's spend is not Ann's


def test_the_studio_cap_counts_everyone():
    caps = Caps(person_day=100, studio_day=60)
    rows = [row("ann", duration_s=30.0), row("bob", duration_s=25.0)]
    with pytest.raises(BudgetError, match=r"The studio's daily cap is 60 s of video; the studio has used 55 s today "):
        budget.check(caps, launch(2), "cat", rows)
    with pytest.raises(BudgetError, match="this run would add 10 s"):
        budget.check(caps, launch(1, duration="10"), "cat", rows)
    budget.check(caps, launch(1), "cat", rows)  # exactly the cap is allowed


def test_a_cap_in_credits_counts_credits_at_each_resolution():
    caps = Caps(person_day=50, unit="credits", rates=RATES)
    rows = [row("ann", "done", "1080p", duration_s=10.0)]  # 40 credits
    budget.check(caps, launch(1, "480p", "10"), "ann", rows)  # 10 more: 50
    with pytest.raises(BudgetError) as caught:
        budget.check(caps, launch(3, "720p", "4"), "ann", rows)
    assert "Your daily cap is 50 credits; you have used 40 credits today and these 3 takes would add 24 credits" in (
        str(caught.value)
    )


def test_no_cap_checks_nothing():
    budget.check(Caps(), launch(60, "1080p", "15"), "ann", [row(duration_s=1e6)])


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"STUDIO_CAP_PERSON_DAY": "0"}, "STUDIO_CAP_PERSON_DAY"),
        ({"STUDIO_CAP_PERSON_DAY": "-5"}, "STUDIO_CAP_PERSON_DAY"),
        ({"STUDIO_CAP_STUDIO_DAY": "lots"}, "STUDIO_CAP_STUDIO_DAY"),
        ({"STUDIO_CAP_STUDIO_DAY": "nan"}, "STUDIO_CAP_STUDIO_DAY"),
        ({"STUDIO_CAP_STUDIO_DAY": "inf"}, "STUDIO_CAP_STUDIO_DAY"),
        ({"STUDIO_CAP_UNIT": "dollars"}, "STUDIO_CAP_UNIT"),
        (
            {"STUDIO_CAP_PERSON_DAY": "100", "STUDIO_CAP_UNIT": "credits"},
            "STUDIO_CAP_UNIT .*a cap in credits needs STUDIO_CREDITS_PER_SECOND",
        ),
    ],
)
def test_a_bad_cap_setting_is_a_settings_error_naming_it(env, words, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=words):
        load()
    assert cli.main(["status"]) == 2  # the command says it in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and re.search(words, err[0])


def test_caps_are_read_from_the_settings(monkeypatch):
    monkeypatch.setenv("STUDIO_CAP_PERSON_DAY", "500")
    monkeypatch.setenv("STUDIO_CAP_STUDIO_DAY", "")  # blank: no cap
    monkeypatch.setenv("STUDIO_CAP_UNIT", "credits")
    monkeypatch.setenv("STUDIO_CREDITS_PER_SECOND", "2")
    caps = svc.caps(load())
    assert (caps.person_day, caps.studio_day, caps.unit) == (500, None, "credits")
    assert caps.rates is not None and caps.rates.per_second["1080p"] == 2


# ---------------------------------------------------------------------- every launch path, refused


@pytest.fixture
def capped(clean_sim, tmp_path, database_url):
    "A running studio whose people may each launch 12 s of video a day (the studio 30 s)."
    caps = dict(cap_person_day=12, cap_studio_day=30, author="ann", database_url=database_url)
    services = svc.build_services(settings_for(clean_sim, tmp_path / "data", **caps))
    yield services
    services.close()


def params(duration="4", **more) -> VideoGenerationParams:
    return VideoGenerationParams(prompt="A lighthouse in fog", resolution="480p", duration=duration, **more)


def runs_on(sim) -> int:
    return sim.stats()["runs_total"]


@pytest.mark.usefixtures("backend")
def test_create_takes_are_refused_past_the_cap_and_nothing_is_queued_or_sent(capped, clean_sim):
    runs = runs_on(clean_sim)
    first = svc.generate(capped, params(), takes=2, author="ann")  # 8 s
    history = svc.count(capped, svc.GalleryQuery())
    with pytest.raises(BudgetError, match="you have used 8 s today and this run would add 5 s"):
        svc.generate(capped, params("5"), author="ann")
    assert svc.count(capped, svc.GalleryQuery()) == history  # nothing queued
    assert all(g.status == "done" for g in svc.wait_for(capped, first, timeout=60))
    time.sleep(0.5)  # the worker has had time to send anything it had
    assert runs_on(clean_sim) == runs + 2  # only the two takes that fitted went to Mosaic
    assert svc.spend_today(capped)["ann"].takes == 2


def test_a_refused_launch_sends_nothing_to_mosaic(capped, clean_sim):
    svc.wait_for(capped, svc.generate(capped, params("12"), author="ann"), timeout=60)
    before = runs_on(clean_sim)
    with pytest.raises(BudgetError):
        svc.generate(capped, params(), author="ann")
    with pytest.raises(BudgetError):
        svc.start_grid(capped, params(), resolutions=["480p"], aspect_ratios=["16:9", "9:16"], author="ann")
    time.sleep(0.5)  # the worker has had time to send anything it had
    assert runs_on(clean_sim) == before
    assert svc.active_count(capped) == 0


@pytest.mark.usefixtures("backend")
def test_a_comparison_is_refused_as_a_whole(capped):
    plan = svc.plan_grid(
        capped,
        svc.GridForm(prompt="A kite", resolutions=("480p",), aspect_ratios=("16:9", "9:16", "1:1"), durations=("5",)),
    )
    with pytest.raises(
        BudgetError, match="Your daily cap is 12 s of video; you have used 0 s today and this comparison would add 15 s"
    ):
        svc.launch_grid(capped, plan, author="ann")
    assert svc.grids(capped) == []


@pytest.mark.usefixtures("backend")
def test_the_studio_cap_refuses_anyone_once_the_team_has_used_it(capped):
    for person in ("ann", "bob"):
        svc.generate(capped, params("12"), author=person)
    with pytest.raises(BudgetError, match="The studio's daily cap is 30 s of video; the studio has used 24 s today"):
        svc.generate(capped, params("8"), author="cat")
    svc.generate(capped, params("6"), author="cat")  # 30: exactly the cap


def test_a_retry_is_refused_past_the_cap(capped, clean_sim):
    failed = add_done(capped, "A lighthouse", author="ann", resolution="480p", duration="5")
    capped.store.update(failed, status="failed", error="Mosaic failed it")  # a failed run counts nothing
    svc.wait_for(capped, svc.generate(capped, params("8"), author="ann"), timeout=60)
    assert svc.spend_today(capped)["ann"].seconds == 8
    with pytest.raises(BudgetError, match="this retry would add 5 s"):
        svc.retry(capped, failed)
    kept = svc.get(capped, failed)
    assert kept is not None and kept.status == "failed"  # left as it was, nothing queued


def test_a_promotion_is_refused_past_the_cap(capped):
    draft = add_done(capped, "A lighthouse", author="ann", resolution="480p", duration="4")  # 4 s made
    svc.generate(capped, params("8"), author="ann")  # 12 s: Ann's whole day
    with pytest.raises(BudgetError, match="you have used 12 s today and this run would add 5 s"):
        svc.promote(capped, draft, NodeSettings(resolution="720p", duration="5"), "ann")
    assert capped.store.finals([draft]) == []  # no final queued
    svc.promote(capped, draft, NodeSettings(resolution="720p", duration="5"), "bob")  # Bob has his own cap


def test_a_replayed_launch_key_returns_its_takes_even_when_now_over_the_cap(capped):
    ids = svc.generate(capped, params("12"), author="ann", launch_key="click-1")
    assert svc.generate(capped, params("12"), author="ann", launch_key="click-1") == ids  # the same click


@pytest.mark.usefixtures("backend")
def test_yesterdays_takes_do_not_count_today(capped):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    add_done(capped, "Old", author="ann", created_at=yesterday, duration="12")
    add_done(capped, "Today", author="ann", created_at=ago(5), duration="4")
    assert svc.spend_today(capped)["ann"].seconds == 4
    svc.generate(capped, params("8"), author="ann")  # 4 + 8 = 12


def test_the_cli_refuses_with_one_line_and_exit_2_and_uploads_nothing(clean_sim, tmp_path, monkeypatch, capsys):
    use_sim_env(monkeypatch, clean_sim)
    monkeypatch.setenv("STUDIO_CAP_PERSON_DAY", "10")
    image = picture(tmp_path / "ref.png")
    uploads, runs = len(clean_sim.uploads), runs_on(clean_sim)
    assert cli.main(["generate", "A fox", "--duration", "8", "--takes", "2", "--image", str(image)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "error: Your daily cap is 10 s of video; you have used 0 s today and these 2 takes would add 16 s. "
        "Caps reset at 00:00 UTC."
    )
    assert [line for line in err if line.startswith("error")] == [err[-1]]
    assert cli.main(["grid", "A fox", "--resolutions", "480p", "--aspect-ratios", "16:9,9:16", "--duration", "6"]) == 2
    assert "this comparison would add 12 s" in capsys.readouterr().err
    assert len(clean_sim.uploads) == uploads and runs_on(clean_sim) == runs  # nothing sent


@pytest.mark.usefixtures("backend")
def test_two_launches_at_once_cannot_both_pass_on_the_same_remaining_budget(capped):
    "The check runs inside the launch's write transaction: the second launch sees the first."
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def launch_8_s() -> None:
        start.wait()
        try:
            svc.generate(capped, params("8"), author="ann")
            outcomes.append("queued")
        except BudgetError:
            outcomes.append("refused")

    threads = [threading.Thread(target=launch_8_s) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["queued", "refused"]
    assert svc.spend_today(capped)["ann"].seconds == 8
