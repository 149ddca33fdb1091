"""Benchmark: how far apart the review player's cells drift while they play, for 2, 4 and 9 cells
side by side, in Debian's Chromium on this machine.

The player (studio/player/sync_player.js, the same module the studio's pages and share pages run)
is served on a plain local page (uvicorn + Starlette, clips with Range requests from
studio.web.MediaFiles), booted by share_boot.js. The clips are real H.264 + AAC takes of mixed
aspect ratios (16:9, 1:1, 9:16, 4:3, 9:16 ..., 480p sizes) rendered once by studio.media. Each case
plays from 0 for `--seconds`; every 100 ms the page reads every video's currentTime in one go and
the spread (latest minus earliest cell) is one sample. Printed: the median, 90th percentile and
maximum spread in ms, the same after the first second (the start settles), and the player's own
follower-vs-leader drift as it saw it on the leader's frames (requestVideoFrameCallback).

    .venv/bin/python bench/player_drift.py [--seconds 8] [--repeat 2]

Needs Debian's /usr/bin/chromium (scripts/test installs it). The last line holds key=value pairs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from html import escape
from pathlib import Path

from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import CHROMIUM, CHROMIUM_ARGS  # the browser tests' Chromium and its flags
from share_page import _serve  # uvicorn in a thread on a free port

from studio import media, player
from studio.models import output_size
from studio.web import MediaFiles

CASES = (2, 4, 9)
RATIOS = ("16:9", "1:1", "9:16", "4:3", "3:4", "21:9", "16:9", "9:16", "1:1")
SAMPLE_MS = 100
SETTLE_S = 1.0
VIEWPORT = {"width": 1440, "height": 900}


def render_clips(folder: Path, seconds: int) -> list[player.Clip]:
    clips = []
    for i, ratio in enumerate(RATIOS):
        width, height = output_size("480p", ratio)
        name = f"clip{i}.mp4"
        media.render_clip(
            folder / name, width=width, height=height, seconds=seconds, audio=True, text=f"{i + 1} {ratio}"
        )
        clips.append(player.Clip(f"c{i}", f"/clips/{name}", f"{i + 1} · {ratio}", width, height, float(seconds)))
    return clips


def app(clips: list[player.Clip], folder: Path) -> Starlette:
    def page(request: Request) -> Response:
        n = int(request.query_params.get("n", "2"))
        data = player.player_data(clips[:n], key=f"bench-{n}", dense=n > player.SHARE_DENSE_ABOVE)
        body = (
            f"<!doctype html><html><head><meta charset=utf-8><style>{player.CSS}</style></head><body>"
            f"<div data-player='{escape(json.dumps(data), quote=True)}'></div>"
            f'<script type="module" src="{player.PLAYER_ROUTE}/share_boot.js"></script></body></html>'
        )
        return HTMLResponse(body)

    def asset(request: Request) -> Response:
        return Response(player.ASSET_FILES[request.path_params["name"]], media_type="text/javascript")

    return Starlette(
        routes=[
            Route("/", page),
            Route(f"{player.PLAYER_ROUTE}/{{name}}", asset),
            Mount("/clips", app=MediaFiles(directory=folder)),
        ]
    )


def measure(browser, base: str, n: int, seconds: float) -> tuple[list[float], list[float], list[float]]:
    "(spread samples in ms over the whole run, those after SETTLE_S, the player's own drift samples in ms)."
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(f"{base}/?n={n}")
        key = f"bench-{n}"
        page.wait_for_function(
            f"() => {{ const p = window.__studioPlayers?.['{key}'];"
            f" return p && p.videos.length === {n} && p.videos.every(v => v.readyState >= 3); }}",
            timeout=60_000,
        )
        page.get_by_role("button", name="Play / pause (space)").click()
        started = time.monotonic()
        spreads: list[tuple[float, float]] = []
        while time.monotonic() - started < seconds:
            times = page.evaluate(f"() => window.__studioPlayers['{key}'].times()")
            spreads.append((time.monotonic() - started, (max(times) - min(times)) * 1000))
            page.wait_for_timeout(SAMPLE_MS)
        own = page.evaluate(f"() => window.__studioPlayers['{key}'].drifts.map(d => d * 1000)")
        page.keyboard.press("Space")
        return [s for _, s in spreads], [s for t, s in spreads if t >= SETTLE_S], own
    finally:
        page.close()


def describe(samples: list[float]) -> str:
    if not samples:
        return "—"
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"{statistics.median(ordered):5.0f} / {p90:4.0f} / {ordered[-1]:4.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="playback measured per case (default 8)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per case, pooled (default 2)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-player-"))
    clips = render_clips(folder, int(args.seconds) + 2)
    server, thread, base = _serve(app(clips, folder))
    results = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for n in CASES:
                pooled: tuple[list[float], list[float], list[float]] = ([], [], [])
                for _ in range(args.repeat):
                    for into, got in zip(pooled, measure(browser, base, n, args.seconds), strict=True):
                        into.extend(got)
                results[n] = pooled
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    print(f"Spread between cells while playing, ms (median / p90 / max), {args.repeat} × {args.seconds:g} s each:")
    print(f"{'cells':>5} | {'whole run':>18} | {'after 1 s':>18} | {'player, leader frames':>22}")
    for n, (whole, settled, own) in results.items():
        print(f"{n:>5} | {describe(whole):>18} | {describe(settled):>18} | {describe(own):>22}")
    pairs = []
    for n, (whole, settled, _) in results.items():
        pairs += [f"median_ms_{n}={statistics.median(whole):.0f}", f"max_ms_{n}={max(whole):.0f}"]
        pairs += [f"settled_max_ms_{n}={max(settled):.0f}"]
    print(" ".join(pairs))


if __name__ == "__main__":
    main()
