"""What a launch will cost and how long it will take, before it starts.

Seedance 2 bills output tokens, `width × height × frames / 1024` (seedance-2.md), so the cost of a
cell relative to 720p is known without any price. A configured credit rate per resolution turns
generated seconds into credits. Time comes from a latency model (minutes per resolution) or, once
there is history, from the median of recent runs at the same settings. Pure: no store, no network.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import latency, models
from .errors import ParamsError
from .models import RESOLUTIONS, NodeSettings

FPS = 24
TOKEN_PIXELS = 1024  # tokens = width × height × frames / 1024
BASELINE_RESOLUTION = "720p"  # relative costs are "× 720p"
BASELINE_ASPECT_RATIO = "16:9"
# `auto` aspect: the model picks one of the six sizes, which differ by under 1 % in pixels at 720p
# and 1080p (under 5 % at 480p), so the 16:9 size stands in for all of them.
AUTO_ASPECT_RATIO = "16:9"
AUTO_DURATION_S = (5, 10)  # `auto` duration: the model usually makes 5–10 s, billed by what it made

MIN_HISTORY_RUNS = 3  # fewer past runs than this and the latency model is the better guess
HISTORY_RUNS = 20  # how many recent runs at the same settings the median looks at

CREDIT_RATES_HELP = "one number for every resolution, or a rate per resolution such as 480p=1,720p=2,1080p=4"

HistoryKey = tuple[str, str, bool]  # (resolution, duration, has a reference video)
LatencyModel = Callable[[NodeSettings], tuple[float, float]]  # params -> (low, high) seconds


# ---------------------------------------------------------------------- tokens


def output_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    "The (width, height) Seedance 2 renders; `auto` aspect counts as 16:9."
    ratio = AUTO_ASPECT_RATIO if aspect_ratio == "auto" else aspect_ratio
    try:
        return models.output_size(resolution, ratio)  # the one table, in studio.models
    except ParamsError:
        raise ParamsError(f"No output size for {resolution} at {aspect_ratio}", field="resolution") from None


def frames(seconds: float) -> int:
    "Frames in a clip of `seconds`: 24 per second plus one."
    return round(FPS * seconds) + 1


def tokens(resolution: str, aspect_ratio: str, seconds: float) -> float:
    "Output tokens Seedance 2 bills for one clip."
    width, height = output_size(resolution, aspect_ratio)
    return width * height * frames(seconds) / TOKEN_PIXELS


def relative_cost(resolution: str, aspect_ratio: str = "auto") -> float:
    "Cost of a second at these settings relative to a second at 720p (16:9): 1080p is 2.25."
    width, height = output_size(resolution, aspect_ratio)
    base_w, base_h = output_size(BASELINE_RESOLUTION, BASELINE_ASPECT_RATIO)
    return width * height / (base_w * base_h)


def _times(ratio: float) -> str:
    return f"{ratio:.2f}".rstrip("0").rstrip(".") + "×"


def cost_note(resolution: str, aspect_ratio: str = "auto") -> str:
    "A cell's cost in words: '1080p costs about 2.25× 720p'."
    ratio = relative_cost(resolution, aspect_ratio)
    if round(ratio, 2) == 1:
        return f"{resolution} is the baseline cost"
    return f"{resolution} costs about {_times(ratio)} {BASELINE_RESOLUTION}"


def seconds_range(params: NodeSettings) -> tuple[int, int]:
    "Seconds of video a run will make: its duration, or 5–10 s when the model chooses."
    return (params.seconds, params.seconds) if params.seconds is not None else AUTO_DURATION_S


# ---------------------------------------------------------------------- credits


@dataclass(frozen=True)
class CreditRates:
    "Credits per generated second, by resolution (Mosaic does not publish its rates)."

    per_second: Mapping[str, float]

    def __str__(self) -> str:
        values = {self.per_second[r] for r in RESOLUTIONS}
        if len(values) == 1:
            return f"{values.pop():g}"
        return ",".join(f"{r}={self.per_second[r]:g}" for r in RESOLUTIONS)

    def credits(self, params: NodeSettings) -> tuple[float, float]:
        "(low, high) credits for one run; equal unless the model picks the length."
        rate = self.per_second[params.resolution]
        low, high = seconds_range(params)
        return low * rate, high * rate


def _rate(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParamsError(
            f"STUDIO_CREDITS_PER_SECOND: {where} is not a number ({text!r}); give {CREDIT_RATES_HELP}",
            field="credits_per_second",
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ParamsError(
            f"STUDIO_CREDITS_PER_SECOND: {where} must be zero or more (got {text})", field="credits_per_second"
        )
    return value


def parse_credit_rates(value: object) -> CreditRates | None:
    """Read the credit rate setting: None or blank (no rate), one number (every resolution), or
    `480p=1,720p=2,1080p=4` naming every resolution. Raises ParamsError (a ValueError) otherwise."""
    if value is None or isinstance(value, CreditRates):
        return value
    if isinstance(value, bool):
        raise ParamsError(f"STUDIO_CREDITS_PER_SECOND: give {CREDIT_RATES_HELP}", field="credits_per_second")
    if isinstance(value, (int, float)):
        rate = _rate(str(value), "the rate")
        return CreditRates(dict.fromkeys(RESOLUTIONS, rate))
    text = str(value).strip()
    if not text:
        return None
    if "=" not in text:
        rate = _rate(text, "the rate")
        return CreditRates(dict.fromkeys(RESOLUTIONS, rate))
    rates: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, number = (s.strip() for s in part.partition("="))
        if name not in RESOLUTIONS:
            raise ParamsError(
                f"STUDIO_CREDITS_PER_SECOND: {name!r} is not a resolution; give {CREDIT_RATES_HELP}",
                field="credits_per_second",
            )
        rates[name] = _rate(number, name)
    missing = [r for r in RESOLUTIONS if r not in rates]
    if missing:
        raise ParamsError(
            f"STUDIO_CREDITS_PER_SECOND: no rate for {', '.join(missing)}; give {CREDIT_RATES_HELP}",
            field="credits_per_second",
        )
    return CreditRates(rates)


# ---------------------------------------------------------------------- time


def history_key(params: NodeSettings) -> HistoryKey:
    "What makes past runs comparable: resolution, duration and whether a reference video is given."
    return params.resolution, params.duration, bool(params.selected_context.videos)


def expected_seconds(params: NodeSettings) -> tuple[float, float]:
    "The default latency model (studio.latency): (low, high) seconds one run takes upstream."
    shortest, longest = seconds_range(params)
    video = bool(params.selected_context.videos)
    low = latency.expected_range(params.resolution, shortest, video_reference=video)[0]
    return low, latency.expected_range(params.resolution, longest, video_reference=video)[1]


def run_time(
    params: NodeSettings, past: Sequence[float], latency: LatencyModel = expected_seconds
) -> tuple[tuple[float, float], int]:
    """The one rule for how long a run at these settings takes upstream: ((low, high) seconds, the
    number of past runs behind it). With at least MIN_HISTORY_RUNS recent finished runs at the same
    settings (`past`, newest first), their median; else the latency model (`latency`: Seedance 2's,
    or the simulator's own profile). Both the estimate before launch and a running job's time left
    use it (`studio.services.estimates.run_times`)."""
    recent = list(past)[:HISTORY_RUNS]
    if len(recent) >= MIN_HISTORY_RUNS:
        median = statistics.median(recent)
        return (median, median), len(recent)
    return latency(params), 0


def _time_text(low: float, high: float) -> str:
    def unit(value: float, use_minutes: bool) -> str:
        return f"{round(value / 60):g}" if use_minutes else f"{max(1, round(value)):g}"

    use_minutes = high >= 90
    suffix = "min" if use_minutes else "s"
    lo, hi = unit(low, use_minutes), unit(high, use_minutes)
    return f"about {lo} {suffix}" if lo == hi else f"about {lo}–{hi} {suffix}"


# ---------------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Estimate:
    "What a launch will request and what it will cost: video seconds, tokens, credits and time."

    runs: int
    seconds: tuple[int, int]  # (low, high): equal unless some runs have `auto` length
    auto_runs: int
    tokens: tuple[float, float]
    relative_cost: float  # the launch's tokens ÷ the same seconds at 720p 16:9
    credits: tuple[float, float] | None  # None when no credit rate is configured
    time_s: tuple[float, float]  # wall time until the last run finishes
    history_runs: int  # past runs behind the time; 0 means the latency model alone

    @property
    def seconds_text(self) -> str:
        "'105' or '50–100' (automatic lengths)."
        low, high = self.seconds
        return f"{low}" if low == high else f"{low}–{high}"

    def describe(self) -> str:
        "One line: '21 runs · 105 s of video · about 1.24× the cost of 720p · ready in about 4–11 min'."
        parts = [f"{self.runs} run{'s' if self.runs != 1 else ''}", f"{self.seconds_text} s of video"]
        if self.auto_runs:
            low, high = AUTO_DURATION_S
            parts[-1] += f" ({self.auto_runs} of automatic length, {low}–{high} s each)"
        if self.runs:
            parts.append(f"about {_times(self.relative_cost)} the cost of {BASELINE_RESOLUTION}")
        if self.credits is not None:
            low_c, high_c = (round(c, 2) for c in self.credits)
            parts.append(f"≈ {low_c:g} credits" if low_c == high_c else f"≈ {low_c:g}–{high_c:g} credits")
        if self.runs:
            when = f"ready in {_time_text(*self.time_s)}"
            if self.history_runs:
                when += f" (the median of {self.history_runs} recent run{'s' if self.history_runs != 1 else ''})"
            parts.append(when)
        return " · ".join(parts)


def estimate(
    cells: Sequence[NodeSettings],
    *,
    rates: CreditRates | None = None,
    history: Mapping[HistoryKey, Sequence[float]] | None = None,
    latency: LatencyModel = expected_seconds,
    in_flight: int | None = None,
) -> Estimate:
    """The estimate for launching `cells` together.

    `history` maps `history_key(params)` to the elapsed seconds of recent finished runs at those
    settings, newest first; with at least MIN_HISTORY_RUNS of them, their median replaces the
    latency model for those cells. `latency` is the model otherwise (the simulator passes its
    own). `in_flight` is how many runs go upstream at once (None: all of them).
    """
    history = history or {}
    low_s = sum(seconds_range(p)[0] for p in cells)
    high_s = sum(seconds_range(p)[1] for p in cells)
    low_t = sum(tokens(p.resolution, p.aspect_ratio, seconds_range(p)[0]) for p in cells)
    high_t = sum(tokens(p.resolution, p.aspect_ratio, seconds_range(p)[1]) for p in cells)
    base_t = sum(tokens(BASELINE_RESOLUTION, BASELINE_ASPECT_RATIO, seconds_range(p)[1]) for p in cells)
    credits = None
    if rates is not None:
        pairs = [rates.credits(p) for p in cells]
        credits = (sum(c[0] for c in pairs), sum(c[1] for c in pairs))

    slowest = (0.0, 0.0)
    used: dict[HistoryKey, int] = {}
    for p in cells:
        span, runs = run_time(p, history.get(history_key(p), ()), latency)
        if runs:
            used[history_key(p)] = runs
        slowest = (max(slowest[0], span[0]), max(slowest[1], span[1]))
    # Runs go upstream together; beyond `in_flight` the rest wait for a free slot, in waves.
    waves = math.ceil(len(cells) / in_flight) if in_flight and cells else 1
    return Estimate(
        runs=len(cells),
        seconds=(low_s, high_s),
        auto_runs=sum(1 for p in cells if p.seconds is None),
        tokens=(low_t, high_t),
        relative_cost=high_t / base_t if base_t else 1.0,
        credits=credits,
        time_s=(slowest[0] * waves, slowest[1] * waves),
        history_runs=sum(used.values()),
    )


# ---------------------------------------------------------------------- draft → final (issue 9 §4)


def settings_words(params: NodeSettings) -> str:
    "'480p 4 s', '1080p auto length': a take's resolution and length, as a cost line names them."
    return f"{params.resolution} " + ("auto length" if params.seconds is None else f"{params.seconds} s")


@dataclass(frozen=True)
class CostDifference:
    "What a final costs next to its draft: tokens (and credits, with a rate) of one run of each."

    draft: NodeSettings
    target: NodeSettings
    draft_tokens: tuple[float, float]
    target_tokens: tuple[float, float]
    draft_credits: tuple[float, float] | None  # None when no credit rate is configured
    target_credits: tuple[float, float] | None

    @property
    def ratio(self) -> tuple[float, float]:
        "(low, high) target tokens ÷ draft tokens; equal unless a length is automatic."
        return self.target_tokens[0] / self.draft_tokens[1], self.target_tokens[1] / self.draft_tokens[0]

    def describe(self) -> str:
        "'480p 4 s → 1080p 10 s: about 12× the tokens (≈ 4 → 40 credits)'."
        low, high = (round(r, 1) for r in self.ratio)
        times = f"{low:g}×" if low == high else f"{low:g}–{high:g}×"
        line = f"{settings_words(self.draft)} → {settings_words(self.target)}: about {times} the tokens"
        if self.draft_credits is not None and self.target_credits is not None:
            line += f" (≈ {_credit_text(self.draft_credits)} → {_credit_text(self.target_credits)} credits)"
        return line


def _credit_text(span: tuple[float, float]) -> str:
    low, high = (round(c, 2) for c in span)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def cost_difference(draft: NodeSettings, target: NodeSettings, rates: CreditRates | None = None) -> CostDifference:
    "The token model (and `rates`, when configured) applied to one run of the draft's settings and of the target's."

    def span(p: NodeSettings) -> tuple[float, float]:
        low, high = seconds_range(p)
        return tokens(p.resolution, p.aspect_ratio, low), tokens(p.resolution, p.aspect_ratio, high)

    return CostDifference(
        draft=draft,
        target=target,
        draft_tokens=span(draft),
        target_tokens=span(target),
        draft_credits=rates.credits(draft) if rates is not None else None,
        target_credits=rates.credits(target) if rates is not None else None,
    )
