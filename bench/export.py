"""Benchmark: exporting a 21-cell comparison (3 resolutions × 7 aspect ratios) against simply copying
the files it holds, side by side, with the ratios; then its contact sheet and its comparison video.

- ZIP: `studio.exports.write_zip` (videos and thumbnails stored, metadata.json/csv, index.html)
  against `shutil.copyfile` of the same videos and thumbnails into a folder: time and bytes.
- contact sheet (PNG) and comparison video (H.264 mosaic, ffmpeg under `nice`): time and bytes,
  the video's size and length.

The comparison is rendered once by the in-process simulator (real H.264 + AAC files at Seedance 2's
sizes). Each measurement is the best of `--repeat` runs (the machine is shared).

    .venv/bin/python bench/export.py [--duration 5] [--repeat 3]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio import exports
from studio import services as svc
from studio.models import ASPECT_RATIOS, RESOLUTIONS, VideoGenerationParams
from studio.settings import Settings
from studio.simulator import SimConfig, Simulator

BENCH_KEY = "mk_bench"
PROMPT = "A red kite over a windy beach, benchmark export"


def best(repeat: int, run: Callable[[int], Any]) -> tuple[float, Any]:
    "The shortest wall time of `repeat` runs of run(i), and the last result."
    times, result = [], None
    for i in range(repeat):
        started = time.perf_counter()
        result = run(i)
        times.append(time.perf_counter() - started)
    return min(times), result


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", default="5", help="seconds of each cell (default 5)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    config = SimConfig(latency=0.5, latency_per_second=0.0, media_dir=work / "sim")
    with Simulator(config).start() as sim:
        settings = Settings(
            api_key=BENCH_KEY, base_url=sim.base_url, data_dir=work / "data", poll_interval=0.25, max_poll_interval=0.5
        )
        services = svc.build_services(settings)
        try:
            started = time.perf_counter()
            grid_id, ids = svc.start_grid(
                services,
                VideoGenerationParams(prompt=PROMPT, duration=args.duration),
                resolutions=RESOLUTIONS,
                aspect_ratios=ASPECT_RATIOS,  # auto included: 3 × 7 = 21 cells
            )
            gens = svc.wait_for(services, ids, timeout=1800)
            if any(g.status != "done" for g in gens):
                raise SystemExit("the comparison did not finish")
            print(f"rendered a {len(ids)}-cell comparison in {time.perf_counter() - started:.1f} s", flush=True)
            selected = svc.resolve(services, svc.Selection("grid", grid_id))
            media = settings.media_dir
            members = exports.members(selected, media)
            sources = [p for m in members for p in (m.video, m.thumb) if p is not None]
            source_bytes = sum(p.stat().st_size for p in sources)

            def copy(i: int) -> int:
                dest = work / f"copy{i}"
                dest.mkdir()
                for p in sources:
                    shutil.copyfile(p, dest / p.name)
                return folder_bytes(dest)

            copy_s, copy_bytes = best(args.repeat, copy)
            zip_s, zip_bytes = best(args.repeat, lambda i: exports.write_zip(selected, media, work / f"e{i}.zip"))
            sheet_s, sheet_size = best(
                args.repeat, lambda i: exports.write_contact_sheet(selected, media, work / f"s{i}.png")
            )
            sheet_bytes = (work / "s0.png").stat().st_size
            video_s, video_size = best(
                max(1, args.repeat - 1), lambda i: exports.write_comparison_video(selected, media, work / f"v{i}.mp4")
            )
            video_bytes = (work / "v0.mp4").stat().st_size
            plan = exports.mosaic(selected, members)
        finally:
            services.close()
    shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{len(members)}-cell comparison: {len(sources)} files ({len(members)} videos + thumbnails), "
        f"{source_bytes:,} bytes"
    )
    print(f"{'':28}{'time':>10}{'bytes':>14}{'time ratio':>12}{'bytes ratio':>13}")
    print(f"{'copy the files':28}{copy_s * 1000:>8.1f}ms{copy_bytes:>14,}{1.0:>12.2f}{1.0:>13.3f}")
    print(
        f"{'ZIP export':28}{zip_s * 1000:>8.1f}ms{zip_bytes:>14,}{zip_s / copy_s:>12.2f}{zip_bytes / copy_bytes:>13.3f}"
    )
    print(f"{'contact sheet (PNG)':28}{sheet_s * 1000:>8.1f}ms{sheet_bytes:>14,}   {sheet_size[0]}×{sheet_size[1]}")
    print(
        f"{'comparison video (MP4)':28}{video_s:>9.2f}s{video_bytes:>14,}   {video_size[0]}×{video_size[1]}, "
        f"{plan.seconds:.2f} s at 24 fps"
    )
    print(
        f"copy_s={copy_s:.4f} copy_bytes={copy_bytes} zip_s={zip_s:.4f} zip_bytes={zip_bytes} "
        f"zip_time_ratio={zip_s / copy_s:.2f} zip_bytes_ratio={zip_bytes / copy_bytes:.4f} sheet_s={sheet_s:.3f} "
        f"sheet_bytes={sheet_bytes} video_s={video_s:.2f} video_bytes={video_bytes} "
        f"video_w={video_size[0]} video_h={video_size[1]}"
    )


if __name__ == "__main__":
    main()
