"""Spend and daily caps: what today's launches have committed, per person and for the studio, and
the check every launch passes before anything is queued.

What counts (one rule, here): a take counts on the UTC day it was queued (`created_at`). A take
that is queued or running counts its requested seconds (an `auto` length counts its longest,
10 s, as the model may make that much); a finished take counts the seconds Mosaic billed, the
whole seconds it made (`floor(frames / 24)`); a failed or cancelled run made no video and billed
nothing, so it counts 0. Tokens follow Seedance 2's model (`studio.costs.tokens`), credits the
configured rate (`STUDIO_CREDITS_PER_SECOND`). Days are UTC days, as share links' dates are:
every cap resets at 00:00 UTC. A retry is checked against today's caps like any launch (it adds
its seconds), and then counts on the day its take was first queued.

Pure: the store reads the rows and calls `check` inside the launch's own transaction, so two
launches at once cannot both pass on the same remaining budget (`studio.services.budget`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from . import costs
from .costs import CreditRates
from .errors import BudgetError
from .models import ACTIVE_STATUSES, NodeSettings

CAP_UNITS = ("seconds", "credits")
DEFAULT_CAP_UNIT = "seconds"
RESET_NOTE = "Caps reset at 00:00 UTC."
NO_NAME = "(no name)"  # how a take without an author is shown
# The columns of a generation the spend reads (HistoryStore.spend_rows).
SPEND_COLUMNS = ("author", "status", "resolution", "aspect_ratio", "duration", "duration_s")


@dataclass(frozen=True)
class Spend:
    "What one person (or the studio) has committed today."

    takes: int = 0
    seconds: float = 0.0  # of video
    tokens: float = 0.0
    credits: float | None = None  # None when no credit rate is configured

    def __add__(self, other: Spend) -> Spend:
        credits = None if self.credits is None and other.credits is None else (self.credits or 0) + (other.credits or 0)
        return Spend(self.takes + other.takes, self.seconds + other.seconds, self.tokens + other.tokens, credits)

    def amount(self, unit: str) -> float:
        "This spend in a cap's unit."
        return (self.credits or 0.0) if unit == "credits" else self.seconds


@dataclass(frozen=True)
class Caps:
    "The configured daily caps (None: no cap) in one unit, with the credit rate credits need."

    person_day: float | None = None
    studio_day: float | None = None
    unit: str = DEFAULT_CAP_UNIT
    rates: CreditRates | None = None

    @property
    def any(self) -> bool:
        return self.person_day is not None or self.studio_day is not None

    def text(self, amount: float, *, of_video: bool = True) -> str:
        "'120 s of video', '100 s', '500 credits'."
        if self.unit == "credits":
            return f"{round(amount, 2):g} credit{'s' if round(amount, 2) != 1 else ''}"
        return f"{round(amount, 1):g} s" + (" of video" if of_video else "")


def day_start(now: datetime | None = None) -> datetime:
    "The start of today's budget day: midnight UTC."
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return datetime.combine(moment.date(), time(0), tzinfo=UTC)


def requested_seconds(duration: str) -> int:
    "Seconds a queued run may make: its duration, or the longest an `auto` length usually is."
    return costs.AUTO_DURATION_S[1] if duration == "auto" else int(duration)


def counted_seconds(row: Mapping[str, Any]) -> float:
    "The seconds a take counts for (see the module docstring)."
    status = row.get("status")
    if status in ACTIVE_STATUSES:
        return float(requested_seconds(str(row.get("duration") or "auto")))
    if status == "done":
        made = row.get("duration_s")
        if made is None:
            return float(requested_seconds(str(row.get("duration") or "auto")))
        return float(math.floor(float(made) + 1e-6))  # Mosaic bills whole seconds: floor(frames / 24)
    return 0.0  # failed, cancelled: no video made, nothing billed


def take_spend(resolution: str, aspect_ratio: str, seconds: float, rates: CreditRates | None) -> Spend:
    "One take of `seconds` at these settings."
    if seconds <= 0:
        return Spend(takes=1, credits=None if rates is None else 0.0)
    return Spend(
        takes=1,
        seconds=seconds,
        tokens=costs.tokens(resolution, aspect_ratio, seconds),
        credits=None if rates is None else seconds * rates.per_second[resolution],
    )


def spend_by_person(rows: Iterable[Mapping[str, Any]], rates: CreditRates | None) -> dict[str, Spend]:
    "Today's rows (SPEND_COLUMNS) summed per author, most seconds first."
    out: dict[str, Spend] = {}
    for row in rows:
        person = str(row.get("author") or "")
        one = take_spend(str(row["resolution"]), str(row["aspect_ratio"]), counted_seconds(row), rates)
        out[person] = out.get(person, Spend(credits=None if rates is None else 0.0)) + one
    return dict(sorted(out.items(), key=lambda item: (-item[1].seconds, item[0])))


def total(spends: Mapping[str, Spend], rates: CreditRates | None = None) -> Spend:
    "The studio's spend: everyone's together."
    out = Spend(credits=None if rates is None else 0.0)
    for spend in spends.values():
        out = out + spend
    return out


def launch_spend(launch: Sequence[NodeSettings], rates: CreditRates | None) -> Spend:
    "What a launch would add: each run's requested seconds (an `auto` length at its longest)."
    out = Spend(credits=None if rates is None else 0.0)
    for params in launch:
        out = out + take_spend(params.resolution, params.aspect_ratio, requested_seconds(params.duration), rates)
    return out


def launch_noun(what: str, runs: int) -> str:
    "'this comparison', 'this run', 'these 3 takes', 'this retry'."
    if what in ("comparison", "retry", "promotion"):
        return f"this {what}"
    return "this run" if runs == 1 else f"these {runs} takes"


def check(
    caps: Caps,
    launch: Sequence[NodeSettings],
    person: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    what: str = "takes",
) -> None:
    """Refuse (BudgetError) a launch that would take a person or the studio past a daily cap.
    `rows` are today's takes (SPEND_COLUMNS), as the store reads them in the launch's transaction."""
    if not caps.any or not launch:
        return
    spends = spend_by_person(rows, caps.rates)
    adding = launch_spend(launch, caps.rates).amount(caps.unit)
    noun = launch_noun(what, len(launch))
    mine = spends.get(person, Spend()).amount(caps.unit)
    if caps.person_day is not None and mine + adding > caps.person_day + 1e-9:
        raise _refusal(caps, "person", caps.person_day, mine, adding, noun)
    everyone = total(spends, caps.rates).amount(caps.unit)
    if caps.studio_day is not None and everyone + adding > caps.studio_day + 1e-9:
        raise _refusal(caps, "studio", caps.studio_day, everyone, adding, noun)


def _refusal(caps: Caps, scope: str, cap: float, spent: float, adding: float, noun: str) -> BudgetError:
    whose, who = ("Your", "you have") if scope == "person" else ("The studio's", "the studio has")
    message = (
        f"{whose} daily cap is {caps.text(cap)}; {who} used {caps.text(spent, of_video=False)} today and "
        f"{noun} would add {caps.text(adding, of_video=False)}. {RESET_NOTE}"
    )
    return BudgetError(message, scope=scope, cap=cap, spent=spent, adding=adding, unit=caps.unit)


def share(spend: Spend, cap: float | None, unit: str) -> float | None:
    "How much of a cap a spend has used (0..1+), or None without a cap."
    return None if cap is None else spend.amount(unit) / cap
