"""Comments on a take (issue 9 §3): threads of comments, each optionally pinned to a moment of the
video (seconds from its start, taken from the player's position or typed). Anyone who can open a
take can comment on it or reply; only a comment's author edits or deletes it.

A reply always joins its thread's first comment, so a thread is one level deep. Deleting a
comment deletes only it: its replies stay, under a placeholder (`DELETED_PLACEHOLDER`). Deleting a
take deletes its comments (a trigger in `m019_comments`) and nothing else's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from ..errors import ParamsError
from ..format import clock
from ..models import Generation
from ..store import new_id, utcnow
from .app import Services

MAX_COMMENT_CHARS = 2000
DELETED_PLACEHOLDER = "comment deleted"
# A moment typed or taken from the player may sit a hair past the last frame's timestamp.
PIN_SLACK_S = 0.05
SECONDS_PER_DAY = 86_400  # a pinned time past this is shown in seconds, not as minutes
TAKE_GONE = "This take no longer exists (it was deleted), so it cannot be commented on"


class Comment(BaseModel):
    "One comment: `parent_id` is the thread's first comment (None for that one); `at_s` the pinned moment."

    id: str
    gen_id: str
    parent_id: str | None = None
    author: str
    body: str
    at_s: float | None = None
    created_at: str
    edited_at: str | None = None

    @property
    def moment(self) -> str | None:
        "The pinned moment as the page shows it ('0:03.2'), or None when not pinned."
        return None if self.at_s is None else clock(self.at_s)


@dataclass(frozen=True)
class Thread:
    """A comment and its replies, oldest first. `root` is None when the first comment was deleted
    and replies remain: the page shows `DELETED_PLACEHOLDER` in its place."""

    id: str
    root: Comment | None
    replies: tuple[Comment, ...]

    @property
    def comments(self) -> tuple[Comment, ...]:
        return ((self.root,) if self.root else ()) + self.replies


# ---------------------------------------------------------------------- the rows


def _marks(ids: Sequence[str]) -> str:
    return ",".join("?" * len(ids))


# ---------------------------------------------------------------------- checks


def _body(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ParamsError("Write something before sending the comment: it is empty", field="comment")
    text = text.strip()
    if len(text) > MAX_COMMENT_CHARS:
        raise ParamsError(
            f"Comments are at most {MAX_COMMENT_CHARS} characters (this one has {len(text)}): shorten it, or "
            "split it into a reply",
            field="comment",
        )
    return text


def _author(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ParamsError(
            "Say who you are first (the name in the sidebar): comments are signed, and only their author can edit them",
            field="author",
        )
    return name.strip()


def _take(services: Services, gen_id: str) -> Generation:
    gen = services.store.get(gen_id) if isinstance(gen_id, str) and gen_id else None
    if gen is None:
        raise ParamsError(TAKE_GONE, field="take")
    return gen


def check_moment(gen: Generation, at_s: object) -> float | None:
    """A moment to pin a comment to, in seconds from the start of the take's video (None: not
    pinned); ParamsError when it is not a number, negative, past the clip's end, or the take has no
    video to pin to."""
    if at_s is None:
        return None
    if isinstance(at_s, bool) or not isinstance(at_s, int | float) or not math.isfinite(at_s):
        raise ParamsError(f"A pinned time is a number of seconds (got {at_s!r})", field="at_s")
    if at_s < 0:
        raise ParamsError(
            f"A pinned time cannot be before the start of the clip (got {at_s:g} s): use 0 or more", field="at_s"
        )
    if gen.status != "done" or not gen.duration_s:
        raise ParamsError(
            "This take has no finished video yet, so a comment cannot be pinned to a moment of it: leave the time out",
            field="at_s",
        )
    if at_s > gen.duration_s + PIN_SLACK_S:
        asked = clock(at_s) if at_s < SECONDS_PER_DAY else f"{at_s:g} s"
        raise ParamsError(
            f"The clip is {clock(gen.duration_s)} long: {asked} is past its end. "
            f"Pin the comment between 0:00.0 and {clock(gen.duration_s)}",
            field="at_s",
        )
    return round(min(float(at_s), gen.duration_s), 3)


def _own(services: Services, comment_id: str, author: str, verb: str) -> Comment:
    "The comment, when `author` wrote it; ParamsError otherwise (saying whose it is). `verb`: edit, delete."
    found = comment(services, comment_id)
    if found is None:
        raise ParamsError(
            f"This comment no longer exists: it was deleted, so there is nothing to {verb}", field="comment"
        )
    if found.author != author:
        raise ParamsError(
            f"Only {found.author}, who wrote this comment, can {verb} it (you are {author})", field="comment"
        )
    return found


# ---------------------------------------------------------------------- writes


def add_comment(
    services: Services,
    gen_id: str,
    author: str,
    body: str,
    *,
    at_s: float | None = None,
    parent_id: str | None = None,
) -> Comment:
    """A new comment on a take by `author`, pinned to `at_s` seconds when given; with `parent_id`, a
    reply in that comment's thread (a reply to a reply joins the same thread)."""
    text, name = _body(body), _author(author)
    gen = _take(services, gen_id)
    moment = check_moment(gen, at_s)
    root = None
    if parent_id is not None:
        parent = comment(services, parent_id)
        if parent is None or parent.gen_id != gen.id:
            raise ParamsError(
                "The comment you are replying to no longer exists (it was deleted): write a new comment instead",
                field="parent",
            )
        root = parent.parent_id or parent.id
    made = Comment(id=new_id(), gen_id=gen.id, parent_id=root, author=name, body=text, at_s=moment, created_at=utcnow())
    # Only while the take exists: it may go between the check above and this write. The cast types
    # a NULL moment (PostgreSQL takes a bare parameter in a SELECT list for text).
    saved = services.store.execute(
        "INSERT INTO comments (id, gen_id, parent_id, author, body, at_s, created_at) "
        "SELECT ?, ?, ?, ?, ?, CAST(? AS DOUBLE PRECISION), ? WHERE EXISTS (SELECT 1 FROM generations WHERE id = ?)",
        [made.id, made.gen_id, made.parent_id, made.author, made.body, made.at_s, made.created_at, gen.id],
    )
    if not saved:
        raise ParamsError(TAKE_GONE, field="take")
    return made


def edit_comment(services: Services, comment_id: str, author: str, body: str) -> Comment:
    "Change a comment's text; only its author may (ParamsError for anyone else)."
    text = _body(body)
    found = _own(services, comment_id, _author(author), "edit")
    edited = found.model_copy(update={"body": text, "edited_at": utcnow()})
    if not services.store.execute(
        "UPDATE comments SET body = ?, edited_at = ? WHERE id = ? AND author = ?",
        [edited.body, edited.edited_at, found.id, found.author],
    ):
        raise ParamsError("This comment no longer exists: it was deleted, so there is nothing to edit", field="comment")
    return edited


def delete_comment(services: Services, comment_id: str, author: str) -> None:
    "Delete a comment; only its author may. Its replies stay, under a placeholder."
    found = _own(services, comment_id, _author(author), "delete")
    services.store.execute("DELETE FROM comments WHERE id = ? AND author = ?", [found.id, found.author])


# ---------------------------------------------------------------------- reads


def comment(services: Services, comment_id: str | None) -> Comment | None:
    if not comment_id:
        return None
    rows = services.store.query("SELECT * FROM comments WHERE id = ?", [comment_id])
    return Comment.model_validate(rows[0]) if rows else None


def comments(services: Services, gen_id: str) -> list[Comment]:
    "Every comment on a take, oldest first."
    rows = services.store.query("SELECT * FROM comments WHERE gen_id = ? ORDER BY created_at, rowid", [gen_id])
    return [Comment.model_validate(r) for r in rows]


def threads(services: Services, gen_id: str) -> list[Thread]:
    """A take's comments as threads, in the order they were started; a thread whose first comment
    was deleted keeps its place (by its oldest reply) with `root` None."""
    found = comments(services, gen_id)
    roots = {c.id: c for c in found if c.parent_id is None}
    replies: dict[str, list[Comment]] = {}
    for c in found:
        if c.parent_id is not None:
            replies.setdefault(c.parent_id, []).append(c)
    order = list(dict.fromkeys(c.parent_id or c.id for c in found))
    return [Thread(id=tid, root=roots.get(tid), replies=tuple(replies.get(tid, ()))) for tid in order]


def pinned_comments(services: Services, gen_ids: Sequence[str]) -> list[Comment]:
    "The comments pinned to a moment of these takes, by take (in the order given), then by moment."
    ids = list(dict.fromkeys(gen_ids))
    if not ids:
        return []
    rows = services.store.query(
        f"SELECT * FROM comments WHERE gen_id IN ({_marks(ids)}) AND at_s IS NOT NULL ORDER BY at_s, created_at",
        ids,
    )
    place = {gid: n for n, gid in enumerate(ids)}
    return sorted((Comment.model_validate(r) for r in rows), key=lambda c: place[c.gen_id])


def comment_counts(services: Services, gen_ids: Sequence[str]) -> dict[str, int]:
    "How many comments each of these takes has (takes with none are left out)."
    ids = list(dict.fromkeys(gen_ids))
    if not ids:
        return {}
    rows = services.store.query(
        f"SELECT gen_id, count(*) AS n FROM comments WHERE gen_id IN ({_marks(ids)}) GROUP BY gen_id", ids
    )
    return {r["gen_id"]: r["n"] for r in rows}


def threads_by_take(services: Services, gen_ids: Sequence[str]) -> dict[str, list[Thread]]:
    "Threads of several takes at once (for a share page), keyed by take; takes with none are left out."
    counts = comment_counts(services, gen_ids)
    return {gid: threads(services, gid) for gid in gen_ids if counts.get(gid)}
