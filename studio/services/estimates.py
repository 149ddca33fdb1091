"""Estimates: what a launch will request and cost (the token model of `studio.costs`, credits
when a rate is configured) and how long it will take (the latency model, or the median of recent
runs at the same settings through the same API).

How long one run takes has one rule, `costs.run_time`, fed here with the store's history and the
latency model in use (the simulator's own profile when it stands in for Mosaic): the estimate
before launch and the time left of a run in flight (`watch`, through `run_times`) both use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import costs
from ..costs import Estimate, HistoryKey, LatencyModel
from ..models import NodeSettings
from .app import Services


def estimate(services: Services, cells: Sequence[NodeSettings]) -> Estimate:
    "Runs, seconds of video, relative cost, credits (when STUDIO_CREDITS_PER_SECOND is set) and time."
    return costs.estimate(
        cells,
        rates=costs.parse_credit_rates(services.settings.credits_per_second),
        history=_history(services, cells),
        latency=_latency(services),
        in_flight=services.settings.max_in_flight,
    )


def run_times(services: Services, cells: Sequence[NodeSettings]) -> list[tuple[float, float]]:
    """How long one run of each cell takes upstream, (low, high) seconds, by the same rule as the
    estimate: one history query per distinct setting, however many cells share it."""
    history, latency = _history(services, cells), _latency(services)
    return [costs.run_time(p, history[costs.history_key(p)], latency)[0] for p in cells]


def cost_note(params: NodeSettings) -> str:
    "What a second at these settings costs next to 720p, known without any credit rate."
    return costs.cost_note(params.resolution, params.aspect_ratio)


def _history(services: Services, cells: Sequence[NodeSettings]) -> dict[HistoryKey, list[float]]:
    keys = {costs.history_key(p) for p in cells}
    return {
        key: services.store.recent_elapsed(
            services.runner.scope, resolution=key[0], duration=key[1], with_video=key[2], limit=costs.HISTORY_RUNS
        )
        for key in keys
    }


def _latency(services: Services) -> LatencyModel:
    "The built-in simulator's own timing when it stands in for Mosaic; Seedance 2's otherwise."
    if services.simulator is None:
        return costs.expected_seconds
    config = services.simulator.config

    def simulated(params: NodeSettings) -> tuple[float, float]:
        if config.realistic:
            low, high = costs.expected_seconds(params)
        else:
            shortest, longest = costs.seconds_range(params)
            low = config.latency + config.latency_per_second * shortest
            high = config.latency + config.latency_per_second * longest
        return low * config.time_scale, high * config.time_scale

    return simulated
