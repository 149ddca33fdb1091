"""Helpers for the browser journeys (import as `from browser import screenshot, wait_for_app`)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BOOT_TIMEOUT_S = 60
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


# Debian's Chromium (never `playwright install`), with the flags this closed network needs.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot(page, name: str) -> Path:
    "Save a full-height screenshot (Streamlit scrolls inside stMain, so grow the viewport first)."
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => Math.max(document.querySelector('[data-testid=stMain]')?.scrollHeight || 0, 1000)")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 50, 8000)})
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    return path


def wait_for_app(page) -> None:
    "Wait until Streamlit has rendered and finished running the script."
    page.wait_for_selector("[data-testid=stMain]", timeout=30_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=30_000)


def pick(page, key: str, option: str) -> None:
    """Open a multiselect or selectbox by its widget key and choose one option, once the page has
    settled (a rerun redrawing the widget would close the list under the click)."""
    wait_for_app(page)
    page.locator(f".st-key-{key} [role='combobox']").click()
    if not page.get_by_role("listbox").is_visible():
        page.keyboard.press("ArrowDown")  # a selectbox that has a value opens from the keyboard
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


CELLS = "[class*='st-key-grid_cell_']"  # a comparison's cells on Compare


PLAYERS = ".st-key-compare_grid_live"  # where a comparison's review players are (its cells' videos)
# Every video under the elements matching a selector, those inside the review players' shadow roots too.
VIDEOS_UNDER = """sel => [...document.querySelectorAll(sel)].flatMap(el => [el, ...el.querySelectorAll("*")])
    .flatMap(el => el.tagName === "VIDEO" ? [el] : el.shadowRoot ? [...el.shadowRoot.querySelectorAll("video")] : [])"""


def videos_ready(count: int, within: str = PLAYERS) -> str:
    """A browser condition: exactly `count` videos inside `within` (review players included), each far
    enough along to know its size."""
    return (
        f"() => {{ const v = ({VIDEOS_UNDER})({within!r});"
        f" return v.length === {count} && v.every(x => x.readyState >= 1 && x.videoWidth > 0); }}"
    )


def launch_comparison(
    page, prompt: str, *, cells: int, resolutions=(), aspect_ratios=(), timeout_ms: int = 90_000
) -> None:
    """On Compare, as a person: the prompt, these resolutions and aspect ratios beside the ones already
    chosen (720p; 16:9 and 9:16), 4 s instead of 5 s; launch once the summary says `cells` cells, then
    wait until every cell's video is there (in the comparison's review player)."""
    page.locator(".st-key-compare_prompt textarea").fill(prompt)
    for resolution in resolutions:
        pick(page, "compare_resolutions", resolution)
    for ratio in aspect_ratios:
        pick(page, "compare_aspect_ratios", ratio)
    page.locator(".st-key-compare_durations").get_by_role("button", name="Remove 5 s").click()
    pick(page, "compare_durations", "4 s")
    page.locator(".st-key-compare_summary", has_text=f"{cells} cells").wait_for()
    wait_for_app(page)  # not while the page redraws: the click could land on a replaced button
    page.locator(".st-key-compare_launch button").click()
    page.wait_for_url(re.compile(r"/compare\?grid=[0-9a-f]+$"), timeout=60_000)
    page.wait_for_function(videos_ready(cells), timeout=timeout_ms)
    wait_for_app(page)


def type_name(page, name: str) -> None:
    "Tell the studio who you are the way a person does: the sidebar's name box, then Remember me."
    wait_for_app(page)
    page.locator(".st-key-studio_person_input input").fill(name)
    page.get_by_role("button", name="Remember me").click()
    wait_for_app(page)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StudioServer:
    "The studio as a person starts it (`streamlit run asgi_app.py`, simulator mode) on a data folder."

    def __init__(self, data: Path, *, home: Path | None = None, port: int | None = None, **env: str):
        """`env`: settings for this server beyond the defaults below (e.g. STUDIO_SIM_LATENCY);
        `home`: the server's home folder, whose .streamlit/secrets.toml it reads (e.g. a login's
        [auth]); `port`: where it listens (by default a free one)."""
        self.data = data
        self.env = env
        self.home = home
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> StudioServer:
        port = self.port or free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MOSAIC_API_KEY", "MOSAIC_BASE_URL")}
        if self.home is not None:
            env["HOME"] = str(self.home)
        env.update(
            MOSAIC_API_KEY="",  # simulator mode even beside a developer's secrets.toml: the environment wins
            STUDIO_DATA_DIR=str(self.data),
            STUDIO_SIM_LATENCY="1.0",
            STUDIO_SIM_LATENCY_PER_SECOND="0.05",
            STUDIO_POLL_INTERVAL="0.5",
            STUDIO_MAX_POLL_INTERVAL="1.0",
        )
        env.update(self.env)
        self.data.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data / "server.log", "a")  # noqa: SIM115 (the server's stdout until stop())
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "asgi_app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).json().get("worker") == "running":
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"studio did not start: {(self.data / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc = None
        self._log.close()
