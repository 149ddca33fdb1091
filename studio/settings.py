"""All configuration in one `Settings` object, and the one loader every entry point uses.

`load(**overrides)` is how the web app (`asgi_app.py`, `streamlit_app.py`) and the `studio`
command read their settings: the overrides first, then the environment (prefix `STUDIO_`, plus
`MOSAIC_API_KEY` / `MOSAIC_BASE_URL`), then `secrets.toml` from the places Streamlit reads it, the
working folder's `.streamlit/secrets.toml` before the user's `~/.streamlit/secrets.toml`. A
secrets file takes the same names as the environment (and the field names). Tests build
`Settings(...)` directly, which reads the arguments and the environment only.

Without an API key the studio talks to the built-in simulator.

Every value is checked when it is read, and `load()` also checks that the data folder can be
written: a problem is one `SettingsError` naming the variable (`STUDIO_TIMEOUT`, `MOSAIC_API_KEY`)
and what it must be, never echoing a secret.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Collection, Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .costs import parse_credit_rates
from .dialects import checked_database_url
from .errors import ParamsError, SettingsError

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
DEFAULT_RUN_DEADLINE_S = 60 * 60.0  # a run still going an hour after Mosaic accepted it is cancelled
DEFAULT_DISK_RETRY_S = 10.0  # while the disk is full, how often the worker looks for space again
DEFAULT_WORKER_LEASE_S = 30.0  # a worker holds its jobs this long past its last renewal (issue 10 §2)
MIN_WORKER_LEASE_S = 1.0  # renewed every third of it: shorter would be mostly renewals
DEFAULT_CONFIRM_ABOVE_CELLS = 12
# Sanity bounds: a wait longer than a week is a typo (and past what a socket or a timer can take).
MAX_SECONDS = 7 * 24 * 3600.0
MAX_IN_FLIGHT_LIMIT = 1_000
MAX_RETRIES_LIMIT = 100
MAX_CAP = 1e12  # a daily cap past this is a typo
MAX_DOWNLOAD_BYTES = 1024**4  # a terabyte: past any video, and past any disk meant for them
URL_SCHEMES = ("http", "https")
SECRET_FIELDS = ("api_key", "webhook_secret", "database_url", "media_url")  # never echoed in a message
MAX_SHOWN_CHARS = 80  # of a bad value quoted back in a message
WRITE_PROBE_PREFIX = ".studio-write-probe-"
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
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # RFC 9110 §5.1 token
USER_SECRETS_FILE = Path("~") / ".streamlit" / "secrets.toml"


class Settings(BaseSettings):
    "Every knob of the studio; each field is documented in the README's configuration table."

    # No NaN or infinity in any number; no input in a ValidationError's text (it may be a secret).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        populate_by_name=True,
        allow_inf_nan=False,
        hide_input_in_errors=True,
    )

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
    # Where the history lives (studio.dialects): unset, sqlite:///path or postgresql://... (a password
    # in it is never shown: messages and logs print studio.dialects.redacted_url).
    database_url: str | None = Field(
        None, description="History database URL: unset (studio.db in the data folder), sqlite:///path, postgresql://…"
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        return checked_database_url(v) if v and v.strip() else None

    # Where saved media lives (studio.media_store): unset (the data folder's media/), an absolute folder, or
    # s3://bucket/prefix with endpoint, region and credentials from the usual AWS_* variables.
    media_url: str | None = Field(
        None,
        description="Media store: unset (media/ in the data folder), an absolute folder, or s3://bucket/prefix "
        "(AWS_* vars).",
    )

    @field_validator("media_url")
    @classmethod
    def _media_url(cls, v: str | None) -> str | None:
        from .media_store import parse_media_url  # it builds on this module

        if not v or not v.strip():
            return None
        return v.strip() if parse_media_url(v) else str(Path(v.strip()).expanduser().resolve())

    # The S3 endpoint as browsers reach it, when the studio's own (AWS_ENDPOINT_URL) is an internal
    # name: presigned media URLs are signed for this host (a signature covers the host).
    media_public_endpoint: str | None = Field(
        None, description="S3 endpoint for browsers' presigned URLs (default: AWS_ENDPOINT_URL)."
    )

    @field_validator("media_public_endpoint")
    @classmethod
    def _media_public_endpoint(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
            raise ValueError("must be an http(s) address with no path, e.g. https://media.example.com")
        return v.strip().rstrip("/")

    timeout: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=MAX_SECONDS, description="Seconds before an API call times out.")
    max_retries: int = Field(
        DEFAULT_MAX_RETRIES, ge=0, le=MAX_RETRIES_LIMIT, description="Retries of a failed safe API call."
    )
    max_in_flight: int = Field(
        DEFAULT_MAX_IN_FLIGHT, ge=1, le=MAX_IN_FLIGHT_LIMIT, description="Runs submitted to Mosaic at once."
    )
    poll_interval: float = Field(
        DEFAULT_POLL_INTERVAL_S, gt=0, le=MAX_SECONDS, description="Shortest wait between polls of runs."
    )
    max_poll_interval: float = Field(
        DEFAULT_MAX_POLL_INTERVAL_S, gt=0, le=MAX_SECONDS, description="Longest wait between polls."
    )
    run_flow: Literal["reuse", "three_call"] = Field(
        "reuse",
        description="reuse: one POST /run per generation on pooled agents; "
        "three_call: create agent, add node, run (the brief's flow).",
    )
    public_url: str | None = Field(
        None, description="Public URL of this studio; when set, runs carry callback_url for webhooks."
    )
    webhook_secret: SecretStr | None = Field(None, description="Expected X-Mosaic-Signature on webhooks.")
    share_url: str | None = Field(
        None, description="Base URL of share links (/share/<token> is added); unset: the address of the page."
    )
    credits_per_second: str | None = Field(
        None,
        description="Credits per generated second, for estimates before a run: one number, or a rate per "
        "resolution such as 480p=1,720p=2,1080p=4.",
    )
    # Daily spend caps (studio.budget), after credits_per_second: a credit cap needs the rate.
    cap_person_day: float | None = Field(
        None, gt=0, le=MAX_CAP, description="Most one person may launch per UTC day, in cap_unit (unset: no cap)."
    )
    cap_studio_day: float | None = Field(
        None, gt=0, le=MAX_CAP, description="Most the whole studio may launch per UTC day, in cap_unit (unset: no cap)."
    )
    cap_unit: Literal["seconds", "credits"] = Field(
        "seconds", description="Unit of the caps: seconds of video, or credits (needs credits_per_second)."
    )
    author: str = Field(
        "", description="Name recorded as the author of new work by someone the studio does not know yet."
    )
    # Who is who (studio.people): the proxy header is believed only when named here.
    trusted_user_header: str | None = Field(
        None,
        description="Header a trusted reverse proxy sets to the signed-in person (e.g. X-Forwarded-Email); "
        "only set it when that proxy is the only way in.",
    )
    confirm_above_cells: int = Field(
        DEFAULT_CONFIRM_ABOVE_CELLS, ge=1, description="Compare asks for confirmation above this many cells."
    )
    sim_latency: float = Field(3.0, ge=0, le=MAX_SECONDS, description="Simulator: fixed seconds per run.")
    sim_latency_per_second: float = Field(
        0.1, ge=0, le=MAX_SECONDS, description="Simulator: extra seconds per second of video."
    )
    first_poll_after: float = Field(
        DEFAULT_FIRST_POLL_AFTER_S,
        ge=0,
        le=MAX_SECONDS,
        description="Seconds after a run starts before its first poll (never more than max_poll_interval).",
    )
    webhook_poll_interval: float = Field(
        DEFAULT_WEBHOOK_POLL_INTERVAL_S,
        gt=0,
        le=MAX_SECONDS,
        description="Longest wait between polls when public_url is set and webhooks bring the news.",
    )
    unknown_outcome_horizon: float = Field(
        DEFAULT_UNKNOWN_OUTCOME_HORIZON_S,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds after a run request with no answer during which its run may still turn up "
        "(its agent waits meanwhile; a late run a job no longer needs is cancelled).",
    )
    stuck_after: float = Field(
        DEFAULT_STUCK_AFTER_S,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds without progress after which a run is called stuck.",
    )
    run_deadline: float = Field(
        DEFAULT_RUN_DEADLINE_S,
        gt=0,
        le=MAX_SECONDS,
        description="Hard limit: seconds after Mosaic accepted a run before it is cancelled there and failed; "
        "also seconds from a job's first submit attempt before one Mosaic never accepted is failed.",
    )
    disk_retry_interval: float = Field(
        DEFAULT_DISK_RETRY_S,
        gt=0,
        le=MAX_SECONDS,
        description="While the disk is full, seconds between looks for space again.",
    )

    storage_hosts: str = Field(
        DEFAULT_STORAGE_HOSTS,
        description="Hosts (comma list; subdomains match) the studio downloads videos from over https, "
        "besides the API's own host; an entry with a scheme (http://127.0.0.1:9000) allows that one origin.",
    )
    download_max_bytes: int = Field(
        DEFAULT_DOWNLOAD_MAX_BYTES, gt=0, le=MAX_DOWNLOAD_BYTES, description="Largest video file downloaded, in bytes."
    )
    download_deadline: float = Field(
        DEFAULT_DOWNLOAD_DEADLINE_S,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds one video may take to download, retries included.",
    )
    download_min_rate: float = Field(
        DEFAULT_DOWNLOAD_MIN_RATE,
        ge=0,
        le=MAX_DOWNLOAD_BYTES,
        description="Bytes per second a download must average over download_rate_window, or it is abandoned.",
    )
    download_rate_window: float = Field(
        DEFAULT_DOWNLOAD_RATE_WINDOW_S,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds over which the download rate is averaged.",
    )
    # Many workers (issue 10 §2): whether this process runs one, and how long its hold on a job lasts.
    run_worker: bool = Field(
        True, description="Run a job worker in this process (web server, commands); off: only `studio worker`s work."
    )
    worker_lease_s: float = Field(
        DEFAULT_WORKER_LEASE_S,
        ge=MIN_WORKER_LEASE_S,
        le=MAX_SECONDS,
        description="Seconds a worker holds its jobs past its last renewal (every third of it); a worker "
        "that dies loses them after this long and another worker resumes them.",
    )

    @field_validator("api_key", "webhook_secret", mode="before")
    @classmethod
    def _sendable(cls, v: object) -> object:
        # Both travel in an HTTP header as they are: a space, a line break or a non-ASCII character
        # cannot be sent (a line break made every request fail, and the error text carried the key).
        text = v.get_secret_value() if isinstance(v, SecretStr) else v
        if isinstance(text, str):
            problem = secret_problem(text)
            if problem:
                raise ValueError(f"{problem} (the value is not shown); set it again without it")
        return v

    @field_validator("base_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        return checked_url(v)

    @field_validator("public_url", "share_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        return checked_url(v) if v and v.strip() else None

    @field_validator("storage_hosts")
    @classmethod
    def _storage_hosts(cls, v: str) -> str:
        return ",".join(checked_storage_hosts(v.split(",")))

    @field_validator("author")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if any(not c.isprintable() for c in v):
            raise ValueError("must be one line of text with no control character (a line break, a tab)")
        return v

    @field_validator("trusted_user_header")
    @classmethod
    def _header_name(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not HEADER_NAME.fullmatch(v.strip()):
            raise ValueError("must be an HTTP header name such as X-Forwarded-Email (letters, digits, -)")
        return v.strip()

    @field_validator("credits_per_second", mode="before")
    @classmethod
    def _credit_rates(cls, v: object) -> str | None:
        # Checked by the one reader of the rates (costs.parse_credit_rates), kept in its plain form.
        rates = parse_credit_rates(v)
        return None if rates is None else str(rates)

    @field_validator("cap_person_day", "cap_studio_day", mode="before")
    @classmethod
    def _blank_cap(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("cap_unit")
    @classmethod
    def _cap_rate(cls, v: str, info: ValidationInfo) -> str:
        capped = info.data.get("cap_person_day") is not None or info.data.get("cap_studio_day") is not None
        if v == "credits" and capped and not info.data.get("credits_per_second"):
            raise ValueError(
                "a cap in credits needs STUDIO_CREDITS_PER_SECOND (credits per generated second) to count them; "
                "set the rate, or give the caps in seconds of video (STUDIO_CAP_UNIT=seconds)"
            )
        return v

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

    @field_validator("data_dir", mode="before")
    @classmethod
    def _named(cls, v: object) -> object:
        # An empty value would resolve to whatever folder the command was started in.
        if isinstance(v, str | Path) and not str(v).strip():
            raise ValueError("is empty; name the folder for the history and videos (unset: ./studio-data)")
        return v

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
        "The media folder: STUDIO_MEDIA_URL when it names a folder, else media/ in the data folder."
        if self.media_url and "://" not in self.media_url:
            return Path(self.media_url)
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


def secret_problem(text: str) -> str | None:
    "What makes a key or secret unsendable in an HTTP header, in words that do not repeat it; None if fine."
    for char in text:
        if char in "\r\n":
            return "contains a line break"
        if char.isspace():
            return "contains a space or a tab"
        if not char.isascii():
            return "contains a character that is not ASCII"
        if not char.isprintable():
            return "contains a control character"
    return None


def checked_url(value: str) -> str:
    "An http(s) URL with a host, as given; ParamsError (a ValueError, for the validators) otherwise."
    text = value.strip()
    if any(c.isspace() or not c.isprintable() for c in text):
        # urlsplit keeps them, and httpx would send a request to a host that cannot exist.
        raise ParamsError("must not contain a space or a control character")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as err:
        raise ParamsError(f"is not a URL ({err})") from None
    if parts.scheme.lower() not in URL_SCHEMES:
        raise ParamsError("must start with http:// or https://")
    if not parts.hostname:
        raise ParamsError("must name a host, such as https://api.mosaic.so")
    return text


def checked_storage_hosts(entries: Iterable[str]) -> tuple[str, ...]:
    """Storage hosts as the client compares them (lower case, no trailing dot): each a bare host
    name (https) or an http(s) origin; ParamsError (a ValueError, for the validators) otherwise."""
    hosts = tuple(h.strip().lower().rstrip(".") for h in entries if h.strip())
    for entry in hosts:
        if any(c.isspace() or not c.isprintable() for c in entry):
            raise ParamsError(f"{entry!r} is not a host name")
        if "://" in entry:
            checked_url(entry)
    return hosts


def env_name(field: str) -> str:
    "The variable (and secrets.toml key) that sets a field: MOSAIC_API_KEY, STUDIO_TIMEOUT, ..."
    return ENV_NAMES.get(field, ENV_PREFIX + field.upper())


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
        settings = Settings(**overrides)
    except ValidationError as err:
        # `from None`: the validation error holds the raw input, which may be the key.
        raise SettingsError(f"Invalid settings: {_problems(err)}") from None
    finally:
        _secrets_files.reset(token)
    check_data_dir(settings.data_dir)
    return settings


def check_data_dir(folder: Path) -> None:
    """The data folder can be made and written: a file in its way, a path through a file, or a
    folder the studio may not write is a SettingsError naming STUDIO_DATA_DIR. Writing is tried for
    real (a probe file, removed at once): as root, permission bits say yes to everything, and a
    read-only mount says no only when written to. Nothing is created when all is well."""
    name = f"{env_name('data_dir')} (data_dir)"
    if folder.exists() and not folder.is_dir():
        raise SettingsError(f"Invalid settings: {name}: {folder} is a file, not a folder")
    media = folder / "media"
    if media.exists() and not media.is_dir():
        raise SettingsError(f"Invalid settings: {name}: {media} is a file where the studio keeps its videos")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SettingsError(f"Invalid settings: {name}: {folder} cannot be made: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=WRITE_PROBE_PREFIX, dir=existing)
    except OSError as err:
        raise SettingsError(
            f"Invalid settings: {name}: the studio cannot write in {existing} ({err.strerror or err}); "
            "give it write permission or choose another folder"
        ) from None
    os.close(handle)
    os.unlink(probe)


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


def _problems(err: ValidationError) -> str:
    "Every problem on one line, each naming its variable (and the field, as secrets.toml may name it)."
    return validation_problems(err, Settings.model_fields, lambda path: env_name(path[0]))


def validation_problems(
    err: ValidationError, fields: Collection[str], name_of: Callable[[tuple[str, ...]], str]
) -> str:
    """The one message rule for every settings object (the studio's, the simulator's): each problem
    names what sets it (`name_of` the field path: a variable or a flag) and the field, and quotes
    the value unless it is a secret."""
    by_name = {name: field for field in fields for name in (field, name_of((field,)))}
    parts = []
    for problem in err.errors():
        loc = str(problem["loc"][0]) if problem["loc"] else ""
        field = by_name.get(loc, by_name.get(loc.upper(), loc))
        path = (field, *(str(p) for p in problem["loc"][1:] if isinstance(p, str)))
        name = name_of(path) if field in fields else (loc or "settings")
        message = problem["msg"].removeprefix("Value error, ").removeprefix(f"{name}: ")
        shown = ""
        if field not in SECRET_FIELDS and "(got " not in message and not isinstance(problem.get("input"), dict):
            shown = f" (got {str(repr(problem['input']))[:MAX_SHOWN_CHARS]})"
        parts.append(f"{name} ({'.'.join(path)}): {message}{shown}")
    return "; ".join(parts)
