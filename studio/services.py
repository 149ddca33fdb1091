"""Use-cases the pages and the CLI call: build the studio, queue generations and grids, wait,
cancel, retry, and report status. The one place that wires settings, client, store and runner.

With no API key it starts the built-in simulator in-process and talks to it over HTTP,
exactly as it would talk to Mosaic.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import pprint
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ApiError, JobError, ParamsError
from .jobs import JobRunner
from .models import (
    ASPECT_RATIOS,
    CANCELLABLE_STATUSES,
    FINAL_STATUSES,
    MAX_REFERENCE_AUDIO,
    MAX_REFERENCE_IMAGES,
    MAX_REFERENCE_VIDEOS,
    RESOLUTIONS,
    VIDEO_GENERATION_NODE_TYPE_ID,
    Generation,
    Preset,
    Reference,
    VideoGenerationParams,
)
from .mosaic import MosaicClient
from .settings import Settings
from .simulator import SimConfig, Simulator
from .store import DEFAULT_PAGE_SIZE, GalleryQuery, HistoryStore, utcnow

log = logging.getLogger(__name__)

MAX_TAKES = 4
STATUS_TIMEOUT_S = 5.0  # the Status page's key check: one quick try
STATUS_CACHE_S = 15.0
MAX_RATING = 5
MAX_TAG_CHARS = 40
MAX_NOTES_CHARS = 5000
MAX_PRESET_NAME_CHARS = 60
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
    _status: tuple[float, dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        "'simulator' or 'mosaic': always shown to the person using the studio."
        return "simulator" if self.simulator is not None else "mosaic"

    @property
    def mode_label(self) -> str:
        if self.simulator is not None:
            return "Simulator (no API key): a local stand-in for Mosaic makes free sample videos"
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


def build_services(
    settings: Settings | None = None, *, start_worker: bool = True, simulator: Simulator | None = None
) -> Services:
    "Build the studio: store, client (Mosaic or a started simulator), job runner."
    settings = settings or Settings()
    store = HistoryStore(settings.db_path)
    base_url = settings.base_url
    if settings.simulated and simulator is None:
        # The simulator keeps its state beside the history, so runs in flight survive a restart.
        sim_dir = Path(settings.data_dir) / SIMULATOR_DIR
        simulator = Simulator(
            SimConfig(
                latency=settings.sim_latency,
                latency_per_second=settings.sim_latency_per_second,
                media_dir=sim_dir,
                state_file=sim_dir / "state.json",
            )
        ).start()
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


def generate(
    services: Services, params: VideoGenerationParams | dict[str, Any], *, takes: int = 1, author: str | None = None
) -> list[str]:
    "Queue `takes` generations of the same settings; returns their ids at once."
    if not 1 <= takes <= MAX_TAKES:
        raise ParamsError(f"Takes must be between 1 and {MAX_TAKES}", field="takes")
    if not isinstance(params, VideoGenerationParams):
        params = VideoGenerationParams.parse(params)
    label = (lambda i: f"take {i + 1}") if takes > 1 else (lambda i: None)
    ids = services.store.add_generations(
        [(params, label(i)) for i in range(takes)], author=author if author is not None else services.settings.author
    )
    services.runner.wake()
    return ids


def cell_label(params: VideoGenerationParams, axes: Sequence[str], prompts: Sequence[str] = ()) -> str:
    "A grid cell's name from the values of the axes it varies, e.g. 'prompt 2 · 720p · 9:16'."
    variant = prompts.index(params.prompt) + 1 if params.prompt in prompts else 1
    names = {
        "resolution": params.resolution,
        "aspect_ratio": params.aspect_ratio,
        "duration": f"{params.duration}s" if params.duration != "auto" else "auto",
        "generate_audio": "audio" if params.generate_audio else "no audio",
        "prompt": f"prompt {variant}",
    }
    return " · ".join(names[a] for a in axes)


def grid_cells(
    base: VideoGenerationParams,
    *,
    resolutions: Sequence[str] = (),
    aspect_ratios: Sequence[str] = (),
    durations: Sequence[str] = (),
    audio: Sequence[bool] = (),
    prompts: Sequence[str] = (),
) -> list[tuple[VideoGenerationParams, str]]:
    "Every combination of the given axes (empty axes keep the base value), with a label per cell."
    axes = {
        "prompt": list(prompts),
        "duration": list(durations),
        "generate_audio": list(audio),
        "resolution": list(resolutions),
        "aspect_ratio": list(aspect_ratios),
    }
    varied = [
        name for name, values in axes.items() if len(values) > 1 or (values and name in ("resolution", "aspect_ratio"))
    ]
    values = [axes[name] or [getattr(base, name)] for name in axes]
    cells = []
    for combo in itertools.product(*values):
        data = base.model_dump()
        data.update(dict(zip(axes, combo, strict=False)))
        params = VideoGenerationParams.parse(data)
        cells.append((params, cell_label(params, varied, prompts)))
    return cells


def start_grid(
    services: Services,
    base: VideoGenerationParams,
    *,
    resolutions: Sequence[str] = RESOLUTIONS,
    aspect_ratios: Sequence[str] = ASPECT_RATIOS[1:],
    durations: Sequence[str] = (),
    audio: Sequence[bool] = (),
    prompts: Sequence[str] = (),
    name: str = "",
    author: str | None = None,
) -> tuple[str, list[str]]:
    "Save a comparison and queue all of its cells together; returns (grid id, generation ids)."
    cells = grid_cells(
        base, resolutions=resolutions, aspect_ratios=aspect_ratios, durations=durations, audio=audio, prompts=prompts
    )
    axes = {
        "resolutions": list(resolutions),
        "aspect_ratios": list(aspect_ratios),
        "durations": list(durations),
        "audio": list(audio),
        "prompts": list(prompts),
    }
    grid_id, ids = services.store.add_grid(
        prompt=base.prompt,
        axes=axes,
        cells=cells,
        name=name,
        author=author if author is not None else services.settings.author,
    )
    services.runner.wake()
    return grid_id, ids


def wait_for(
    services: Services,
    ids: Sequence[str],
    *,
    timeout: float = 900.0,
    on_progress: Callable[[list[Generation]], None] | None = None,
) -> list[Generation]:
    "Block until the generations finish (or time runs out)."
    return services.runner.wait(ids, timeout=timeout, on_progress=on_progress)


def history(
    services: Services, query: GalleryQuery | None = None, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
) -> list[Generation]:
    "One page of the history, newest first, matching the search and filters."
    return services.store.page(query, limit=limit, offset=offset)


def can_cancel(gen: Generation) -> bool:
    "Whether Cancel applies: the run has not produced its video yet."
    return gen.status in CANCELLABLE_STATUSES


def cancel(services: Services, gen_id: str) -> None:
    services.runner.cancel(gen_id)


def retry(services: Services, gen_id: str) -> None:
    services.runner.retry(gen_id)


def handle_webhook(services: Services, payload: dict[str, Any], signature: str | None) -> bool:
    "Take a Mosaic webhook: check the signature, then make the run's job poll now. False if refused."
    secret = services.settings.webhook_secret
    if secret is not None and (not signature or not hmac.compare_digest(signature, secret.get_secret_value())):
        return False
    run_id = payload.get("run_id")
    if isinstance(run_id, str) and run_id:
        services.runner.notify_run(run_id)
    return True


def api_status(services: Services, *, refresh: bool = False) -> dict[str, Any]:
    """Which API is in use, whether the key works (/whoami), and the credit balance when given.

    One quick try (short timeout, no retries), remembered for STATUS_CACHE_S so a page that
    reruns often, or a Mosaic that is down, never keeps the page waiting.
    """
    cached = services._status
    if cached and not refresh and time.monotonic() - cached[0] < STATUS_CACHE_S:
        return cached[1]
    out = _check_api(services)
    services._status = (time.monotonic(), out)
    return out


def _check_api(services: Services) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mode": services.mode,
        "label": services.mode_label,
        "key_ok": None,
        "organization": None,
        "credits": None,
        "error": None,
    }
    probe = MosaicClient.from_settings(
        services.settings, base_url=services.client.base_url, timeout=STATUS_TIMEOUT_S, max_retries=0
    )
    try:
        return _fill_status(probe, out)
    finally:
        probe.close()


def _fill_status(probe: MosaicClient, out: dict[str, Any]) -> dict[str, Any]:
    try:
        who = probe.whoami()
        out["key_ok"] = True
        out["organization"] = who.organization_name or who.organization_id
    except ApiError as err:
        out["key_ok"] = False
        out["error"] = str(err)
        return out
    try:
        out["credits"] = probe.credits().current_balance
    except ApiError as err:  # credits are optional information
        log.info("credits unavailable: %s", err)
    return out


# ---------------------------------------------------------------------- estimates


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


# ---------------------------------------------------------------------- progress


@dataclass(frozen=True)
class JobView:
    "A generation with its live job progress, for progress bars."

    gen: Generation
    progress: float
    last_error: str | None

    @property
    def label(self) -> str:
        words = {
            "queued": "waiting to start",
            "submitting": "sending the request",
            "running": "generating",
            "downloading": "saving the video",
            "done": "done",
            "failed": "failed",
            "cancelled": "cancelled",
        }
        return words.get(self.gen.status, self.gen.status)


def progress(services: Services, ids: Sequence[str]) -> list[JobView]:
    "Generations in the order given, with progress 0..1 and the last transient error."
    gens = services.store.many(ids)
    jobs = services.store.jobs([g.id for g in gens])
    out = []
    for gen in gens:
        job = jobs.get(gen.id, {})
        value = 1.0 if gen.status in FINAL_STATUSES else float(job.get("progress") or 0.0)
        out.append(JobView(gen, max(0.0, min(1.0, value)), job.get("last_error")))
    return out


def queue(services: Services) -> list[JobView]:
    "Every unfinished generation, oldest first."
    return progress(services, [g.id for g in services.store.active()])


def get(services: Services, gen_id: str) -> Generation | None:
    return services.store.get(gen_id)


def get_many(services: Services, ids: Sequence[str]) -> list[Generation]:
    return services.store.many(ids)


def count(services: Services, query: GalleryQuery | None = None) -> int:
    return services.store.count(query)


# ---------------------------------------------------------------------- curation


def set_starred(services: Services, gen_id: str, starred: bool) -> None:
    services.store.update(gen_id, starred=int(starred))


def set_rating(services: Services, gen_id: str, rating: int | None) -> None:
    if rating is not None and not 1 <= rating <= MAX_RATING:
        raise ParamsError(f"Rating must be 1 to {MAX_RATING} stars", field="rating")
    services.store.update(gen_id, rating=rating)


def set_tags(services: Services, gen_id: str, tags: Sequence[str] | str) -> list[str]:
    "Save tags (a list, or text separated by commas); returns them cleaned and de-duplicated."
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    clean = list(dict.fromkeys(t.strip() for t in items if t.strip()))
    too_long = [t for t in clean if len(t) > MAX_TAG_CHARS]
    if too_long:
        raise ParamsError(f"Tags are at most {MAX_TAG_CHARS} characters: {too_long[0][:20]}…", field="tags")
    services.store.update(gen_id, tags=", ".join(clean) or None)
    return clean


def set_notes(services: Services, gen_id: str, notes: str) -> None:
    if len(notes) > MAX_NOTES_CHARS:
        raise ParamsError(f"Notes are at most {MAX_NOTES_CHARS} characters", field="notes")
    services.store.update(gen_id, notes=notes.strip() or None)


def mark_winner(services: Services, gen_id: str) -> None:
    "Make this cell its grid's winner (and star it)."
    gen = services.store.get(gen_id)
    if gen is None or not gen.grid_id:
        raise ParamsError("Only a cell of a comparison can be its winner")
    services.store.set_winner(gen.grid_id, gen_id)
    services.store.update(gen_id, starred=1)


def delete_generation(services: Services, gen_id: str) -> None:
    "Delete a finished generation: its files, then its row. Running ones must be cancelled first."
    gen = services.store.get(gen_id)
    if gen is None:
        return
    if gen.is_active:
        raise JobError("This generation is still running; cancel it before deleting it")
    for name in (gen.video_path, gen.thumb_path):
        path = services.media_path(name)
        if path is not None:
            path.unlink(missing_ok=True)
    services.store.delete(gen_id)


# ---------------------------------------------------------------------- drafts, snippets, A/B

DRAFT_KEEP = ("all", "prompt", "settings")  # all settings / prompt only / all but the prompt


def draft_from(gen: Generation, keep: str = "all") -> dict[str, Any]:
    "Values for a new draft from an earlier generation: everything, the prompt only, or all but it."
    if keep not in DRAFT_KEEP:
        raise ParamsError(f"keep must be one of {', '.join(DRAFT_KEEP)}")
    params = gen.params.model_dump()
    if keep == "prompt":
        return {"prompt": params["prompt"]}
    if keep == "settings":
        params.pop("prompt")
    return params


PARAM_LABELS = {
    "prompt": "Prompt",
    "model": "Model",
    "resolution": "Resolution",
    "duration": "Duration",
    "aspect_ratio": "Aspect ratio",
    "generate_audio": "Audio",
    "selected_context": "References",
}


def compare_params(a: Generation, b: Generation) -> list[tuple[str, Any, Any, bool]]:
    "Rows of (label, value in A, value in B, differs) over every node param, plus the file facts."
    pa, pb = a.params.model_dump(), b.params.model_dump()
    rows = [(PARAM_LABELS[k], pa[k], pb[k], pa[k] != pb[k]) for k in PARAM_LABELS]
    for label, fa, fb in (
        ("Size", f"{a.width}x{a.height}" if a.width else None, f"{b.width}x{b.height}" if b.width else None),
        ("Seconds", a.duration_s, b.duration_s),
        ("Has audio", a.has_audio, b.has_audio),
        ("Time taken (s)", a.elapsed_s, b.elapsed_s),
    ):
        rows.append((label, fa, fb, fa != fb))
    return rows


def api_request(
    params: VideoGenerationParams, *, language: str = "curl", base_url: str = "https://api.mosaic.so"
) -> str:
    "A snippet reproducing this generation with the brief's three calls; the key is a placeholder."
    if language == "python":
        node = pprint.pformat(params.to_api(), indent=2, sort_dicts=False)
        return f'''import time, httpx

api = httpx.Client(base_url="{base_url}", headers={{"Authorization": "Bearer mk_your_api_key"}}, timeout=30)
agent_id = api.post("/agent/create", json={{"name": "Prompt Studio draft", "visibility": "private"}}).json()["agent_id"]
api.post(f"/agent/{{agent_id}}/update", json={{"operations": [{{
    "op": "create_node", "node_type_id": "{VIDEO_GENERATION_NODE_TYPE_ID}",
    "params_used": {node.replace(chr(10), chr(10) + "    ")},
}}]}})
run_id = api.post(f"/agent/{{agent_id}}/run", json={{}}).json()["run_id"]
while (run := api.get(f"/agent_run/{{run_id}}").json())["status"] == "running":
    time.sleep(5)
print(run["status"], [o["video_url"] for o in run.get("outputs", [])])
'''
    if language != "curl":
        raise ParamsError("language must be curl or python")
    body = json.dumps(
        {
            "operations": [
                {"op": "create_node", "node_type_id": VIDEO_GENERATION_NODE_TYPE_ID, "params_used": params.to_api()}
            ]
        },
        indent=2,
    )
    quoted = body.replace("'", "'\\''")
    return f'''curl -X POST "{base_url}/agent/create" \\
  -H "Authorization: Bearer mk_your_api_key" -H "Content-Type: application/json" \\
  -d '{{"name": "Prompt Studio draft", "visibility": "private"}}'

curl -X POST "{base_url}/agent/AGENT_ID/update" \\
  -H "Authorization: Bearer mk_your_api_key" -H "Content-Type: application/json" \\
  -d '{quoted}'

curl -X POST "{base_url}/agent/AGENT_ID/run" \\
  -H "Authorization: Bearer mk_your_api_key" -H "Content-Type: application/json" -d '{{}}'
'''


# ---------------------------------------------------------------------- presets


def save_preset(services: Services, name: str, values: dict[str, Any]) -> None:
    "Save node settings under a name (the prompt too, when given); overwrites a preset of that name."
    name = name.strip()
    if not name:
        raise ParamsError("Give the preset a name", field="preset")
    if len(name) > MAX_PRESET_NAME_CHARS:
        raise ParamsError(f"Preset names are at most {MAX_PRESET_NAME_CHARS} characters", field="preset")
    VideoGenerationParams.parse({"prompt": "check", **values})  # refuse settings that could not run
    services.store.save_preset(name, values)


def presets(services: Services) -> list[Preset]:
    return services.store.presets()


def delete_preset(services: Services, name: str) -> None:
    if not services.store.delete_preset(name):
        raise ParamsError(f"No preset named {name!r}", field="preset")


# ---------------------------------------------------------------------- references

REFERENCE_TYPES: dict[str, dict[str, str]] = {
    "image": {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".gif": "image/gif",
        ".webp": "image/webp",
        ".svg": "image/svg+xml",
    },
    "video": {
        ".mp4": "video/mp4",
        ".mov": "video/quicktime",
        ".avi": "video/x-msvideo",
        ".webm": "video/webm",
        ".mkv": "video/x-matroska",
        ".m4v": "video/x-m4v",
    },
    "audio": {
        ".mp3": "audio/mpeg",
        ".wav": "audio/wav",
        ".m4a": "audio/mp4",
        ".flac": "audio/flac",
        ".ogg": "audio/ogg",
        ".aac": "audio/aac",
        ".opus": "audio/opus",
    },
}
# Mosaic's documented upload limits (mosaic-api.md §2.6).
REFERENCE_MAX_BYTES = {"image": 50 * 1024**2, "video": 5 * 1024**3, "audio": 500 * 1024**2}
REFERENCE_MAX_COUNT = {"image": MAX_REFERENCE_IMAGES, "video": MAX_REFERENCE_VIDEOS, "audio": MAX_REFERENCE_AUDIO}
REFERENCES_DIR = "refs"
# Files come through the browser into memory; .streamlit/config.toml sets server.maxUploadSize to this.
BROWSER_UPLOAD_MAX_MB = 1024


def reference_kind(filename: str) -> str:
    "image, video or audio from a file name; ParamsError naming the accepted types otherwise."
    suffix = Path(filename).suffix.lower()
    for kind, types in REFERENCE_TYPES.items():
        if suffix in types:
            return kind
    accepted = ", ".join(s.lstrip(".").upper() for types in REFERENCE_TYPES.values() for s in types)
    raise ParamsError(f"{filename}: this file type can't be a reference. Use one of {accepted}.", field="references")


def check_reference(filename: str, size: int) -> str:
    "Check type and size before anything is uploaded; returns the kind."
    kind = reference_kind(filename)
    limit = REFERENCE_MAX_BYTES[kind]
    if size > limit:
        raise ParamsError(
            f"{filename} is {size / 1024**2:.1f} MB; Mosaic accepts {kind} files up to {limit / 1024**2:.0f} MB",
            field="references",
        )
    if size > BROWSER_UPLOAD_MAX_MB * 1024**2:
        raise ParamsError(
            f"{filename} is {size / 1024**2:.0f} MB; the studio takes files up to "
            f"{BROWSER_UPLOAD_MAX_MB} MB from the browser",
            field="references",
        )
    if size == 0:
        raise ParamsError(f"{filename} is empty", field="references")
    return kind


def check_reference_counts(selected: dict[str, Sequence[str]]) -> None:
    "At most 9 images, 3 videos and 3 audio clips per generation (keys as in selected_context)."
    for key, kind, noun in (
        ("images", "image", "images"),
        ("videos", "video", "videos"),
        ("audio", "audio", "audio clips"),
    ):
        limit = REFERENCE_MAX_COUNT[kind]
        if len(selected.get(key, ())) > limit:
            raise ParamsError(
                f"At most {limit} reference {noun} per generation (got {len(selected[key])})", field="references"
            )


def upload_reference(services: Services, filename: str, data: bytes) -> Reference:
    "Add a file to the reference library: uploaded to Mosaic once, found again by its content hash."
    kind = check_reference(filename, len(data))
    digest = hashlib.sha256(data).hexdigest()
    scope = services.runner.scope
    known = services.store.find_reference(scope, digest)
    if known is not None:
        return known
    upload_id = services.client.upload(
        kind, data, Path(filename).name, REFERENCE_TYPES[kind][Path(filename).suffix.lower()]
    )
    folder = Path(services.settings.media_dir) / REFERENCES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    local = folder / f"{digest[:16]}{Path(filename).suffix.lower()}"
    local.write_bytes(data)
    ref = Reference(
        scope=scope,
        sha256=digest,
        kind=kind,
        filename=Path(filename).name,
        content_type=REFERENCE_TYPES[kind][Path(filename).suffix.lower()],
        size=len(data),
        upload_id=upload_id,
        local_name=f"{REFERENCES_DIR}/{local.name}",
        created_at=utcnow(),
    )
    services.store.add_reference(ref)
    return ref


def references(services: Services, kind: str | None = None) -> list[Reference]:
    "The reference library for the API in use, newest first."
    return services.store.references(services.runner.scope, kind)


def grids(services: Services, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    return services.store.grids(limit=limit, offset=offset)


def grid(services: Services, grid_id: str) -> tuple[dict[str, Any] | None, list[Generation]]:
    "A saved comparison and its cells (None, [] when unknown)."
    found = services.store.get_grid(grid_id)
    return (found, services.store.grid_cells(grid_id)) if found else (None, [])


# ---------------------------------------------------------------------- Status page (pages/status.py)


def recent_failures(services: Services, *, limit: int = 10) -> list[Generation]:
    "The newest failed or cancelled generations (what the Status page offers to retry)."
    return services.store.page(GalleryQuery(status=["failed", "cancelled"]), limit=limit)
