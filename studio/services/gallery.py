"""The history gallery and its curation: pages of generations, counts, stars, ratings, tags,
notes, deletion, and the failures the Status page offers to retry."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import JobError, ParamsError
from ..models import RETRYABLE_STATUSES, Generation
from ..store import DEFAULT_PAGE_SIZE, CountedPage, GalleryQuery
from .app import Services

MAX_RATING = 5
MAX_TAG_CHARS = 40
MAX_NOTES_CHARS = 5000


def history(
    services: Services, query: GalleryQuery | None = None, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
) -> list[Generation]:
    "One page of the history, newest first, matching the search and filters."
    return services.store.page(query, limit=limit, offset=offset)


def count(services: Services, query: GalleryQuery | None = None) -> int:
    "How many generations match, exact up to COUNT_BOUND (past it, COUNT_BOUND + 1)."
    return services.store.count(query)


def page_with_count(
    services: Services, query: GalleryQuery | None = None, *, page: int = 0, page_size: int = DEFAULT_PAGE_SIZE
) -> CountedPage:
    """Page `page` (from 0; past the end, the last page) of the history, newest first, with the count
    the pager shows: exact below a bound, else "at least", and as costly at a million as at a thousand."""
    return services.store.page_with_count(query, number=page, size=page_size)


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


# ---------------------------------------------------------------------- Status page (pages/status.py)


def recent_failures(services: Services, *, limit: int = 10) -> list[Generation]:
    "The newest failed or cancelled generations (what the Status page offers to retry)."
    return services.store.page(GalleryQuery(status=list(RETRYABLE_STATUSES)), limit=limit)
