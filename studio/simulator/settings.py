"""The simulator's one settings object: every knob, documented, read from `STUDIO_SIM_*`
environment variables (faults as `STUDIO_SIM_FAULTS__<NAME>`), overridden by keyword arguments
and, in `cli.py`, by command-line flags generated from these fields.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .faults import Faults

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_LATENCY_S = 3.0
DEFAULT_LATENCY_PER_SECOND = 0.1
DEFAULT_CREDITS_BALANCE = 10000
DEFAULT_CREDITS_PER_SECOND = 10
RENDER_WORKERS = min(8, 2 * (os.cpu_count() or 1))
UPLOAD_MAX_BYTES = {"video": 5 * 1024**3, "audio": 500 * 1024**2, "image": 50 * 1024**2}


class SimSettings(BaseSettings):
    "How the simulator behaves; the defaults suit interactive use and tests (short, fixed latency)."

    model_config = SettingsConfigDict(env_prefix="STUDIO_SIM_", env_nested_delimiter="__", extra="ignore")

    host: str = Field(DEFAULT_HOST, description="Interface `studio simulate` binds.")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="Port `studio simulate` binds; 0 = any free port.")
    latency: float = Field(DEFAULT_LATENCY_S, ge=0, description="Fixed seconds per run (unless realistic).")
    latency_per_second: float = Field(
        DEFAULT_LATENCY_PER_SECOND, ge=0, description="Extra seconds per second of video (unless realistic)."
    )
    realistic: bool = Field(
        False, description="Draw each run's time from Seedance 2's profile (minutes, long tail; studio.latency)."
    )
    time_scale: float = Field(1.0, gt=0, description="Multiplies every run's time: 0.02 makes a 5-minute run take 6 s.")
    latency_seed: int = Field(0, description="Seed of the realistic profile's draws (same seed, same times).")
    api_key: str | None = Field(None, description="Accept only this key; unset = any key starting mk_.")
    webhook_secret: str | None = Field(None, description="Sent as X-Mosaic-Signature on webhooks.")
    credits_balance: float = Field(DEFAULT_CREDITS_BALANCE, description="Starting credit balance.")
    credits_per_second: float = Field(
        DEFAULT_CREDITS_PER_SECOND, ge=0, description="Credits charged per generated second."
    )
    auto_duration: int | None = Field(
        None, ge=1, le=15, description="Seconds rendered for duration auto; unset = 5–10 s, picked from the prompt."
    )
    media_dir: Path | None = Field(
        None,
        description="Folder for renders and uploads; unset = a temp dir removed on stop, or a folder beside "
        "state_file.",
    )
    # None keeps everything in memory. With a file, media_dir defaults to a folder beside it, since
    # the renders and uploads the state points at must outlive the process too.
    state_file: Path | None = Field(
        None, description="Keep agents, runs, uploads and credits in this JSON file across restarts."
    )
    render_workers: int = Field(RENDER_WORKERS, ge=1, description="Clips rendered at once.")
    # finalize_upload checks these current limits (413); the storage POST enforces the limit signed
    # into the upload policy (400). Lowering a limit after an upload is how tests provoke the 413.
    upload_max_bytes: dict[str, int] = Field(
        default_factory=lambda: dict(UPLOAD_MAX_BYTES), description="Largest upload per type, in bytes."
    )
    faults: Faults = Field(default_factory=Faults, description="Fault injection (see faults.py); all off.")


SimConfig = SimSettings  # the earlier name, kept for callers written before the settings object
