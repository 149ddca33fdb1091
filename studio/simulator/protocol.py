"""The wire format every route shares: error answers, timestamps, ids, JSON bodies and keyset
pagination (`limit` 1–100, opaque `cursor`), as mosaic-api.md describes them.
"""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

LIST_LIMIT_DEFAULT = 25
LIST_LIMIT_MAX = 100
# Error codes of mosaic-api.md's (older) table; 409 and 413 have none there.
ERROR_CODES = {
    400: "validation_error",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "file_too_large",
    422: "parameter_out_of_range",
    429: "rate_limit",
}


class ApiFail(Exception):
    "An API error answer, `{'detail': ..., 'error': ...}` with a status."

    def __init__(self, status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers
        self.code = code or ERROR_CODES.get(status, "internal_server_error")

    def response(self) -> JSONResponse:
        return error_response(self.status, self.detail, self.code, self.headers)


def error_response(
    status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    "An error answer: `{'detail': ..., 'error': code}` with `status`."
    code = code or ERROR_CODES.get(status, "internal_server_error")
    return JSONResponse({"detail": detail, "error": code}, status_code=status, headers=headers)


def now_ts() -> float:
    # Millisecond precision, the same as the ISO strings, so `from`/`to` filters built from a
    # returned timestamp include that run.
    "Now, as a Unix time with millisecond precision."
    return math.floor(time.time() * 1000) / 1000


def iso(ts: float | None) -> str | None:
    "An ISO-8601 UTC timestamp with milliseconds and Z, or None."
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(name: str, text: str) -> float:
    "A Unix time from an ISO-8601 query value; 400 when unreadable (naive means UTC)."
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise ApiFail(
            400, f"{name} must be an ISO-8601 timestamp such as 2026-01-10T14:30:00Z (got {text!r})"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def new_id() -> str:
    "A fresh UUID string."
    return str(uuid.uuid4())


def is_http_url(value: Any) -> bool:
    "True for an absolute http(s) URL."
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def json_body(request: Request) -> dict[str, Any]:
    "The request's JSON object ({} when empty); 400 otherwise."
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiFail(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiFail(400, "The request body must be a JSON object")
    return data


def list_limit(request: Request) -> int:
    "The `limit` query value (1–100, default 25); 400 or 422 otherwise."
    text = request.query_params.get("limit")
    if text is None:
        return LIST_LIMIT_DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise ApiFail(400, f"limit must be a whole number from 1 to {LIST_LIMIT_MAX} (got {text!r})") from None
    if not 1 <= value <= LIST_LIMIT_MAX:
        raise ApiFail(422, f"limit must be from 1 to {LIST_LIMIT_MAX} (got {value})")
    return value


def encode_cursor(seq: int) -> str:
    "An opaque cursor for the items before `seq`."
    return base64.urlsafe_b64encode(json.dumps({"before": seq}).encode()).decode().rstrip("=")


def decode_cursor(request: Request) -> int | None:
    "The seq a `cursor` query value points before, or None; 400 when tampered with."
    text = request.query_params.get("cursor")
    if not text:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return int(data["before"])
    except (ValueError, KeyError, TypeError):
        raise ApiFail(400, "cursor is not valid; pass next_cursor back verbatim") from None


def paginate(items: list[Any], request: Request, seq: Callable[[Any], int]) -> tuple[list[Any], str | None]:
    "Newest-first keyset pagination: `items` must already be sorted by descending seq."
    limit, before = list_limit(request), decode_cursor(request)
    if before is not None:
        items = [i for i in items if seq(i) < before]
    page = items[:limit]
    more = len(items) > limit
    return page, encode_cursor(seq(page[-1])) if more and page else None
