"""How long a Seedance 2 generation takes: a small model both the studio (time estimates) and the
simulator (its realistic profile) use. Pure arithmetic and a caller-supplied RNG; no I/O.

From seedance-2.md: for a 5 s clip, 3–6 min at 480p/720p and 4–11 min at 1080p, 4–7 min with a
reference video, occasional outliers past 15 min. Each range is read as the 5th–95th percentile of
a log-normal body; a small share of runs falls in a long tail instead.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .errors import ParamsError

REFERENCE_CLIP_S = 5  # the ranges above are for a 5 s clip
# Longer clips take longer, but far from proportionally (most of the time is queue and setup):
# each extra second adds 8 % of the 5 s figure, so 10 s ≈ 1.4× and 15 s ≈ 1.8×.
PER_SECOND_FACTOR = 0.08
Z_95 = 1.6449  # the 95th percentile of a standard normal
TAIL_SHARE = 0.02  # "occasional": about one run in fifty
TAIL_RANGE_S = (15 * 60, 20 * 60)


@dataclass(frozen=True)
class Band:
    "A 5th–95th percentile range in seconds, for a 5 s clip."

    low_s: float
    high_s: float

    @property
    def median_s(self) -> float:
        "The log-normal median: the geometric mean of the two ends."
        return math.sqrt(self.low_s * self.high_s)

    @property
    def sigma(self) -> float:
        "The log-normal shape that puts the two ends at the 5th and 95th percentiles."
        return math.log(self.high_s / self.low_s) / (2 * Z_95)


BANDS = {
    "480p": Band(3 * 60, 6 * 60),
    "720p": Band(3 * 60, 6 * 60),
    "1080p": Band(4 * 60, 11 * 60),
}
VIDEO_REFERENCE_BAND = Band(4 * 60, 7 * 60)


def band(resolution: str, *, video_reference: bool = False) -> Band:
    "The range for a resolution (a reference video sets its own range, per seedance-2.md)."
    if video_reference:
        return VIDEO_REFERENCE_BAND
    try:
        return BANDS[resolution]
    except KeyError:
        raise ParamsError(
            f"Resolution must be one of {', '.join(BANDS)} (got {resolution!r})", field="resolution"
        ) from None


def duration_factor(seconds: float) -> float:
    "How much longer than a 5 s clip a clip of `seconds` takes."
    return 1 + PER_SECOND_FACTOR * (max(1.0, seconds) - REFERENCE_CLIP_S)


def expected_seconds(resolution: str, seconds: float, *, video_reference: bool = False) -> float:
    "The typical (median) wall time of one generation, in seconds: the figure for time estimates."
    return band(resolution, video_reference=video_reference).median_s * duration_factor(seconds)


def expected_range(resolution: str, seconds: float, *, video_reference: bool = False) -> tuple[float, float]:
    "The 5th–95th percentile wall time of one generation, in seconds (the tail lies beyond)."
    chosen, factor = band(resolution, video_reference=video_reference), duration_factor(seconds)
    return chosen.low_s * factor, chosen.high_s * factor


def sample_seconds(rng: random.Random, resolution: str, seconds: float, *, video_reference: bool = False) -> float:
    "One draw from the profile: log-normal around the median, or (rarely) a long-tail outlier."
    if rng.random() < TAIL_SHARE:
        return rng.uniform(*TAIL_RANGE_S) * duration_factor(seconds)
    chosen = band(resolution, video_reference=video_reference)
    return rng.lognormvariate(math.log(chosen.median_s), chosen.sigma) * duration_factor(seconds)
