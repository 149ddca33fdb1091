"""The one Mosaic HTTP client (sync, thread-safe): typed calls, explicit timeouts, a retry policy
that never repeats a request Mosaic may already have processed, and every `httpx` error translated
into `studio.errors`. It knows nothing about the store, jobs or Streamlit.

The API key goes only to the API host: signed storage URLs get a second client without it, which
fetches only from the API's own origin or an allowed storage host (https), follows redirects only
within one host, and checks what it downloads against its length, a size cap, a deadline and a
minimum rate (`DownloadLimits`).
"""

from __future__ import annotations

import email.utils
import hashlib
import json as jsonlib
import logging
import math
import mimetypes
import random
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, quote_plus

import httpx
from pydantic import BaseModel, ValidationError

from . import settings as settings_module
from .errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    ApiTimeoutError,
    ParamsError,
    SettingsError,
    StoreError,
    error_for_status,
)
from .format import shorten
from .models import (
    VIDEO_GENERATION_NODE_TYPE_ID,
    Agent,
    AgentChange,
    AgentInfo,
    AgentList,
    AgentNode,
    AgentNodeAnswer,
    CancelResult,
    Credits,
    ResumeResult,
    Run,
    RunList,
    RunNodes,
    RunStarted,
    UploadTicket,
    VideoGenerationParams,
    Whoami,
)
from .settings import Settings, checked_storage_hosts

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=DEFAULT_CONNECT_TIMEOUT)
DEFAULT_MAX_RETRIES = 3
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# Longest Retry-After we obey; longer asks fall back to backoff, and the final error still carries
# `retry_after` so the job runner can reschedule instead of blocking a worker thread for minutes.
MAX_RETRY_AFTER = 60.0
# A Retry-After beyond a day is a broken header, not advice; it is treated as absent.
MAX_PARSED_RETRY_AFTER = 24 * 3600.0
# 409 is deliberately absent: on Mosaic it means "wrong run state", which no retry fixes.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# A rate-limited request was not processed, so even a non-idempotent call may repeat it.
UNSENT_RETRY_STATUSES = frozenset({429})
# Where Mosaic's signed media URLs live (mosaic-api.md: signed GCS URLs); the API's own origin is
# always allowed too (the simulator serves its renders beside the API). A subdomain of an entry
# matches (bucket.storage.googleapis.com).
DEFAULT_STORAGE_HOSTS = tuple(settings_module.DEFAULT_STORAGE_HOSTS.split(","))
MAX_STORAGE_REDIRECTS = 5
# A take is tens of megabytes; anything near the cap is not a video Mosaic made for us. Below the
# minimum rate (averaged over the window) a transfer is abandoned and tried again: a 60 MB take at
# that rate still finishes within the deadline, a 100 B/s trickle never would.
DEFAULT_MAX_DOWNLOAD_BYTES = settings_module.DEFAULT_DOWNLOAD_MAX_BYTES
DEFAULT_DOWNLOAD_DEADLINE_S = settings_module.DEFAULT_DOWNLOAD_DEADLINE_S
DEFAULT_MIN_DOWNLOAD_RATE = settings_module.DEFAULT_DOWNLOAD_MIN_RATE
DEFAULT_RATE_WINDOW_S = settings_module.DEFAULT_DOWNLOAD_RATE_WINDOW_S
# Most seconds one call may spend waiting between its retries. A longer wait (a Retry-After of a
# minute, say) raises at once with `retry_after` set, so the job runner reschedules the job instead
# of parking one of its worker threads, and a page answers instead of hanging.
DEFAULT_RETRY_BUDGET = 10.0
MAX_DETAIL_CHARS = 500
KEY_PLACEHOLDER = "[api key]"
LIST_LIMIT_MAX = 100
UPLOAD_KINDS = ("image", "video", "audio")

SAFE: Literal["safe"] = "safe"
UNSENT: Literal["unsent"] = "unsent"
RetryMode = Literal["safe", "unsent"]

try:
    USER_AGENT = f"mosaic-prompt-studio/{metadata.version('mosaic-prompt-studio')}"
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    USER_AGENT = "mosaic-prompt-studio"

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


# ---------------------------------------------------------------- retry policy (pure)


def _sane_wait(seconds: float) -> float | None:
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_PARSED_RETRY_AFTER:
        return None
    return seconds


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_retry_after(headers: Mapping[str, str] | None, *, now: Callable[[], float] = time.time) -> float | None:
    "Seconds the server asks us to wait (`retry-after-ms`, then `retry-after`); None if absent or unusable."
    if not headers:
        return None
    lowered = {str(k).lower(): str(v).strip() for k, v in headers.items()}
    ms = _number(lowered.get("retry-after-ms", ""))
    if ms is not None:
        return _sane_wait(ms / 1000)
    text = lowered.get("retry-after", "")
    if not text:
        return None
    seconds = _number(text)
    if seconds is not None:
        return _sane_wait(seconds)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return _sane_wait(when.timestamp() - now())


def _pick_delay(attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
    # If Mosaic asks for a reasonable wait, do what it says.
    if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
        return retry_after
    backoff = min(INITIAL_RETRY_DELAY * 2 ** min(max(attempt, 0), 32), MAX_RETRY_DELAY)
    # Up to 25% shorter, so workers that failed together do not retry in lockstep.
    return backoff * (1 - 0.25 * rand())


def retry_delay(
    attempt: int, headers: Mapping[str, str] | None = None, *, random: Callable[[], float] = random.random
) -> float:
    "Seconds before retry number `attempt` (0-based): a Retry-After of at most 60 s, else jittered backoff."
    return _pick_delay(attempt, parse_retry_after(headers), random)


def should_retry_status(code: int) -> bool:
    "True for statuses worth repeating a safe (idempotent) call for."
    return code in RETRY_STATUSES


def _retryable(error: ApiError, mode: RetryMode) -> bool:
    # Mosaic has no idempotency key: repeating a POST /run that it may have received can start a
    # second, billable run. So "unsent" calls repeat only when the request certainly was not processed.
    if isinstance(error, ApiStatusError):
        if mode == SAFE:
            return should_retry_status(error.status_code)
        return error.status_code in UNSENT_RETRY_STATUSES
    if isinstance(error, ApiConnectionError):
        return mode == SAFE or not error.request_sent
    return False


# ---------------------------------------------------------------- error bodies


def _shorten(text: str) -> str:
    return shorten(text, MAX_DETAIL_CHARS)


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    msg = str(item.get("msg") or item.get("message") or "")
    # FastAPI prefixes every location with where it came from; people only need the field.
    loc = [str(p) for p in item.get("loc") or () if p not in ("body", "query", "path")]
    where = ".".join(loc)
    if msg and where:
        return f"{where}: {msg}"
    return msg or where or jsonlib.dumps(item, default=str)


def _as_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        # Storage (GCS) answers in XML; its <Message> is the readable part.
        found = re.search(r"<Message>(.*?)</Message>", value, re.S) or re.search(
            r"<title>(.*?)</title>", value, re.S | re.I
        )
        return _shorten(found.group(1) if found else value) or None
    if isinstance(value, list):
        return _shorten("; ".join(p for p in map(_validation_item, value) if p)) or None
    if isinstance(value, dict):
        return _shorten(_validation_item(value)) or None
    return _shorten(str(value))


def _detail_from(body: Any) -> str | None:
    "The human message of an error body: `detail` (text or FastAPI list), else `error`, else the text."
    if isinstance(body, dict):
        for key in ("detail", "error", "message"):
            text = _as_text(body.get(key))
            if text:
                return text
        return None
    return _as_text(body)


def key_forms(key: str) -> list[str]:
    "The key as text could carry it: raw, JSON-escaped, repr'd (text or bytes), percent-encoded; longest first."
    forms = {
        key,
        jsonlib.dumps(key)[1:-1],
        jsonlib.dumps(key, ensure_ascii=False)[1:-1],
        repr(key)[1:-1],
        repr(key.encode())[2:-1],
        quote(key, safe=""),
        quote_plus(key),
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


def _parse_body(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return jsonlib.loads(text)
    except ValueError:
        return text


def _segment(value: str) -> str:
    "One path segment, quoted so an id can never reach another route."
    text = str(value).strip()
    if not text:
        raise ParamsError("An id is required (got an empty one)", field="id")
    return quote(text, safe="")


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:  # naive datetimes are taken as UTC, like Mosaic's own timestamps
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} bytes"  # pragma: no cover


def _list_params(
    *,
    since: datetime | str | None,
    until: datetime | str | None,
    status: list[str] | str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, str]:
    "The query of a run listing (limit, from, to, status, cursor), checked before anything is sent."
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise ParamsError(f"A listing's limit must be 1 to {LIST_LIMIT_MAX} (got {limit})", field="limit")
    params = {"limit": str(limit)}
    if since is not None:
        params["from"] = _timestamp(since)
    if until is not None:
        params["to"] = _timestamp(until)
    if status:
        params["status"] = status if isinstance(status, str) else ",".join(status)
    if cursor:
        params["cursor"] = cursor
    return params


def _follow(page: Callable[[str | None], RunList]) -> Iterator[Run]:
    "Runs of every page, following `next_cursor`; a cursor handed back twice ends the walk."
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        listing = page(cursor)
        yield from listing.runs
        cursor = listing.next_cursor
        # A server that hands back a cursor twice would otherwise loop forever.
        if not cursor or cursor in seen:
            return
        seen.add(cursor)


# ---------------------------------------------------------------- downloads (pure parts)


@dataclass(frozen=True)
class DownloadLimits:
    "What one download may cost: bytes, seconds in all (retries included), and the slowest rate kept."

    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    deadline_s: float = DEFAULT_DOWNLOAD_DEADLINE_S
    min_rate: float = DEFAULT_MIN_DOWNLOAD_RATE  # bytes per second, averaged over rate_window_s
    rate_window_s: float = DEFAULT_RATE_WINDOW_S

    @classmethod
    def from_settings(cls, settings: Settings) -> DownloadLimits:
        "The limits the STUDIO_DOWNLOAD_* settings give."
        return cls(
            max_bytes=settings.download_max_bytes,
            deadline_s=settings.download_deadline,
            min_rate=settings.download_min_rate,
            rate_window_s=settings.download_rate_window,
        )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _storage_allowed(target: httpx.URL, allowed: Collection[str]) -> bool:
    """A host entry allows https on it and its subdomains; an entry with a scheme
    (http://127.0.0.1:9000, say a local proxy's storage) allows exactly that origin."""
    host = target.host.lower().rstrip(".")
    for entry in allowed:
        if "://" in entry:
            if _origin(httpx.URL(entry)) == _origin(target):
                return True
        elif target.scheme == "https" and (host == entry or host.endswith("." + entry)):
            return True
    return False


def _content_length(response: httpx.Response) -> int | None:
    try:
        value = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


class _RateWatch:
    "Abandons a transfer that runs past its deadline or averages below the minimum rate over a window."

    def __init__(self, label: str, limits: DownloadLimits, clock: Callable[[], float], started: float):
        self.label, self.limits, self.clock = label, limits, clock
        self.deadline = started + limits.deadline_s
        self.mark_time, self.mark_bytes = clock(), 0

    def remaining(self) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise ApiError(
                f"{self.label}: the download did not finish within {self.limits.deadline_s:g} s "
                "(STUDIO_DOWNLOAD_DEADLINE); abandoned"
            )
        return left

    def saw(self, total: int) -> None:
        "Called after each piece arrives, with the bytes received so far in this attempt."
        self.remaining()
        now = self.clock()
        span = now - self.mark_time
        if span < self.limits.rate_window_s:
            return
        rate = (total - self.mark_bytes) / span
        if rate < self.limits.min_rate:
            raise ApiError(
                f"{self.label}: the download was too slow ({_human_bytes(round(rate))}/s over {span:.0f} s, "
                f"below the minimum {_human_bytes(round(self.limits.min_rate))}/s, STUDIO_DOWNLOAD_MIN_RATE); "
                "abandoned"
            )
        self.mark_time, self.mark_bytes = now, total


# ---------------------------------------------------------------- the client


class MosaicClient:
    """Typed calls to the Mosaic API over one shared `httpx.Client` (safe to share between threads).

    Each call declares a retry mode: "safe" calls (reads, cancel, finalize, storage transfers) retry
    on 408/429/5xx and network failures; "unsent" calls (create, update, run, get_upload_url) retry
    only when the request certainly was not processed (connect failures and 429).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = random.random,
        user_agent: str = USER_AGENT,
        storage_hosts: Collection[str] = DEFAULT_STORAGE_HOSTS,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not api_key or not api_key.strip():
            raise SettingsError("MOSAIC_API_KEY is empty; set it, or leave it unset to use the simulator")
        if max_retries < 0:
            raise SettingsError(f"STUDIO_MAX_RETRIES must be 0 or more (got {max_retries})")
        self.base_url = str(base_url).rstrip("/")
        self.max_retries = max_retries
        self.retry_budget = retry_budget
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(float(timeout), connect=min(DEFAULT_CONNECT_TIMEOUT, float(timeout)))
        self.timeout = timeout
        self._key = api_key.strip()
        self._key_forms = key_forms(self._key)
        self._sleep = sleep
        self._random = random
        self._clock = clock
        try:
            self.storage_hosts = checked_storage_hosts(storage_hosts)
        except ParamsError as err:
            raise SettingsError(f"STUDIO_STORAGE_HOSTS: {err}") from None
        self._api = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json", "User-Agent": user_agent},
        )
        # Signed storage URLs authenticate themselves; the API key must never reach that host.
        # Redirects are followed by hand (_storage_get), and only within one host.
        self._storage = httpx.Client(
            timeout=timeout, transport=transport, follow_redirects=False, headers={"User-Agent": user_agent}
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, base_url: str | None = None, **kw: Any) -> MosaicClient:
        "A client for `settings`; `base_url` overrides settings.base_url (how the simulator is reached)."
        options: dict[str, Any] = {
            "timeout": settings.timeout,  # a float: __init__ keeps connect at DEFAULT_CONNECT_TIMEOUT
            "max_retries": settings.max_retries,
            "storage_hosts": settings.storage_hosts.split(","),
        }
        options.update(kw)
        return cls(base_url or settings.base_url, settings.key, **options)

    def __repr__(self) -> str:
        return f"MosaicClient(base_url={self.base_url!r})"

    def __enter__(self) -> MosaicClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        "Close both HTTP connection pools."
        self._api.close()
        self._storage.close()

    # ------------------------------------------------------------ plumbing

    def _scrub(self, text: str) -> str:
        # Belt and braces: a proxy or a server could echo the Authorization header back, as it is
        # or escaped (inside JSON, a repr of text or bytes, a URL); every form becomes "[api key]".
        for form in self._key_forms:
            text = text.replace(form, KEY_PLACEHOLDER)
        return text

    def _reason(self, err: Exception) -> str:
        text = self._scrub(str(err)).strip()
        return f" ({text})" if text else ""

    @contextmanager
    def _translated(self, label: str, peer: str) -> Iterator[None]:
        "Turn every httpx exception into a studio error, keeping the cause."
        try:
            yield
        except httpx.ConnectTimeout as err:
            raise ApiTimeoutError(
                f"{label}: timed out connecting to {peer}; nothing was sent", request_sent=False
            ) from err
        except httpx.PoolTimeout as err:
            raise ApiTimeoutError(
                f"{label}: no free connection to {peer} in time; nothing was sent", request_sent=False
            ) from err
        except httpx.TimeoutException as err:
            raise ApiTimeoutError(
                f"{label}: {peer} did not answer in time; the request may still have been processed", request_sent=True
            ) from err
        except httpx.ConnectError as err:
            raise ApiConnectionError(
                f"{label}: could not connect to {peer}{self._reason(err)}", request_sent=False
            ) from err
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as err:
            # Our own request is malformed; repeating it cannot help.
            raise ApiError(f"{label}: the request could not be sent{self._reason(err)}") from err
        except httpx.TransportError as err:
            raise ApiConnectionError(
                f"{label}: the connection to {peer} was lost ({type(err).__name__}); "
                "the request may have been processed",
                request_sent=True,
            ) from err
        except (httpx.RequestError, httpx.InvalidURL) as err:
            raise ApiError(f"{label}: {type(err).__name__}{self._reason(err)}") from err

    def _status_error(self, label: str, response: httpx.Response) -> ApiStatusError:
        body = _parse_body(self._scrub(response.text))
        if not isinstance(body, str | None):  # decoding JSON can unescape a form the text scrub missed
            body = jsonlib.loads(self._scrub(jsonlib.dumps(body)))
        error = error_for_status(
            response.status_code, _detail_from(body), body=body, retry_after=parse_retry_after(response.headers)
        )
        error.args = (f"{label}: {error}",)  # name the call; error_for_status knows only the status
        return error

    def _with_retries(self, label: str, mode: RetryMode, once: Callable[[], T]) -> T:
        "Run `once` (one attempt) until it succeeds or the policy for `mode` says stop."
        retries = 0
        waited = 0.0
        while True:
            try:
                return once()
            except ApiError as error:
                if retries >= self.max_retries or not _retryable(error, mode):
                    raise
                delay = _pick_delay(retries, getattr(error, "retry_after", None), self._random)
                if waited + delay > self.retry_budget:
                    raise
                waited += delay
                retries += 1
                logger.warning("%s; retry %d of %d in %.2fs", error, retries, self.max_retries, delay)
                self._sleep(delay)

    def _send(
        self, method: str, path: str, *, mode: RetryMode, json: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        "One API call with retries; returns the decoded JSON body (None when empty)."
        label = f"{method} {path}"

        def once() -> Any:
            started = time.monotonic()
            with self._translated(label, "Mosaic"):
                response = self._api.request(method, path, json=json, params=params)
            logger.debug("%s -> HTTP %d in %.3fs", label, response.status_code, time.monotonic() - started)
            if not response.is_success:
                raise self._status_error(label, response)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError as err:
                kind = response.headers.get("content-type") or "no content type"
                raise ApiError(
                    f"{label}: Mosaic answered HTTP {response.status_code} with a body that is not JSON ({kind})"
                ) from err

        return self._with_retries(label, mode, once)

    def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        mode: RetryMode,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        fill: Mapping[str, Any] | None = None,
    ) -> M:
        "An API call whose answer is validated as `model`; `fill` supplies fields the body may lack."
        data = self._send(method, path, mode=mode, json=json, params=params)
        if fill and isinstance(data, dict):
            data = {**data, **{k: v for k, v in fill.items() if data.get(k) is None}}
        return _validated(model, data, f"{method} {path}")

    def _storage_url(self, url: str) -> httpx.URL:
        """A storage URL Mosaic handed over, if the studio may fetch it: the API's own origin (the
        simulator; relative URLs live beside the API) or https on an allowed storage host. Anything
        else (an internal address, plain http, another site) could copy a page into a served file."""
        try:
            target = httpx.URL(url)
            # The simulator may hand out relative media URLs; they live beside the API.
            target = target if target.is_absolute_url else httpx.URL(self.base_url + "/").join(url)
        except httpx.InvalidURL as err:
            raise ApiError(f"Mosaic gave an invalid storage URL{self._reason(err)}") from err
        if _origin(target) == _origin(httpx.URL(self.base_url)):
            return target
        if not _storage_allowed(target, self.storage_hosts):
            where = f"{target.scheme}://{target.host}" if target.host else "a URL without a host"
            raise ApiError(
                f"Mosaic gave a storage URL on {where}, which the studio does not fetch from: only "
                f"{', '.join(self.storage_hosts) or 'no host'} (STUDIO_STORAGE_HOSTS; a bare host means https) "
                "or the API's own host"
            )
        return target

    @contextmanager
    def _storage_get(self, target: httpx.URL, timeout: httpx.Timeout) -> Iterator[httpx.Response]:
        "A streamed GET of a storage URL, following redirects within its own host only."
        for _ in range(MAX_STORAGE_REDIRECTS + 1):
            response = self._storage.send(self._storage.build_request("GET", target, timeout=timeout), stream=True)
            if not response.is_redirect:
                try:
                    yield response
                finally:
                    response.close()
                return
            response.close()
            try:
                following = target.join(response.headers.get("location", ""))
            except httpx.InvalidURL as err:
                raise ApiError(f"GET {target.host}{target.path}: storage redirected to an invalid URL") from err
            if _origin(following) != _origin(target):
                # The signed URL's host answered with another host: following it would let that
                # answer pick what the studio fetches (and saves, and serves).
                raise ApiError(
                    f"GET {target.host}{target.path}: storage redirected to another host "
                    f"({following.host or 'none'}); not followed"
                )
            target = following
        raise ApiError(f"GET {target.host}{target.path}: storage redirected more than {MAX_STORAGE_REDIRECTS} times")

    # ------------------------------------------------------------ account

    def whoami(self) -> Whoami:
        "Check the key: the organization it belongs to."
        return self._call(Whoami, "GET", "/whoami", mode=SAFE)

    def credits(self) -> Credits:
        "The organization's credit balance and plan."
        return self._call(Credits, "GET", "/credits", mode=SAFE)

    # ------------------------------------------------------------ agents

    def create_agent(self, name: str, *, description: str | None = None, visibility: str = "private") -> AgentChange:
        "Create an empty agent (metadata only); add nodes with `update_agent`."
        body: dict[str, Any] = {"name": name, "visibility": visibility}
        if description is not None:
            body["description"] = description
        return self._call(AgentChange, "POST", "/agent/create", mode=UNSENT, json=body)

    def update_agent(self, agent_id: str, operations: list[dict[str, Any]], **metadata: Any) -> AgentChange:
        "Apply graph `operations` in order and/or change name, description, visibility."
        body = {k: v for k, v in metadata.items() if v is not None}
        if operations:
            body["operations"] = list(operations)
        if not body:
            raise ParamsError("Nothing to change: give graph operations or a name, description or visibility")
        path = f"/agent/{_segment(agent_id)}/update"
        return self._call(AgentChange, "POST", path, mode=UNSENT, json=body, fill={"agent_id": agent_id})

    def get_agent(self, agent_id: str) -> Agent:
        "The agent with its nodes and connections."
        return self._call(Agent, "GET", f"/agent/{_segment(agent_id)}", mode=SAFE)

    def get_agent_node(self, agent_node_id: str) -> AgentNode:
        """One node instance with its `params_used`: for a run's runtime clone (`get_run_nodes`),
        the params that run used. A `NotFoundError` where the API lacks the call."""
        path = f"/agent_nodes/{_segment(agent_node_id)}"
        return self._call(AgentNodeAnswer, "GET", path, mode=SAFE).agent_node

    def list_agents(self, *, cursor: str | None = None, limit: int = LIST_LIMIT_MAX) -> AgentList:
        "One page of the account's agents, newest first."
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return self._call(AgentList, "GET", "/agents", mode=SAFE, params=params)

    def iter_agents(self) -> Iterator[AgentInfo]:
        "Every agent of the account, newest first, following cursors."
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = self.list_agents(cursor=cursor)
            yield from page.agents
            cursor = page.next_cursor
            if not cursor or cursor in seen:
                return
            seen.add(cursor)

    def delete_agent(self, agent_id: str) -> None:
        "Delete an agent (Mosaic keeps it soft-deleted)."
        self._send("POST", f"/agent/{_segment(agent_id)}/delete", mode=SAFE)

    def add_video_node(self, agent_id: str, params: VideoGenerationParams | dict[str, Any] | None = None) -> str:
        "Add a Video Generation node to the agent; returns its agent_node_id."
        op: dict[str, Any] = {
            "op": "create_node",
            "node_type_id": VIDEO_GENERATION_NODE_TYPE_ID,
            "temp_ref_id": "video_generation",
        }
        if isinstance(params, VideoGenerationParams):
            op["params_used"] = params.to_api()
        elif params:
            # A template node may lack a prompt (runs supply it via update_params), so pass as given.
            op["params_used"] = dict(params)
        change = self.update_agent(agent_id, [op])
        for node in change.created_nodes:
            if node.temp_ref_id == op["temp_ref_id"]:
                return node.agent_node_id
        if change.created_nodes:
            return change.created_nodes[0].agent_node_id
        raise ApiError(f"POST /agent/{agent_id}/update: Mosaic reported no created node")

    def update_node(self, agent_id: str, node_id: str, params: dict[str, Any]) -> AgentChange:
        "Merge `params` into one node's saved params."
        return self.update_agent(
            agent_id, [{"op": "update_node", "agent_node_id": node_id, "params_used": dict(params)}]
        )

    def delete_node(self, agent_id: str, node_id: str) -> AgentChange:
        "Delete one node and its connections."
        return self.update_agent(agent_id, [{"op": "delete_node", "agent_node_id": node_id}])

    # ------------------------------------------------------------ runs

    def run_agent(
        self, agent_id: str, *, update_params: dict[str, Any] | None = None, callback_url: str | None = None
    ) -> RunStarted:
        """Start a run (billable). Never retried once Mosaic may have received it: on
        `ApiConnectionError(request_sent=True)`, 5xx or a garbled answer, check `list_runs` first."""
        body: dict[str, Any] = {}
        if update_params:
            body["update_params"] = update_params
        if callback_url:
            body["callback_url"] = callback_url
        return self._call(RunStarted, "POST", f"/agent/{_segment(agent_id)}/run", mode=UNSENT, json=body)

    def get_run(self, run_id: str) -> Run:
        "Poll one run: status, errors and outputs."
        path = f"/agent_run/{_segment(run_id)}"
        run = self._call(Run, "GET", path, mode=SAFE)
        run.run_id = run_id  # the body does not carry it; the path is authoritative
        return run

    def get_run_nodes(self, run_id: str) -> RunNodes:
        "Per-node status of one run."
        path = f"/agent_run/{_segment(run_id)}/nodes"
        return self._call(RunNodes, "GET", path, mode=SAFE, fill={"run_id": run_id})

    def list_runs(
        self,
        agent_id: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        status: list[str] | str | None = None,
        limit: int = LIST_LIMIT_MAX,
        cursor: str | None = None,
    ) -> RunList:
        "One page of an agent's runs; pass its `next_cursor` back as `cursor` for the next page."
        params = _list_params(since=since, until=until, status=status, limit=limit, cursor=cursor)
        return self._call(RunList, "GET", f"/agent/{_segment(agent_id)}/runs", mode=SAFE, params=params)

    def iter_runs(
        self,
        agent_id: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        status: list[str] | str | None = None,
        limit: int = LIST_LIMIT_MAX,
    ) -> Iterator[Run]:
        "Every run of one agent matching the filters, following `next_cursor` page by page."
        yield from _follow(
            lambda cursor: self.list_runs(agent_id, since=since, until=until, status=status, limit=limit, cursor=cursor)
        )

    def list_all_runs(
        self,
        *,
        agent_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        status: list[str] | str | None = None,
        limit: int = LIST_LIMIT_MAX,
        cursor: str | None = None,
    ) -> RunList:
        """One page of the organization's runs (`GET /agent_runs`). Summaries carry status, node
        counts and outputs, but not `needs_credits`: ask `get_run` when that matters."""
        params = _list_params(since=since, until=until, status=status, limit=limit, cursor=cursor)
        if agent_id:
            params["agent_id"] = agent_id
        return self._call(RunList, "GET", "/agent_runs", mode=SAFE, params=params)

    def iter_all_runs(
        self,
        *,
        agent_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        status: list[str] | str | None = None,
        limit: int = LIST_LIMIT_MAX,
    ) -> Iterator[Run]:
        "Every run of the organization matching the filters, page by page (stop early by breaking)."
        yield from _follow(
            lambda cursor: self.list_all_runs(
                agent_id=agent_id, since=since, until=until, status=status, limit=limit, cursor=cursor
            )
        )

    def cancel_run(self, run_id: str) -> CancelResult:
        "Cancel an active run (retried: cancelling twice does no harm)."
        path = f"/agent_run/{_segment(run_id)}/cancel"
        return self._call(CancelResult, "POST", path, mode=SAFE, fill={"run_id": run_id})

    def resume_run(self, run_id: str) -> ResumeResult:
        "Re-queue a failed or cancelled run (409 `ConflictError` in any other state)."
        path = f"/agent_run/{_segment(run_id)}/resume"
        # Resuming restarts billable work, so treat it like POST /run.
        return self._call(ResumeResult, "POST", path, mode=UNSENT, fill={"run_id": run_id})

    # ------------------------------------------------------------ uploads and downloads

    def upload(
        self,
        kind: Literal["image", "video", "audio"],
        data: bytes | Path,
        filename: str,
        content_type: str | None = None,
    ) -> str:
        "Upload a reference file (get_upload_url, POST to storage, finalize); returns its upload id."
        if kind not in UPLOAD_KINDS:
            raise ParamsError(f"A reference must be one of {', '.join(UPLOAD_KINDS)} (got {kind!r})", field="kind")
        if isinstance(data, (bytes, bytearray)):
            size = len(data)
        else:
            try:
                size = Path(data).stat().st_size
            except OSError as err:
                raise ParamsError(f"Cannot read {filename}: {err.strerror}", field="file") from err
            if not Path(data).is_file():  # checked before the upload ticket is asked for
                raise ParamsError(f"{filename} is a folder or device, not a file", field="file")
        if size == 0:
            raise ParamsError(f"{filename} is empty", field="file")
        content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"

        ticket = self._call(UploadTicket, "POST", f"/uploads/{kind}/get_upload_url", mode=UNSENT)
        asset_id = ticket.asset_id(kind)
        if asset_id is None:
            raise ApiError(f"POST /uploads/{kind}/get_upload_url: unexpected answer from Mosaic (no {kind}_id)")
        limit = ticket.max_file_size_bytes
        if limit is not None and size > limit:
            raise ParamsError(
                f"{filename} is {_human_bytes(size)}; Mosaic accepts {kind} files up to {_human_bytes(limit)}",
                field="file",
            )

        target = self._storage_url(ticket.upload_url)
        label = f"POST {target.host}{target.path}"
        # Signed POST policies require every policy field before the file part.
        fields = {str(k): str(v) for k, v in ticket.upload_fields.items()}

        def once() -> None:
            with self._translated(label, target.host or "storage"):
                if isinstance(data, (bytes, bytearray)):
                    response = self._storage.post(
                        target, data=fields, files={"file": (filename, bytes(data), content_type)}
                    )
                else:
                    with Path(data).open("rb") as fh:  # reopened per attempt, so a retry starts at 0
                        response = self._storage.post(target, data=fields, files={"file": (filename, fh, content_type)})
            logger.debug("%s -> HTTP %d", label, response.status_code)
            if not response.is_success:
                raise self._status_error(label, response)

        self._with_retries(label, SAFE, once)
        self._send("POST", f"/uploads/{kind}/finalize_upload", mode=SAFE, json={f"{kind}_id": asset_id})
        return asset_id

    def download(self, url: str, dest: Path, limits: DownloadLimits | None = None) -> tuple[int, str]:
        """Stream a signed media URL to `dest` (the caller picks a .part name) without the API key.
        Returns (bytes written, sha256 hex). On failure `dest` is removed.

        A body shorter than its Content-Length is a lost connection (retried); one larger than
        `limits.max_bytes` is refused before it is read, or cut when it passes the cap; a transfer
        past `limits.deadline_s` (retries included) or slower than `limits.min_rate` is abandoned."""
        limits = limits or DownloadLimits()
        target = self._storage_url(url)
        label = f"GET {target.host}{target.path}"
        dest = Path(dest)
        started = self._clock()

        def once() -> tuple[int, str]:
            watch = _RateWatch(label, limits, self._clock, started)
            timeout = httpx.Timeout(min(self.timeout.read or math.inf, watch.remaining()), connect=self.timeout.connect)
            digest = hashlib.sha256()
            size = 0
            with self._translated(label, target.host or "storage"), self._storage_get(target, timeout) as response:
                if not response.is_success:
                    response.read()
                    raise self._status_error(label, response)
                declared = _content_length(response)
                if declared is not None and declared > limits.max_bytes:
                    raise ApiError(
                        f"{label}: the file is {_human_bytes(declared)}, more than the "
                        f"{_human_bytes(limits.max_bytes)} cap (STUDIO_DOWNLOAD_MAX_BYTES); not downloaded"
                    )
                try:
                    with dest.open("wb") as fh:  # "wb": a retry starts the file over
                        # No chunk size: each piece is handled as it arrives, so a trickle is seen.
                        for chunk in response.iter_bytes():
                            size += len(chunk)
                            if size > limits.max_bytes:
                                raise ApiError(
                                    f"{label}: the file passed the {_human_bytes(limits.max_bytes)} cap "
                                    "(STUDIO_DOWNLOAD_MAX_BYTES); download stopped"
                                )
                            fh.write(chunk)
                            digest.update(chunk)
                            watch.saw(size)
                except OSError as err:
                    raise StoreError(f"Could not write {dest.name}: {err.strerror or err}") from err
                # Content-Length counts the bytes as sent, before any content-encoding is undone.
                encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
                received = response.num_bytes_downloaded if encoded else size
                if declared is not None and received != declared:
                    raise ApiConnectionError(
                        f"{label}: the body ended after {received} of the {declared} bytes its Content-Length promised",
                        request_sent=True,
                    )
            logger.debug("%s -> %d bytes", label, size)
            return size, digest.hexdigest()

        try:
            return self._with_retries(label, SAFE, once)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise


def _validated(model: type[M], data: Any, label: str) -> M:
    "Validate a 2xx body; a shape we cannot use becomes an `ApiError` naming the field."
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ApiError(f"{label}: unexpected answer from Mosaic ({where}: {first.get('msg')})") from err


__all__ = [
    "DEFAULT_DOWNLOAD_DEADLINE_S",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MIN_DOWNLOAD_RATE",
    "DEFAULT_RATE_WINDOW_S",
    "DEFAULT_STORAGE_HOSTS",
    "DEFAULT_TIMEOUT",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
    "RETRY_STATUSES",
    "SAFE",
    "UNSENT",
    "UNSENT_RETRY_STATUSES",
    "DownloadLimits",
    "MosaicClient",
    "RetryMode",
    "parse_retry_after",
    "retry_delay",
    "should_retry_status",
]
