"""The simulator's one settings object: every knob, documented, read from `STUDIO_SIM_*`
environment variables (faults as `STUDIO_SIM_FAULTS__<NAME>`), overridden by keyword arguments
and, in `cli.py`, by command-line flags generated from these fields.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, PositiveInt, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from ..errors import SettingsError
from ..settings import validation_problems
from .faults import Faults

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_LATENCY_S = 3.0
DEFAULT_LATENCY_PER_SECOND = 0.1
DEFAULT_CREDITS_BALANCE = 10000
DEFAULT_CREDITS_PER_SECOND = 10
RENDER_WORKERS = min(8, 2 * (os.cpu_count() or 1))
UPLOAD_MAX_BYTES = {"video": 5 * 1024**3, "audio": 500 * 1024**2, "image": 50 * 1024**2}
ENV_PREFIX = "STUDIO_SIM_"
NESTED_DELIMITER = "__"
# pydantic-settings names the field when a variable's JSON cannot be read (a dict, the faults).
UNREADABLE_FIELD = re.compile(r'field "(\w+)"')


class SimSettings(BaseSettings):
    "How the simulator behaves; the defaults suit interactive use and tests (short, fixed latency)."

    # No NaN or infinity (a NaN balance compared false with every charge); no input in error text.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        extra="ignore",
        allow_inf_nan=False,
        hide_input_in_errors=True,
    )

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
    upload_max_bytes: dict[str, PositiveInt] = Field(
        default_factory=lambda: dict(UPLOAD_MAX_BYTES), description="Largest upload per type, in bytes."
    )
    faults: Faults = Field(default_factory=Faults, description="Fault injection (see faults.py); all off.")

    @field_validator("upload_max_bytes")
    @classmethod
    def _upload_kinds(cls, v: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(v) - set(UPLOAD_MAX_BYTES))
        if unknown:
            raise ValueError(f"has no upload type {', '.join(unknown)}; the types are {', '.join(UPLOAD_MAX_BYTES)}")
        return {**UPLOAD_MAX_BYTES, **v}  # a type left out keeps its default limit


def sim_env_name(path: tuple[str, ...]) -> str:
    "The variable that sets a (nested) field: STUDIO_SIM_TIME_SCALE, STUDIO_SIM_FAULTS__ROUTES."
    return ENV_PREFIX + NESTED_DELIMITER.join(part.upper() for part in path)


def checked_sim_settings(name_of: Callable[[tuple[str, ...]], str] = sim_env_name, **values: Any) -> SimSettings:
    """SimSettings from the environment and `values`; a bad one is a SettingsError naming what sets
    it (`name_of`: the variable, or a flag), by the studio's one message rule."""
    try:
        return SimSettings(**values)
    except ValidationError as err:
        problems = validation_problems(err, SimSettings.model_fields, name_of)
        raise SettingsError(f"Invalid simulator settings: {problems}") from None
    except SourceError as err:  # a variable holding JSON (a dict) that is not JSON
        found = UNREADABLE_FIELD.search(str(err))
        field = found.group(1) if found else "settings"
        raise SettingsError(
            f"Invalid simulator settings: {name_of((field,))} ({field}): is not valid JSON, such as "
            '{"image": 1000000}'
        ) from None


SimConfig = SimSettings  # the earlier name, kept for callers written before the settings object
