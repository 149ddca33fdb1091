"""Wiring and lifecycle: builds the studio once (store, Mosaic client or the built-in simulator,
job runner) and closes it. The only module outside `studio.simulator` that imports the simulator.

With no API key it starts the simulator in-process and talks to it over HTTP, exactly as it
would talk to Mosaic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..changes import ChangeFeed, open_feed
from ..errors import ApiConnectionError, StoreError
from ..jobs import JobRunner
from ..media_store import MediaStore, open_media
from ..models import Generation
from ..mosaic import MosaicClient
from ..settings import Settings, load
from ..simulator import SimConfig, Simulator
from ..simulator.settings import checked_sim_settings
from ..store import HistoryStore

SIMULATOR_DIR = "simulator"
SIMULATOR_MAX_POLL_S = 1.0


@dataclass
class Services:
    "Everything a page or command needs, built once per process."

    settings: Settings
    store: HistoryStore
    client: MosaicClient
    runner: JobRunner
    media: MediaStore
    simulator: Simulator | None = None
    _closed: bool = field(default=False, repr=False)
    _status: tuple[float, dict[str, Any]] | None = field(default=None, repr=False)
    _feed: ChangeFeed | None = field(default=None, repr=False)
    _feed_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def changes(self) -> ChangeFeed:
        "The history's change feed (studio.changes), opened on first use: pages re-read rows only when it moved."
        with self._feed_lock:
            if self._feed is None:
                self._feed = open_feed(self.store)
            return self._feed

    @property
    def mode(self) -> str:
        "'simulator' or 'mosaic': always shown to the person using the studio."
        return "simulator" if self.simulator is not None else "mosaic"

    @property
    def mode_label(self) -> str:
        if self.simulator is not None:
            return "Simulator (no API key): a local stand-in for Mosaic makes free sample videos"
        return f"Mosaic API at {self.settings.base_url}"

    @property
    def stores_label(self) -> str:
        "Which history and media store this process uses, for logs and the Status page (no password, no secret)."
        return stores_label(self.store.described, self.media.described)

    def media_path(self, name: str | None) -> Path | None:
        "Absolute path of a saved media file on this machine (folder media), from the name the store keeps."
        return self.media.local_path(name) if name else None

    def facts(self, gen: Generation) -> dict[str, Any]:
        "A generation as one JSON-able object with absolute file paths (CLI output)."
        out = gen.facts()
        path = self.media_path(gen.video_path)
        out["path"] = str(path) if path else None
        return out

    def close(self) -> None:
        "Stop the worker, close the client, stop an in-process simulator, close the history."
        if self._closed:
            return
        self._closed = True
        self.runner.stop()
        self.client.close()
        if self.simulator is not None:
            self.simulator.stop()
        with self._feed_lock:
            if self._feed is not None:
                self._feed.close()
        self.store.close()  # PostgreSQL: its pool (SQLite: this thread's connection)


def _simulator_settings(settings: Settings) -> SimConfig:
    """The in-process simulator's settings, its STUDIO_SIM_* variables checked like every other
    setting (one line naming the variable). It keeps its state beside the history, so runs in
    flight survive a restart."""
    sim_dir = Path(settings.data_dir) / SIMULATOR_DIR
    return checked_sim_settings(
        latency=settings.sim_latency,
        latency_per_second=settings.sim_latency_per_second,
        media_dir=sim_dir,
        state_file=sim_dir / "state.json",
    )


def _start_simulator(config: SimConfig) -> Simulator:
    "The in-process simulator; its failures to start leave as studio errors (it is our boundary here)."
    try:
        return Simulator(config).start()
    except OSError as err:  # its folder cannot be made, or no local port can be bound
        raise StoreError(f"The built-in simulator cannot use {config.media_dir}: {err.strerror or err}") from err
    except RuntimeError as err:  # its server did not come up
        raise ApiConnectionError(
            f"The built-in simulator did not start ({err}); try again, or set MOSAIC_API_KEY to use Mosaic",
            request_sent=False,
        ) from err


def build_services(
    settings: Settings | None = None,
    *,
    start_worker: bool = True,
    simulator: Simulator | None = None,
    store: HistoryStore | None = None,
) -> Services:
    """Build the studio: store (the settings' history unless given), client (Mosaic or a started simulator),
    job runner (started unless told not to)."""
    settings = settings or load()
    # Checked before the history is opened: a bad STUDIO_SIM_* variable touches nothing.
    sim_config = _simulator_settings(settings) if settings.simulated and simulator is None else None
    media = open_media(settings)  # where videos live; a bucket that cannot be used stops the start here
    media.check()
    store = store or HistoryStore.for_settings(settings)
    base_url = settings.base_url
    if settings.simulated:
        if simulator is None:
            simulator = _start_simulator(sim_config or _simulator_settings(settings))
        base_url = simulator.base_url
        settings = _polling_for_simulator(settings)
    client = MosaicClient.from_settings(settings, base_url=base_url)
    # The built-in simulator is this process's own (its runs unknown to another's): one process works.
    runner = JobRunner(store, client, settings, media=media, exclusive=settings.simulated)
    services = Services(settings, store, client, runner, media, simulator if settings.simulated else None)
    from .budget import install_guard  # daily caps, checked in every launch's transaction

    install_guard(services)
    if start_worker and settings.run_worker:  # STUDIO_RUN_WORKER off: only `studio worker`s work
        runner.start()
    return services


def _polling_for_simulator(settings: Settings) -> Settings:
    """The built-in simulator finishes a run in seconds and costs nothing to ask, so its runs are
    looked at from when they can be done and at least every SIMULATOR_MAX_POLL_S, not on Mosaic's
    minutes-long schedule."""
    first = min(settings.first_poll_after, settings.sim_latency)
    longest = min(settings.max_poll_interval, SIMULATOR_MAX_POLL_S)
    return settings.model_copy(update={"first_poll_after": first, "max_poll_interval": longest})


_shared: Services | None = None
_shared_lock = threading.Lock()


def shared_services(settings_factory: Callable[[], Settings] = load) -> Services:
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


def stores_label(history: str, media: str) -> str:
    "'history: <where>, media: <where>' from the stores' `described` (each already without a secret)."
    return f"history: {history}, media: {media}"
