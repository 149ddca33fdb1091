"""Generations: queue takes (once per launch key), follow them (progress, queue), wait, cancel and
retry, the webhook that makes a run's job poll at once, and Create's drafts and take layout."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import format as fmt
from ..errors import ParamsError
from ..models import CANCELLABLE_STATUSES, FINAL_STATUSES, RETRYABLE_STATUSES, Generation, VideoGenerationParams
from .app import Services
from .library import check_references
from .snippets import DRAFT_KEEP, draft_from

MAX_TAKES = 4


def generate(
    services: Services,
    params: VideoGenerationParams | dict[str, Any],
    *,
    takes: int = 1,
    author: str | None = None,
    launch_key: str | None = None,
) -> list[str]:
    """Queue `takes` generations of the same settings; returns their ids at once.

    A `launch_key` makes the launch idempotent: the same key again returns the same ids. The
    references are checked together first (counts, total lengths, audio beside an image or video).
    """
    if isinstance(takes, bool) or not isinstance(takes, int) or not 1 <= takes <= MAX_TAKES:
        raise ParamsError(f"Takes must be between 1 and {MAX_TAKES}", field="takes")
    if not isinstance(params, VideoGenerationParams):
        params = VideoGenerationParams.parse(params)
    check_references(services, params.selected_context.model_dump())
    label = (lambda i: f"take {i + 1}") if takes > 1 else (lambda i: None)
    ids = services.store.add_generations(
        [(params, label(i)) for i in range(takes)],
        author=author if author is not None else services.settings.author,
        launch_key=launch_key,
    )
    services.runner.wake()
    return ids


def wait_for(
    services: Services,
    ids: Sequence[str],
    *,
    timeout: float = 900.0,
    on_progress: Callable[[list[Generation]], None] | None = None,
) -> list[Generation]:
    "Block until the generations finish (or time runs out)."
    return services.runner.wait(ids, timeout=timeout, on_progress=on_progress)


def can_cancel(gen: Generation) -> bool:
    "Whether Cancel applies: the run has not produced its video yet."
    return gen.status in CANCELLABLE_STATUSES


def can_retry(gen: Generation) -> bool:
    "Whether Retry applies: the generation failed or was cancelled."
    return gen.status in RETRYABLE_STATUSES


def cancel(services: Services, gen_id: str) -> None:
    services.runner.cancel(gen_id)


def retry(services: Services, gen_id: str) -> None:
    services.runner.retry(gen_id)


def webhook_signed(services: Services, signature: str | bytes | None) -> bool:
    """Whether a webhook's `X-Mosaic-Signature` is the configured secret (always, when none is set).
    Compared as bytes in constant time: any header value, even non-ASCII, is an answer, not an error."""
    secret = services.settings.webhook_secret
    if secret is None:
        return True
    if isinstance(signature, str):
        signature = signature.encode("utf-8", "surrogateescape")
    return bool(signature) and hmac.compare_digest(signature or b"", secret.get_secret_value().encode("utf-8"))


def handle_webhook(services: Services, payload: dict[str, Any], signature: str | bytes | None) -> bool:
    "Take a Mosaic webhook: check the signature, then make the run's job poll now. False if refused."
    if not webhook_signed(services, signature):
        return False
    run_id = payload.get("run_id")
    if isinstance(run_id, str) and run_id:
        status, flag = payload.get("status"), payload.get("flag")
        services.runner.notify_run(
            run_id, status=status if isinstance(status, str) else None, flag=flag if isinstance(flag, str) else None
        )
    return True


# ---------------------------------------------------------------------- progress


@dataclass(frozen=True)
class JobView:
    "A generation with its live job progress, for progress bars."

    gen: Generation
    progress: float
    last_error: str | None

    @property
    def label(self) -> str:
        return fmt.STATUS_WORDS.get(self.gen.status, self.gen.status)


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


def existing(services: Services, ids: Sequence[str]) -> list[str]:
    "The ids that still name a generation, in the order given (a link may outlive its takes)."
    return [g.id for g in services.store.many([i for i in ids if i.strip()])]


# ---------------------------------------------------------------------- drafts and takes on Create


@dataclass(frozen=True)
class Draft:
    "What opening a draft link gave: form values (None: start empty), and a sentence saying so."

    values: dict[str, Any] | None
    kind: str  # success | error (how the page shows `message`)
    message: str


KEEP_WORDS = {"all": "its prompt and settings", "prompt": "its prompt", "settings": "its settings (not the prompt)"}


def _quoted(text: str) -> str:
    "A value from a link, quoted in a message only if it is plain (messages render markdown)."
    return f"“{text}”" if text.isalnum() and len(text) <= 40 else "given in the link"


def open_draft(services: Services, src: str, keep: str | None) -> Draft:
    "A draft from an earlier generation (`?from=<id>&keep=all|prompt|settings`)."
    keep = keep or "all"
    gen = services.store.get(src)
    if gen is None:
        return Draft(None, "error", f"There is no generation with id {_quoted(src)}, so the form starts empty.")
    if keep not in DRAFT_KEEP:
        return Draft(
            None,
            "error",
            f"{_quoted(keep)} is not a way to open a draft (use {', '.join(DRAFT_KEEP)}), so the form starts empty.",
        )
    return Draft(
        draft_from(gen, keep),
        "success",
        f"Draft opened from generation {gen.id} with {KEEP_WORDS[keep]}. Change anything, then press Run.",
    )


def last_run_draft(services: Services, ids: Sequence[str]) -> tuple[dict[str, Any], int] | None:
    "What a run asked for (form values, number of takes), to show again after a browser refresh."
    gens = services.store.many([i for i in ids if i.strip()])
    if not gens:
        return None
    return draft_from(gens[0], "all"), max(1, min(len(gens), MAX_TAKES))


@dataclass(frozen=True)
class TakeLayout:
    "How a run's takes sit on screen: columns per row and the shape (width/height) of each video box."

    columns: int
    ratio: float


LANDSCAPE_COLUMNS = 2  # wide takes side by side two at a time keep a useful height
SQUARE_COLUMNS = 3
PORTRAIT_COLUMNS = 4
DEFAULT_RATIO = 16 / 9  # `auto` aspect before the video is there


def take_layout(gens: Sequence[Generation]) -> TakeLayout:
    "Columns and box shape from the takes' aspect ratio (the video's own size once it is made)."
    ratio = DEFAULT_RATIO
    made = next((g for g in gens if g.width and g.height), None)
    if made is not None and made.width and made.height:
        ratio = made.width / made.height
    elif gens and gens[0].aspect_ratio != "auto":
        w, h = (int(x) for x in gens[0].aspect_ratio.split(":"))
        ratio = w / h
    wanted = LANDSCAPE_COLUMNS if ratio > 1.05 else SQUARE_COLUMNS if ratio >= 0.95 else PORTRAIT_COLUMNS
    return TakeLayout(max(1, min(wanted, len(gens))), ratio)
