"""Benchmark: a 21-cell grid (3 resolutions x 7 aspect ratios) against one generation, through the
real client, job runner, downloads, probes and thumbnails, at two simulator profiles in one run:

- fast: a fixed latency of a few seconds per run (the tests' kind of simulator);
- realistic: Seedance 2's minutes-long runs (seedance-2.md), time-scaled, with the studio's poll
  timing (first poll, shortest and longest wait) scaled by the same factor, so the number of API
  calls is what a real grid would cost.

It prints the grid/single wall-time ratio and API calls per generation from the simulator's request
log: to start (run, plus agent create/update on a cold pool), to follow (the run listing and any
single-run GETs) and, listed apart, the storage downloads. Targets: ratio at most 1.2 at the fast
profile; at most 2 API calls per generation (start + status) for the 21-cell grid at the realistic one.

    .venv/bin/python bench/grid.py [--latency 4] [--duration 5] [--time-scale 0.02] [--skip-realistic]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from studio import services as svc
from studio.models import ASPECT_RATIOS, RESOLUTIONS, VideoGenerationParams
from studio.settings import (
    DEFAULT_FIRST_POLL_AFTER_S,
    DEFAULT_MAX_POLL_INTERVAL_S,
    DEFAULT_POLL_INTERVAL_S,
    DEFAULT_WEBHOOK_POLL_INTERVAL_S,
    Settings,
)
from studio.simulator import SimConfig, Simulator

BENCH_KEY = "mk_bench"
FAST_POLL_INTERVAL_S = 0.25  # the fast profile's runs take seconds: look four times a second
DEFAULT_TIME_SCALE = 0.02  # a 5-minute run takes 6 s
# Without the simulator's realistic profile, a fixed latency in the middle of 480p/720p's 3-6 min.
FALLBACK_REALISTIC_LATENCY_S = 300.0
START_ROUTES = ("run", "agent_create", "agent_update")
STATUS_ROUTES = ("runs", "run_get", "agent_runs")  # the listing, single-run GETs, lost-answer lookups


def timed(services: svc.Services, ids: list[str]) -> float:
    started = time.perf_counter()
    gens = svc.wait_for(services, ids, timeout=1800)
    elapsed = time.perf_counter() - started
    bad = [g for g in gens if g.status != "done"]
    if bad:
        raise SystemExit(f"{len(bad)} generation(s) did not finish: {bad[0].error}")
    return elapsed


def sim_config(**wanted: Any) -> tuple[SimConfig, str]:
    """A simulator config with the options this simulator knows; says which latency it got.
    The realistic profile (`realistic`, `time_scale`) is used when the simulator has one."""
    known = {f.name for f in dataclasses.fields(SimConfig)} if dataclasses.is_dataclass(SimConfig) else set()
    known |= set(getattr(SimConfig, "model_fields", {}))
    if wanted.pop("realistic", False):
        scale = wanted.pop("time_scale")
        if {"realistic", "time_scale"} <= known:
            options = {**wanted, "realistic": True, "time_scale": scale}
            return SimConfig(**options), f"realistic profile x{scale}"
        latency = FALLBACK_REALISTIC_LATENCY_S * scale
        label = f"fixed {FALLBACK_REALISTIC_LATENCY_S:.0f}s x{scale} (no realistic profile in this simulator)"
        return SimConfig(**wanted, latency=latency, latency_per_second=0.0), label
    return SimConfig(**wanted), f"fixed {wanted.get('latency')}s + {wanted.get('latency_per_second')}s/s"


def run_profile(name: str, config: SimConfig, settings_kw: dict[str, Any], base: VideoGenerationParams, data: Path):
    "Warm single, cold grid (fills the pool), warm grid; returns timings and the warm grid's calls."
    with Simulator(config).start() as sim:
        settings = Settings(api_key=BENCH_KEY, base_url=sim.base_url, data_dir=data / name, **settings_kw)
        services = svc.build_services(settings)
        try:
            timed(services, svc.generate(services, base))  # creates the first pooled agent
            single_s = timed(services, svc.generate(services, base))
            _, ids = svc.start_grid(services, base, resolutions=RESOLUTIONS, aspect_ratios=ASPECT_RATIOS)
            grid_cold_s = timed(services, ids)
            before = Counter(sim.stats()["requests"])
            _, ids = svc.start_grid(services, base, resolutions=RESOLUTIONS, aspect_ratios=ASPECT_RATIOS)
            grid_s = timed(services, ids)
            calls = Counter(sim.stats()["requests"]) - before
        finally:
            services.close()
    cells = len(ids)
    start = sum(calls[r] for r in START_ROUTES) / cells
    status = sum(calls[r] for r in STATUS_ROUTES) / cells
    return {
        "single_s": single_s,
        "grid_s": grid_s,
        "grid_cold_s": grid_cold_s,
        "ratio": grid_s / single_s,
        "cells": cells,
        "start": start,
        "status": status,
        "total": start + status,
        "downloads": calls["storage_download"] / cells,
        "calls": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=4.0, help="fast profile: simulator seconds per run")
    parser.add_argument("--latency-per-second", type=float, default=0.1)
    parser.add_argument("--duration", default="5", help="seconds of video per cell")
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE, help="realistic profile's clock")
    parser.add_argument("--skip-realistic", action="store_true", help="only the fast profile")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="bench-grid-"))
    base = VideoGenerationParams(prompt="A lighthouse at dusk, waves, slow dolly in", duration=args.duration)
    profiles: dict[str, tuple[str, dict[str, Any]]] = {}
    config, label = sim_config(
        latency=args.latency, latency_per_second=args.latency_per_second, media_dir=data / "sim-fast"
    )
    fast_kw = {"poll_interval": FAST_POLL_INTERVAL_S, "max_poll_interval": FAST_POLL_INTERVAL_S}
    results = {"fast": run_profile("fast", config, fast_kw, base, data)}
    profiles["fast"] = (label, fast_kw)
    if not args.skip_realistic:
        scale = args.time_scale
        config, label = sim_config(realistic=True, time_scale=scale, media_dir=data / "sim-real")
        real_kw = {
            "poll_interval": DEFAULT_POLL_INTERVAL_S * scale,
            "max_poll_interval": DEFAULT_MAX_POLL_INTERVAL_S * scale,
            "first_poll_after": DEFAULT_FIRST_POLL_AFTER_S * scale,
            "webhook_poll_interval": DEFAULT_WEBHOOK_POLL_INTERVAL_S * scale,
        }
        results["realistic"] = run_profile("realistic", config, real_kw, base, data)
        profiles["realistic"] = (label, real_kw)

    print(f"{args.duration}s clips, {results['fast']['cells']}-cell grid (3 resolutions x 7 aspect ratios), warm pool")
    print(f"{'profile':11}{'single s':>10}{'grid s':>9}{'ratio':>7}{'start':>7}{'status':>8}{'total':>7}{'downl.':>8}")
    for name, r in results.items():
        print(
            f"{name:11}{r['single_s']:10.2f}{r['grid_s']:9.2f}{r['ratio']:7.2f}{r['start']:7.2f}"
            f"{r['status']:8.2f}{r['total']:7.2f}{r['downloads']:8.2f}"
        )
    for name, (label, kw) in profiles.items():
        calls = results[name]["calls"]
        routes = ", ".join(f"{k}={calls[k]}" for k in (*START_ROUTES, *STATUS_ROUTES, "storage_download"))
        timing = ", ".join(f"{k}={v:g}s" for k, v in kw.items())
        print(f"  {name}: simulator {label}; studio {timing}; calls {routes}")
    print("API calls per generation: start + status (listing, single-run GETs); downloads are storage, not API")
    pairs = []
    for name, r in results.items():
        pairs += [
            f"{name}_ratio={r['ratio']:.2f}",
            f"{name}_calls_per_gen={r['total']:.2f}",
            f"{name}_start_per_gen={r['start']:.2f}",
            f"{name}_status_per_gen={r['status']:.2f}",
            f"{name}_downloads_per_gen={r['downloads']:.2f}",
        ]
    print(" ".join(pairs))


if __name__ == "__main__":
    main()
