"""The token cost model, credit rates and the time estimate (seedance-2.md, "What it costs")."""

from __future__ import annotations

import pytest

from studio import costs
from studio.costs import CreditRates, estimate, parse_credit_rates
from studio.errors import ParamsError
from studio.models import ASPECT_RATIOS, RESOLUTIONS, VideoGenerationParams


def params(**kw) -> VideoGenerationParams:
    return VideoGenerationParams(prompt="A koi pond at dawn", **kw)


def grid(duration: str = "5") -> list[VideoGenerationParams]:
    return [params(resolution=r, aspect_ratio=a, duration=duration) for r in RESOLUTIONS for a in ASPECT_RATIOS]


# ---------------------------------------------------------------- tokens


def test_tokens_follow_width_height_frames_over_1024():
    assert costs.frames(5) == 121
    assert costs.tokens("720p", "16:9", 5) == 1280 * 720 * 121 / 1024
    assert costs.tokens("480p", "1:1", 4) == 640 * 640 * 97 / 1024
    assert costs.tokens("1080p", "auto", 10) == costs.tokens("1080p", "16:9", 10)


@pytest.mark.parametrize(
    ("resolution", "aspect", "size"),
    [
        ("720p", "1:1", (960, 960)),
        ("480p", "16:9", (864, 496)),
        ("720p", "21:9", (1470, 630)),
        ("1080p", "9:16", (1080, 1920)),
    ],
)
def test_output_sizes_are_seedances_table(resolution, aspect, size):
    assert costs.output_size(resolution, aspect) == size


def test_relative_cost_matches_the_documented_ratios():
    assert costs.relative_cost("1080p") == pytest.approx(2.25)
    assert costs.relative_cost("720p") / costs.relative_cost("480p") == pytest.approx(2.15, abs=0.01)
    # Aspect barely changes the price: within 1 % at 720p and 1080p; the table's 480p sizes differ
    # by up to 4.6 % (864×496 against 640×640), more than seedance-2.md's "±1 %".
    for resolution, spread in (("480p", 1.05), ("720p", 1.01), ("1080p", 1.01)):
        ratios = [costs.relative_cost(resolution, a) for a in ASPECT_RATIOS]
        assert max(ratios) / min(ratios) < spread


def test_cost_note_reads_as_the_issue_says():
    assert costs.cost_note("1080p") == "1080p costs about 2.25× 720p"
    assert costs.cost_note("480p") == "480p costs about 0.47× 720p"
    assert costs.cost_note("720p", "1:1") == "720p is the baseline cost"


def test_relative_cost_is_shown_without_a_credit_rate():
    est = estimate([params(resolution="1080p", duration="5")])
    assert est.credits is None and est.relative_cost == pytest.approx(2.25)
    assert "about 2.25× the cost of 720p" in est.describe()
    assert "credits" not in est.describe()


def test_a_whole_grid():
    est = estimate(grid())
    assert (est.runs, est.seconds, est.auto_runs) == (21, (105, 105), 0)
    assert est.relative_cost == pytest.approx((0.465 + 1 + 2.25) / 3, abs=0.01)
    assert est.describe() == "21 runs · 105 s of video · about 1.24× the cost of 720p · ready in about 4–11 min"


def test_auto_duration_is_a_range_of_5_to_10_seconds():
    est = estimate([params(duration="auto"), params(duration="4")])
    assert est.seconds == (9, 14) and est.auto_runs == 1
    assert est.tokens == (
        costs.tokens("720p", "auto", 5) + costs.tokens("720p", "auto", 4),
        costs.tokens("720p", "auto", 10) + costs.tokens("720p", "auto", 4),
    )
    assert "9–14 s of video (1 of automatic length, 5–10 s each)" in est.describe()


# ---------------------------------------------------------------- credits


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("2", {"480p": 2.0, "720p": 2.0, "1080p": 2.0}),
        (2.5, {"480p": 2.5, "720p": 2.5, "1080p": 2.5}),
        ("480p=1, 720p=2,1080p=4.5", {"480p": 1.0, "720p": 2.0, "1080p": 4.5}),
        ("0", {"480p": 0.0, "720p": 0.0, "1080p": 0.0}),
    ],
)
def test_credit_rates_parse_one_number_or_one_per_resolution(value, expected):
    rates = parse_credit_rates(value)
    assert (rates.per_second if rates else None) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("cheap", "the rate is not a number"),
        ("-1", "must be zero or more"),
        ("nan", "must be zero or more"),
        ("720p=2", "no rate for 480p, 1080p"),
        ("480p=1,720p=2,4k=9", "'4k' is not a resolution"),
        ("480p=1,720p=x,1080p=3", "720p is not a number"),
        (True, "give one number"),
    ],
)
def test_bad_credit_rates_say_what_to_write(value, says):
    with pytest.raises(ParamsError) as info:
        parse_credit_rates(value)
    assert says in str(info.value) and info.value.field == "credits_per_second"
    assert isinstance(info.value, ValueError)  # so a pydantic validator reports it as a settings error


def test_credit_rates_print_back_as_they_are_written():
    assert str(parse_credit_rates("3")) == "3"
    assert str(parse_credit_rates("1080p=4,480p=1,720p=2")) == "480p=1,720p=2,1080p=4"
    assert parse_credit_rates(parse_credit_rates("3")) == parse_credit_rates("3")


def test_credits_per_resolution_times_seconds():
    rates = CreditRates({"480p": 1, "720p": 2, "1080p": 4})
    est = estimate(grid(), rates=rates)
    assert est.credits == (7 * 5 * (1 + 2 + 4), 7 * 5 * (1 + 2 + 4))
    assert "≈ 245 credits" in est.describe()
    ranged = estimate([params(duration="auto", resolution="1080p")], rates=rates)
    assert ranged.credits == (20, 40) and "≈ 20–40 credits" in ranged.describe()


# ---------------------------------------------------------------- time


def test_time_comes_from_the_latency_model_per_resolution():
    assert estimate([params(resolution="480p", duration="5")]).time_s == (180, 360)
    assert estimate([params(resolution="1080p", duration="5")]).time_s == (240, 660)
    video = params(resolution="720p", duration="5", selected_context={"videos": ["u1"]})
    assert estimate([video]).time_s == (240, 420)
    # Cells run together: the launch takes as long as its slowest cell.
    assert estimate(grid()).time_s == (240, 660)


def test_time_waits_in_waves_beyond_the_runs_in_flight():
    assert estimate([params(resolution="480p", duration="5")] * 5, in_flight=2).time_s == (3 * 180, 3 * 360)


def test_the_latency_model_is_an_argument():
    est = estimate([params()], latency=lambda p: (2.0, 4.0))
    assert est.time_s == (2.0, 4.0) and est.describe().endswith("about 2–4 s")


def test_history_replaces_the_model_with_the_median_of_recent_runs():
    cell = params(resolution="1080p", duration="5")
    key = costs.history_key(cell)
    assert key == ("1080p", "5", False)
    est = estimate([cell], history={key: [300, 330, 290, 900]})
    assert est.time_s == (315, 315) and est.history_runs == 4
    assert est.describe().endswith("ready in about 5 min (the median of 4 recent runs)")


def test_too_little_history_keeps_the_model():
    cell = params(resolution="1080p", duration="5")
    est = estimate([cell], history={costs.history_key(cell): [60, 60]})
    assert est.time_s == (240, 660) and est.history_runs == 0


def test_history_counts_only_the_most_recent_runs():
    cell = params(duration="5")
    past = [100.0] * costs.HISTORY_RUNS + [9000.0] * 50  # newest first; the old slow ones are ignored
    assert estimate([cell], history={costs.history_key(cell): past}).time_s == (100, 100)


def test_history_is_per_settings_and_mixed_with_the_model():
    fast = params(resolution="480p", duration="5")
    slow = params(resolution="1080p", duration="5")
    est = estimate([fast, slow], history={costs.history_key(fast): [100, 110, 120]})
    assert est.time_s == (240, 660)  # the 1080p cell has no history: the model's range
    assert est.history_runs == 3


def test_nothing_to_launch():
    est = estimate([])
    assert (est.runs, est.seconds, est.time_s) == (0, (0, 0), (0.0, 0.0))
    assert est.describe() == "0 runs · 0 s of video"
