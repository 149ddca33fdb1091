"""Use-cases the pages and the CLI call: build the studio, queue generations and grids, wait,
cancel, retry, and report status. The one place that wires settings, client, store and runner.

With no API key it starts the built-in simulator in-process and talks to it over HTTP,
exactly as it would talk to Mosaic.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ApiError, ParamsError
from .jobs import JobRunner
from .models import ASPECT_RATIOS, RESOLUTIONS, Generation, VideoGenerationParams
from .mosaic import MosaicClient
from .settings import Settings
from .simulator import SimConfig, Simulator
from .store import DEFAULT_PAGE_SIZE, GalleryQuery, HistoryStore

log = logging.getLogger(__name__)

MAX_TAKES = 4
SIMULATOR_DIR = "simulator"


@dataclass
class Services:
    "Everything a page or command needs, built once per process."

    settings: Settings
    store: HistoryStore
    client: MosaicClient
    runner: JobRunner
    simulator: Simulator | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def mode(self) -> str:
        "'simulator' or 'mosaic': always shown to the person using the studio."
        return "simulator" if self.simulator is not None else "mosaic"

    @property
    def mode_label(self) -> str:
        if self.simulator is not None:
            return f"Simulator (no API key): local Mosaic at {self.simulator.base_url}"
        return f"Mosaic API at {self.settings.base_url}"

    def media_path(self, name: str | None) -> Path | None:
        "Absolute path of a saved media file, from the name the store keeps."
        return (Path(self.settings.media_dir) / name).resolve() if name else None

    def facts(self, gen: Generation) -> dict[str, Any]:
        "A generation as one JSON-able object with absolute file paths (CLI output)."
        out = gen.facts()
        path = self.media_path(gen.video_path)
        out["path"] = str(path) if path else None
        return out

    def close(self) -> None:
        "Stop the worker, close the client, stop an in-process simulator."
        if self._closed:
            return
        self._closed = True
        self.runner.stop()
        self.client.close()
        if self.simulator is not None:
            self.simulator.stop()


def build_services(settings: Settings | None = None, *, start_worker: bool = True,
                   simulator: Simulator | None = None) -> Services:
    "Build the studio: store, client (Mosaic or a started simulator), job runner."
    settings = settings or Settings()
    store = HistoryStore(settings.db_path)
    base_url = settings.base_url
    if settings.simulated and simulator is None:
        simulator = Simulator(SimConfig(
            latency=settings.sim_latency, latency_per_second=settings.sim_latency_per_second,
            media_dir=Path(settings.data_dir) / SIMULATOR_DIR)).start()
    if settings.simulated:
        base_url = simulator.base_url
    client = MosaicClient.from_settings(settings, base_url=base_url)
    runner = JobRunner(store, client, settings)
    services = Services(settings, store, client, runner, simulator if settings.simulated else None)
    if start_worker:
        runner.start()
    return services


_shared: Services | None = None
_shared_lock = threading.Lock()


def shared_services(settings_factory: Callable[[], Settings] = Settings) -> Services:
    "The process-wide studio (one worker, one client) that the web app's pages share."
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = build_services(settings_factory())
        return _shared


def close_shared_services() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


# ---------------------------------------------------------------------- use-cases


def generate(services: Services, params: VideoGenerationParams | dict[str, Any], *, takes: int = 1,
             author: str | None = None) -> list[str]:
    "Queue `takes` generations of the same settings; returns their ids at once."
    if not 1 <= takes <= MAX_TAKES:
        raise ParamsError(f"Takes must be between 1 and {MAX_TAKES}", field="takes")
    if not isinstance(params, VideoGenerationParams):
        params = VideoGenerationParams.parse(params)
    label = (lambda i: f"take {i + 1}") if takes > 1 else (lambda i: None)
    ids = services.store.add_generations([(params, label(i)) for i in range(takes)],
                                         author=author if author is not None else services.settings.author)
    services.runner.wake()
    return ids


def cell_label(params: VideoGenerationParams, axes: Sequence[str]) -> str:
    "A grid cell's name from the values of the axes it varies, e.g. '720p · 9:16'."
    names = {"resolution": params.resolution, "aspect_ratio": params.aspect_ratio,
             "duration": f"{params.duration}s" if params.duration != "auto" else "auto",
             "generate_audio": "audio" if params.generate_audio else "no audio", "prompt": params.prompt[:40]}
    return " · ".join(names[a] for a in axes)


def grid_cells(base: VideoGenerationParams, *, resolutions: Sequence[str] = (), aspect_ratios: Sequence[str] = (),
               durations: Sequence[str] = (), audio: Sequence[bool] = (),
               prompts: Sequence[str] = ()) -> list[tuple[VideoGenerationParams, str]]:
    "Every combination of the given axes (empty axes keep the base value), with a label per cell."
    axes = {"prompt": list(prompts), "duration": list(durations), "generate_audio": list(audio),
            "resolution": list(resolutions), "aspect_ratio": list(aspect_ratios)}
    varied = [name for name, values in axes.items() if len(values) > 1 or (values and name in
              ("resolution", "aspect_ratio"))]
    values = [axes[name] or [getattr(base, name)] for name in axes]
    cells = []
    for combo in itertools.product(*values):
        data = base.model_dump()
        data.update(dict(zip(axes, combo)))
        params = VideoGenerationParams.parse(data)
        cells.append((params, cell_label(params, varied)))
    return cells


def start_grid(services: Services, base: VideoGenerationParams, *, resolutions: Sequence[str] = RESOLUTIONS,
               aspect_ratios: Sequence[str] = ASPECT_RATIOS[1:], durations: Sequence[str] = (),
               audio: Sequence[bool] = (), prompts: Sequence[str] = (), name: str = "",
               author: str | None = None) -> tuple[str, list[str]]:
    "Save a comparison and queue all of its cells together; returns (grid id, generation ids)."
    cells = grid_cells(base, resolutions=resolutions, aspect_ratios=aspect_ratios, durations=durations,
                       audio=audio, prompts=prompts)
    axes = {"resolutions": list(resolutions), "aspect_ratios": list(aspect_ratios), "durations": list(durations),
            "audio": list(audio), "prompts": list(prompts)}
    grid_id, ids = services.store.add_grid(
        prompt=base.prompt, axes=axes, cells=cells, name=name,
        author=author if author is not None else services.settings.author)
    services.runner.wake()
    return grid_id, ids


def wait_for(services: Services, ids: Sequence[str], *, timeout: float = 900.0,
             on_progress: Callable[[list[Generation]], None] | None = None) -> list[Generation]:
    "Block until the generations finish (or time runs out)."
    return services.runner.wait(ids, timeout=timeout, on_progress=on_progress)


def history(services: Services, query: GalleryQuery | None = None, *, limit: int = DEFAULT_PAGE_SIZE,
            offset: int = 0) -> list[Generation]:
    "One page of the history, newest first, matching the search and filters."
    return services.store.page(query, limit=limit, offset=offset)


def cancel(services: Services, gen_id: str) -> None:
    services.runner.cancel(gen_id)


def retry(services: Services, gen_id: str) -> None:
    services.runner.retry(gen_id)


def handle_webhook(services: Services, payload: dict[str, Any], signature: str | None) -> bool:
    "Take a Mosaic webhook: check the signature, then make the run's job poll now. False if refused."
    secret = services.settings.webhook_secret
    if secret is not None:
        if not signature or not hmac.compare_digest(signature, secret.get_secret_value()):
            return False
    run_id = payload.get("run_id")
    if isinstance(run_id, str) and run_id:
        services.runner.notify_run(run_id)
    return True


def api_status(services: Services) -> dict[str, Any]:
    "Which API is in use, whether the key works (/whoami), and the credit balance when given."
    out: dict[str, Any] = {"mode": services.mode, "label": services.mode_label, "key_ok": None,
                           "organization": None, "credits": None, "error": None}
    try:
        who = services.client.whoami()
        out["key_ok"] = True
        out["organization"] = who.organization_name or who.organization_id
    except ApiError as err:
        out["key_ok"] = False
        out["error"] = str(err)
        return out
    try:
        out["credits"] = services.client.credits().current_balance
    except ApiError as err:  # credits are optional information
        log.info("credits unavailable: %s", err)
    return out
