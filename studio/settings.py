"""All configuration in one `Settings` object, and the one loader every entry point uses.

`load(**overrides)` is how the web app (`asgi_app.py`, `streamlit_app.py`) and the `studio`
command read their settings: the overrides first, then the environment (prefix `STUDIO_`, plus
`MOSAIC_API_KEY` / `MOSAIC_BASE_URL`), then `secrets.toml` from the places Streamlit reads it, the
working folder's `.streamlit/secrets.toml` before the user's `~/.streamlit/secrets.toml`. A
secrets file takes the same names as the environment (and the field names). Tests build
`Settings(...)` directly, which reads the arguments and the environment only.

Without an API key the studio talks to the built-in simulator.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .costs import parse_credit_rates
from .errors import SettingsError

DEFAULT_BASE_URL = "https://api.mosaic.so"
DEFAULT_DATA_DIR = Path("studio-data")
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_MAX_IN_FLIGHT = 24  # a whole 3 x 7 grid runs at once
DEFAULT_POLL_INTERVAL_S = 2.0
DEFAULT_MAX_POLL_INTERVAL_S = 60.0  # runs take minutes: a minute late at most, ~20 % of a run's time
DEFAULT_FIRST_POLL_AFTER_S = 60.0  # no Seedance 2 run finishes within a minute (seedance-2.md)
DEFAULT_WEBHOOK_POLL_INTERVAL_S = 300.0  # with webhooks, timed polls only catch a lost one
# How long after a POST /run with no answer a run may still turn up (a request held in Mosaic's
# queue): until then its agent is kept from other jobs and looked at now and then; after it, "no run".
DEFAULT_UNKNOWN_OUTCOME_HORIZON_S = 10 * 60.0
DEFAULT_STUCK_AFTER_S = 20 * 60.0  # seedance-2.md: not stuck before about 20 minutes
DEFAULT_CONFIRM_ABOVE_CELLS = 12
# Downloads (studio.mosaic.DownloadLimits): a take is tens of megabytes, so 2 GiB is no take;
# 15 minutes and 64 KB/s over 30 s end a trickle but let a slow line finish a real one.
DEFAULT_STORAGE_HOSTS = "storage.googleapis.com"  # mosaic-api.md: outputs are signed GCS URLs
DEFAULT_DOWNLOAD_MAX_BYTES = 2 * 1024**3
DEFAULT_DOWNLOAD_DEADLINE_S = 15 * 60.0
DEFAULT_DOWNLOAD_MIN_RATE = 64 * 1000.0  # bytes per second
DEFAULT_DOWNLOAD_RATE_WINDOW_S = 30.0
SIMULATOR_API_KEY = "mk_local_simulator"
SIMULATOR_SCOPE = "simulator"
MEDIA_ROUTE = "/files"  # where the web app serves saved media (studio.web), and pages point at it
ENV_PREFIX = "STUDIO_"
ENV_NAMES = {"api_key": "MOSAIC_API_KEY", "base_url": "MOSAIC_BASE_URL"}  # the rest: STUDIO_<FIELD>
# Streamlit's own places for secrets.toml, in the order they win: the working folder's, then the user's.
SECRETS_FILE = Path(".streamlit") / "secrets.toml"
USER_SECRETS_FILE = Path("~") / ".streamlit" / "secrets.toml"


class Settings(BaseSettings):
    "Every knob of the studio; each field is documented in the README's configuration table."

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("MOSAIC_API_KEY", "api_key"),
        description="Mosaic API key (mk_...). Unset: the built-in simulator is used.",
    )
    base_url: str = Field(
        DEFAULT_BASE_URL,
        validation_alias=AliasChoices("MOSAIC_BASE_URL", "base_url"),
        description="Mosaic API base URL (only used with an API key).",
    )
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder for the SQLite history and media files.")
    timeout: float = Field(DEFAULT_TIMEOUT_S, gt=0, description="Seconds before an API call times out.")
    max_retries: int = Field(DEFAULT_MAX_RETRIES, ge=0, description="Retries of a failed safe API call.")
    max_in_flight: int = Field(DEFAULT_MAX_IN_FLIGHT, ge=1, description="Runs submitted to Mosaic at once.")
    poll_interval: float = Field(DEFAULT_POLL_INTERVAL_S, gt=0, description="Shortest wait between polls of runs.")
    max_poll_interval: float = Field(DEFAULT_MAX_POLL_INTERVAL_S, gt=0, description="Longest wait between polls.")
    run_flow: Literal["reuse", "three_call"] = Field(
        "reuse",
        description="reuse: one POST /run per generation on pooled agents; "
        "three_call: create agent, add node, run (the brief's flow).",
    )
    public_url: str | None = Field(
        None, description="Public URL of this studio; when set, runs carry callback_url for webhooks."
    )
    webhook_secret: SecretStr | None = Field(None, description="Expected X-Mosaic-Signature on webhooks.")
    credits_per_second: str | None = Field(
        None,
        description="Credits per generated second, for estimates before a run: one number, or a rate per "
        "resolution such as 480p=1,720p=2,1080p=4.",
    )
    author: str = Field("", description="Name recorded as the author of new generations.")
    confirm_above_cells: int = Field(
        DEFAULT_CONFIRM_ABOVE_CELLS, ge=1, description="Compare asks for confirmation above this many cells."
    )
    sim_latency: float = Field(3.0, ge=0, description="Simulator: fixed seconds per run.")
    sim_latency_per_second: float = Field(0.1, ge=0, description="Simulator: extra seconds per second of video.")
    first_poll_after: float = Field(
        DEFAULT_FIRST_POLL_AFTER_S,
        ge=0,
        description="Seconds after a run starts before its first poll (never more than max_poll_interval).",
    )
    webhook_poll_interval: float = Field(
        DEFAULT_WEBHOOK_POLL_INTERVAL_S,
        gt=0,
        description="Longest wait between polls when public_url is set and webhooks bring the news.",
    )
    unknown_outcome_horizon: float = Field(
        DEFAULT_UNKNOWN_OUTCOME_HORIZON_S,
        gt=0,
        description="Seconds after a run request with no answer during which its run may still turn up "
        "(its agent waits meanwhile; a late run a job no longer needs is cancelled).",
    )
    stuck_after: float = Field(
        DEFAULT_STUCK_AFTER_S, gt=0, description="Seconds without progress after which a run is called stuck."
    )

    storage_hosts: str = Field(
        DEFAULT_STORAGE_HOSTS,
        description="Hosts (comma list; subdomains match) the studio downloads videos from over https, "
        "besides the API's own host; an entry with a scheme (http://127.0.0.1:9000) allows that one origin.",
    )
    download_max_bytes: int = Field(
        DEFAULT_DOWNLOAD_MAX_BYTES, gt=0, description="Largest video file downloaded, in bytes."
    )
    download_deadline: float = Field(
        DEFAULT_DOWNLOAD_DEADLINE_S, gt=0, description="Seconds one video may take to download, retries included."
    )
    download_min_rate: float = Field(
        DEFAULT_DOWNLOAD_MIN_RATE,
        ge=0,
        description="Bytes per second a download must average over download_rate_window, or it is abandoned.",
    )
    download_rate_window: float = Field(
        DEFAULT_DOWNLOAD_RATE_WINDOW_S, gt=0, description="Seconds over which the download rate is averaged."
    )

    @field_validator("credits_per_second", mode="before")
    @classmethod
    def _credit_rates(cls, v: object) -> str | None:
        # Checked by the one reader of the rates (costs.parse_credit_rates), kept in its plain form.
        rates = parse_credit_rates(v)
        return None if rates is None else str(rates)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        "Arguments, then the environment, then the secrets files `load()` names (none otherwise)."
        files = [SecretsToml(settings_cls, path) for path in _secrets_files.get()]
        return (init_settings, env_settings, *files)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        # Resolved where the setting is read, so `studio serve` (which runs from the checkout) and
        # `studio generate` run elsewhere share one history.
        return v.expanduser().resolve()

    @property
    def simulated(self) -> bool:
        "True when no API key is set and the built-in simulator stands in for Mosaic."
        return self.api_key is None or not self.api_key.get_secret_value().strip()

    @property
    def db_path(self) -> Path:
        return self.data_dir / "studio.db"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def key(self) -> str:
        "The key to send: the configured one, or the simulator's."
        configured = self.api_key.get_secret_value().strip() if self.api_key is not None else ""
        return configured or SIMULATOR_API_KEY

    def api_scope(self, base_url: str) -> str:
        """What pooled agents and uploaded references belong to: a one-way fingerprint of (base URL,
        key), never the key itself. The built-in simulator is one scope per data folder, whatever
        port it gets at boot."""
        if self.simulated:
            return SIMULATOR_SCOPE
        return hashlib.sha256(f"{base_url}\0{self.key}".encode()).hexdigest()[:16]


class SecretsToml(TomlConfigSettingsSource):
    """One Streamlit `secrets.toml`: top-level keys named as in the environment (`MOSAIC_API_KEY`,
    `STUDIO_DATA_DIR`) or as the fields (`author`); tables (Streamlit connections) are ignored."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path):
        self.path = path
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            data = super()._read_file(file_path)
        except (OSError, ValueError) as err:  # tomllib.TOMLDecodeError is a ValueError
            raise SettingsError(f"{self.path} could not be read: {err}") from err
        found = {}
        for key, value in data.items():
            if isinstance(value, dict):
                continue
            name = key[len(ENV_PREFIX) :] if key.upper().startswith(ENV_PREFIX) else key
            found[name.lower() if name.lower() in Settings.model_fields else key] = value
        return found


# The secrets files the next `Settings(...)` in this context reads; set only by `load()`.
_secrets_files: ContextVar[tuple[Path, ...]] = ContextVar("secrets_files", default=())


def secrets_files() -> tuple[Path, ...]:
    "The secrets.toml files that exist, highest priority first (resolved now: cwd and home can change)."
    places = (Path.cwd() / SECRETS_FILE, USER_SECRETS_FILE.expanduser())
    return tuple(path for path in places if path.is_file())


def load(**overrides: Any) -> Settings:
    """The studio's settings: `overrides`, then the environment, then `.streamlit/secrets.toml` in
    the working folder, then `~/.streamlit/secrets.toml`. Raises SettingsError on a bad value."""
    token = _secrets_files.set(secrets_files())
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise SettingsError(f"Invalid settings: {_first_problem(err)}") from err
    finally:
        _secrets_files.reset(token)


def as_environment(settings: Settings) -> dict[str, str]:
    "The environment variables that make `load()` in another process return these settings."
    env = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        env[ENV_NAMES.get(name, ENV_PREFIX + name.upper())] = text
    env[ENV_PREFIX + "DATA_DIR"] = str(settings.data_dir)  # resolved here, even when it is the default
    return env


def _first_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(p) for p in problem["loc"]) or "settings"
    return f"{where}: {problem['msg']}"
