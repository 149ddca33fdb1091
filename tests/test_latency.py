"""studio.latency: Seedance 2's generation times as a model — bands per resolution, a long tail,
seeded draws — that the studio's estimates and the simulator's realistic profile share."""

from __future__ import annotations

import random
import statistics

import pytest

from studio import latency
from studio.errors import ParamsError

MINUTE = 60.0
DRAWS = 4000


def _draws(resolution: str, seconds: float = 5, *, video_reference: bool = False, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [latency.sample_seconds(rng, resolution, seconds, video_reference=video_reference) for _ in range(DRAWS)]


@pytest.mark.parametrize(
    "resolution, video_reference, low_min, high_min",
    [("480p", False, 3, 6), ("720p", False, 3, 6), ("1080p", False, 4, 11), ("720p", True, 4, 7)],
)
def test_a_5_second_clip_takes_the_minutes_seedance_2_takes(resolution, video_reference, low_min, high_min):
    draws = sorted(_draws(resolution, video_reference=video_reference))
    inside = sum(low_min * MINUTE <= d <= high_min * MINUTE for d in draws) / DRAWS
    assert 0.85 <= inside <= 0.93  # the range is the 5th–95th percentile, less the tail's share
    expected = latency.expected_seconds(resolution, 5, video_reference=video_reference)
    assert low_min * MINUTE < expected < high_min * MINUTE
    assert statistics.median(draws) == pytest.approx(expected, rel=0.05)
    assert latency.expected_range(resolution, 5, video_reference=video_reference) == pytest.approx(
        (low_min * MINUTE, high_min * MINUTE)
    )


def test_a_few_runs_fall_in_a_long_tail_past_15_minutes():
    tail = sum(d > 15 * MINUTE for d in _draws("720p")) / DRAWS
    assert 0.01 <= tail <= 0.03


def test_longer_clips_and_1080p_take_longer():
    assert (
        latency.expected_seconds("720p", 10) > latency.expected_seconds("720p", 5) > latency.expected_seconds("720p", 4)
    )
    assert latency.expected_seconds("1080p", 5) > latency.expected_seconds("720p", 5)
    assert latency.expected_seconds("720p", 10) == pytest.approx(1.4 * latency.expected_seconds("720p", 5))


def test_draws_are_deterministic_per_seed():
    assert _draws("480p", seed=7)[:20] == _draws("480p", seed=7)[:20]
    assert _draws("480p", seed=7)[:20] != _draws("480p", seed=8)[:20]


def test_unknown_resolution_is_refused():
    with pytest.raises(ParamsError, match="4k"):
        latency.expected_seconds("4k", 5)
