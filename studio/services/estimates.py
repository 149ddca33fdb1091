"""Estimates: what a launch will request (runs, seconds of video, credits when a rate is set)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import VideoGenerationParams
from .app import Services


@dataclass(frozen=True)
class Estimate:
    "What a launch will request: runs, seconds of video, and credits when a rate is known."

    runs: int
    seconds: int  # known seconds; `auto_runs` more runs have a length the model picks
    auto_runs: int
    credits: float | None

    def describe(self) -> str:
        text = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        fixed = self.runs - self.auto_runs
        if fixed:
            text += f" · {self.seconds} s of video"
        if self.auto_runs:
            text += " · length chosen by the model" if not fixed else f" + {self.auto_runs} of automatic length"
        if self.credits is not None:
            text += f" · ≈ {self.credits:g} credits" + (" (not counting automatic lengths)" if self.auto_runs else "")
        return text


def estimate(services: Services, cells: Sequence[VideoGenerationParams]) -> Estimate:
    "Seconds of video (and credits, when STUDIO_CREDITS_PER_SECOND is set) for these runs."
    seconds = sum(p.seconds or 0 for p in cells)
    auto = sum(1 for p in cells if p.seconds is None)
    rate = services.settings.credits_per_second
    return Estimate(len(cells), seconds, auto, round(seconds * rate, 2) if rate is not None else None)
