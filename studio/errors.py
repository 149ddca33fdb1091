"""The studio's one error tree. Pages and the CLI catch `StudioError` and show `str(err)`.

    StudioError
    ├── ParamsError                  bad input a person typed (prompt, settings, files)
    ├── ApiError                     anything that went wrong talking to Mosaic
    │   ├── ApiConnectionError       no answer; `request_sent` says whether it may have been processed
    │   │   └── ApiTimeoutError
    │   └── ApiStatusError           Mosaic answered with an error status
    │       ├── BadRequestError        400 / 422, carries the server's `detail`
    │       ├── AuthError              401
    │       ├── PermissionDeniedError  403
    │       ├── NotFoundError          404
    │       ├── ConflictError          409
    │       ├── PayloadTooLargeError   413
    │       ├── RateLimitError         429
    │       └── ServerError            5xx
    ├── SettingsError                a setting (environment or secrets.toml) is missing its mark
    ├── StoreError                   the local history could not be read or written
    │   └── DiskFullError              ... because the disk is full (SQLITE_FULL, ENOSPC): wait for space
    ├── MediaError                   a video file is unreadable or damaged, or could not be rendered
    │   └── WrongVideoError          a whole, playable video that is not the take that was asked for
    ├── JobError                     a job cannot do what was asked (e.g. cancel a finished run)
    ├── BudgetError                  a launch would pass a daily spend cap (nothing was queued)
    └── ShareLinkError               a share link that is unknown (404), revoked or expired (410)

No message ever contains the API key: errors are built from status, `detail` and paths only.
"""

from __future__ import annotations


class StudioError(Exception):
    "Base of every error the studio shows to a person."


class ParamsError(StudioError, ValueError):
    "Input a person gave is not valid; the message says which field and why."

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class ApiError(StudioError):
    "Talking to the Mosaic API failed."


class ApiConnectionError(ApiError):
    "Mosaic could not be reached, or the answer was lost; check the network and try again."

    def __init__(self, message: str, *, request_sent: bool = True):
        super().__init__(message)
        # False only when the request certainly never reached the server (connect failed),
        # so a retry cannot duplicate anything it did.
        self.request_sent = request_sent


class ApiTimeoutError(ApiConnectionError):
    "Mosaic did not answer in time; the request may still have been processed."


class ApiStatusError(ApiError):
    "Mosaic answered with an error status."

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: str | None = None,
        body: object = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.body = body
        self.retry_after = retry_after


class BadRequestError(ApiStatusError):
    "Mosaic rejected the request (400/422); its `detail` says what to change."


class AuthError(ApiStatusError):
    "The API key was refused (401): check MOSAIC_API_KEY."


class PermissionDeniedError(ApiStatusError):
    "The API key may not do this (403): ask an org admin for the right scopes."


class NotFoundError(ApiStatusError):
    "Mosaic does not know this id (404)."


class ConflictError(ApiStatusError):
    "The request conflicts with the current state (409), e.g. a run that already finished."


class PayloadTooLargeError(ApiStatusError):
    "The file is larger than Mosaic accepts (413)."


class RateLimitError(ApiStatusError):
    "Too many requests (429); the studio waits and retries."


class ServerError(ApiStatusError):
    "Mosaic had an internal error (5xx); try again shortly."


class SettingsError(StudioError):
    "A setting from the environment or a secrets.toml is not valid; the message names it."


class StoreError(StudioError):
    "The local history could not be read or written."


class DiskFullError(StoreError):
    "The disk is full (SQLite's SQLITE_FULL, or ENOSPC on a file): nothing can be saved until space is freed."


class MediaError(StudioError):
    "A video file is unreadable, damaged or could not be rendered; download or render it again."


class WrongVideoError(MediaError):
    "The video is whole and plays, but its size or length is not what the job asked for."


class JobError(StudioError):
    "A job cannot do what was asked in its current state."


class BudgetError(StudioError):
    """A launch would take a person or the studio past a daily cap; nothing was queued. The message
    says the cap, what is spent today and what the launch would add (`scope`: person or studio)."""

    def __init__(self, message: str, *, scope: str, cap: float, spent: float, adding: float, unit: str):
        super().__init__(message)
        self.scope, self.cap, self.spent, self.adding, self.unit = scope, cap, spent, adding, unit


class ShareLinkError(StudioError):
    """A share link that cannot be opened: `status` is the HTTP answer (404 unknown, 410 revoked,
    expired, or what it shared was deleted); ask its owner for a new link."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


_STATUS_ERRORS: dict[int, tuple[type[ApiStatusError], str]] = {
    400: (BadRequestError, "Mosaic rejected the request"),
    401: (AuthError, "The API key was refused; check MOSAIC_API_KEY"),
    403: (PermissionDeniedError, "The API key is not allowed to do this"),
    404: (NotFoundError, "Not found on Mosaic"),
    409: (ConflictError, "Conflict with the current state"),
    413: (PayloadTooLargeError, "The file is too large for Mosaic"),
    422: (BadRequestError, "Mosaic rejected the request"),
    429: (RateLimitError, "Mosaic is rate limiting requests"),
}


def status_error_class(status_code: int) -> tuple[type[ApiStatusError], str]:
    "The error class and a plain-words summary for an HTTP error status."
    if status_code >= 500:
        return ServerError, "Mosaic had a server error"
    return _STATUS_ERRORS.get(status_code, (ApiStatusError, "Mosaic returned an error"))


def error_for_status(
    status_code: int, detail: str | None = None, *, body: object = None, retry_after: float | None = None
) -> ApiStatusError:
    "Build the right `ApiStatusError` subclass for a status code and the server's detail."
    cls, summary = status_error_class(status_code)
    message = f"{summary} (HTTP {status_code})"
    if detail:
        message += f": {detail}"
    return cls(message, status_code=status_code, detail=detail, body=body, retry_after=retry_after)
