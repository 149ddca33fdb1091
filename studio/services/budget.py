"""Budget: today's spend by person, the daily caps every launch is checked against, and each
take's cost and time before its run (an estimate) and after it (what it made and how long it took).

The caps are enforced in one place: `install_guard` gives the store `studio.budget.check`, which
the store runs inside every launch's transaction (Create's takes, a comparison, a retry, a
promotion, `studio generate` and `studio grid` all queue through it) before anything is written,
so a refused launch queues nothing and sends nothing to Mosaic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import budget, costs
from .. import format as fmt
from ..budget import Caps, Spend
from ..models import Generation, NodeSettings, VideoGenerationParams
from ..settings import Settings
from .app import Services
from .estimates import run_times


def caps(settings: Settings) -> Caps:
    "The configured daily caps (none by default) and the credit rate, if any."
    return Caps(
        person_day=settings.cap_person_day,
        studio_day=settings.cap_studio_day,
        unit=settings.cap_unit,
        rates=costs.parse_credit_rates(settings.credits_per_second),
    )


def install_guard(services: Services) -> None:
    "Make the store check the caps on every launch (nothing to check without a cap)."
    limits = caps(services.settings)
    if not limits.any:
        services.store.launch_guard = None
        return

    def guard(launch: Sequence[VideoGenerationParams], author: str, what: str, rows: list[dict]) -> None:
        budget.check(limits, launch, author, rows, what=what)

    services.store.launch_guard = guard


def check_launch(services: Services, launch: Sequence[NodeSettings], author: str, *, what: str = "takes") -> None:
    """Say now (BudgetError) whether a launch would pass a cap, before slow work such as uploading
    references; the launch itself is checked again, atomically, when it is queued."""
    limits = caps(services.settings)
    if limits.any:
        budget.check(limits, launch, author, services.store.spend_rows(), what=what)


def spend_today(services: Services) -> dict[str, Spend]:
    "Today's (UTC) spend by person (generations.author; '' for no name), most seconds first."
    return budget.spend_by_person(services.store.spend_rows(), caps(services.settings).rates)


# ---------------------------------------------------------------------- a take's cost and time


@dataclass(frozen=True)
class CellCost:
    "One cell of a plan: what it is, its seconds, tokens, credits (None: no rate) and time range."

    label: str
    seconds: int
    tokens: float
    credits: float | None
    time_s: tuple[float, float]


def _amounts(seconds: float, tokens: float, credits: float | None) -> str:
    parts = [f"{seconds:g} s of video", f"{tokens:,.0f} tokens"]
    if credits is not None:
        parts.append(f"≈ {round(credits, 2):g} credits")
    return " · ".join(parts)


def cell_costs(services: Services, cells: Sequence[NodeSettings], labels: Sequence[str]) -> list[CellCost]:
    """Each planned cell's estimate: requested seconds (an `auto` length at its longest), tokens,
    credits, and how long its run takes (the same rule as the plan's total: recent runs or the
    latency model)."""
    rates = caps(services.settings).rates
    times = run_times(services, cells)
    out = []
    for params, label, span in zip(cells, labels, times, strict=True):
        seconds = budget.requested_seconds(params.duration)
        spend = budget.take_spend(params.resolution, params.aspect_ratio, seconds, rates)
        out.append(CellCost(label, seconds, spend.tokens, spend.credits, span))
    return out


def time_range(span: tuple[float, float]) -> str:
    "'under 1 s', '4–6 s', '3 min 10 s–6 min'."
    if span[1] < 1:
        return "under 1 s"
    low, high = (fmt.elapsed(v) for v in span)
    if low == high:
        return low
    if low.endswith(" s") and high.endswith(" s") and "min" not in low + high:
        return f"{low.removesuffix(' s')}–{high}"
    return f"{low}–{high}"


def cost_line(services: Services, gen: Generation, expected_s: tuple[float, float] | None = None) -> str:
    """A take's cost in one line. Before and during its run, the estimate ('Estimate: 5 s of video ·
    21,622 tokens · ≈ 10 credits · about 4–6 s'); after it, what it made and took ('Actual: …
    took 5 s'); a failed or cancelled run made nothing and is billed nothing."""
    rates = caps(services.settings).rates
    if gen.status == "done":
        seconds = budget.counted_seconds(gen.model_dump())
        spend = budget.take_spend(gen.resolution, gen.aspect_ratio, seconds, rates)
        took = f" · took {fmt.elapsed(gen.elapsed_s)}" if gen.elapsed_s is not None else ""
        return f"Actual: {_amounts(spend.seconds, spend.tokens, spend.credits)}{took}"
    if gen.status in ("failed", "cancelled"):
        return "Actual: no video made, nothing billed"
    seconds = budget.requested_seconds(gen.duration)
    spend = budget.take_spend(gen.resolution, gen.aspect_ratio, seconds, rates)
    when = f" · about {time_range(expected_s)}" if expected_s and expected_s[1] else ""
    upto = "up to " if gen.duration == "auto" else ""
    return f"Estimate: {upto}{_amounts(spend.seconds, spend.tokens, spend.credits)}{when}"
