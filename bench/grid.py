"""Benchmark: a 21-cell grid (3 resolutions x 7 aspect ratios) against one generation, with the
same simulator latency, through the real client, job runner, downloads, probes and thumbnails.

Also counts API calls per generation (from the simulator's request log). Targets: grid/single
wall-time ratio at most 1.2; 1 call to start a generation on a warm agent pool, plus polls.

    .venv/bin/python bench/grid.py [--latency 4] [--duration 5]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from studio import services as svc
from studio.models import ASPECT_RATIOS, RESOLUTIONS, VideoGenerationParams
from studio.settings import Settings
from studio.simulator import SimConfig, Simulator

BENCH_KEY = "mk_bench"
POLL_INTERVAL_S = 0.25
START_ROUTES = ("run", "agent_create", "agent_update")


def timed(services: svc.Services, ids: list[str]) -> float:
    started = time.perf_counter()
    gens = svc.wait_for(services, ids, timeout=600)
    elapsed = time.perf_counter() - started
    bad = [g for g in gens if g.status != "done"]
    if bad:
        raise SystemExit(f"{len(bad)} generation(s) did not finish: {bad[0].error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=4.0, help="simulator seconds per run")
    parser.add_argument("--latency-per-second", type=float, default=0.1)
    parser.add_argument("--duration", default="5", help="seconds of video per cell")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="bench-grid-"))
    config = SimConfig(latency=args.latency, latency_per_second=args.latency_per_second, media_dir=data / "sim")
    with Simulator(config).start() as sim:
        settings = Settings(
            api_key=BENCH_KEY,
            base_url=sim.base_url,
            data_dir=data / "studio",
            poll_interval=POLL_INTERVAL_S,
            max_poll_interval=POLL_INTERVAL_S,
        )
        services = svc.build_services(settings)
        base = VideoGenerationParams(prompt="A lighthouse at dusk, waves, slow dolly in", duration=args.duration)
        try:
            single_cold_s = timed(services, svc.generate(services, base))
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
    start_calls = sum(calls[r] for r in START_ROUTES) / cells
    polls = calls["run_get"] / cells
    ratio = grid_s / single_s
    print(f"simulator latency {args.latency}s + {args.latency_per_second}s/s, {args.duration}s clips")
    print(f"{'':28}{'wall s':>8}{'ratio':>8}")
    print(f"{'one generation (warm pool)':28}{single_s:8.2f}{1:8.2f}")
    print(f"{'one generation (cold pool)':28}{single_cold_s:8.2f}{single_cold_s / single_s:8.2f}")
    print(f"{f'{cells}-cell grid (warm pool)':28}{grid_s:8.2f}{ratio:8.2f}")
    print(f"{f'{cells}-cell grid (cold pool)':28}{grid_cold_s:8.2f}{grid_cold_s / single_s:8.2f}")
    print(
        f"API calls per generation (warm grid): {start_calls:.2f} to start "
        f"(run={calls['run']}, agent_create={calls['agent_create']}, agent_update={calls['agent_update']}), "
        f"{polls:.2f} polls, {calls['storage_download'] / cells:.2f} downloads"
    )
    print(
        f"ratio={ratio:.2f} ratio_cold={grid_cold_s / single_s:.2f} cells={cells} single_s={single_s:.2f} "
        f"grid_s={grid_s:.2f} grid_cold_s={grid_cold_s:.2f} start_calls_per_gen={start_calls:.2f} "
        f"polls_per_gen={polls:.2f}"
    )


if __name__ == "__main__":
    main()
