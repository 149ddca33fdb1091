"""Read-only share links: make one for a selection (a collection, a comparison, a take, a gallery
search), list, revoke and regenerate them, and open one by its token.

A token is `secrets.token_urlsafe(32)` (256 bits); only its SHA-256 is stored, with its last
characters as a hint for telling links apart, so the database never holds a working link. A
revoked or expired link, or one whose collection or comparison was deleted, answers with a
`ShareLinkError` whose `status` is 410; a token never issued, 404. It never gives the content.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from ..errors import ParamsError, ShareLinkError
from ..models import Generation
from ..store import new_id
from .app import Services
from .selections import KIND_LABELS, SELECTION_KINDS, Selected, Selection, resolve

SHARE_ROUTE = "/share"  # /share/<token> (the page) and /share/<token>/media/<gen>/<what> (its files)
TOKEN_BYTES = 32  # 256 bits from secrets: well past the 128 the issue asks for
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # what token_urlsafe(32) gives: anything else is unknown
HINT_CHARS = 4
EXPIRY_DAYS = {"1d": 1, "7d": 7, "30d": 30}
EXPIRY_CHOICES = ("never", *EXPIRY_DAYS)  # or a date: the link works through the end of that UTC day
EXPIRY_LABELS = {"never": "Never", "1d": "1 day", "7d": "7 days", "30d": "30 days"}
MAX_EXPIRY_DAYS = 3660  # a date further off than ten years is a typo
# A shared search is resolved again for each media request; its takes are remembered this long so a
# page of 500 thumbnails is one search, not 500 (a deleted take still disappears within seconds).
MEMBERS_TTL_S = 10.0
MEMBERS_CACHE_MAX = 256


def _utcnow() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_of(text: str) -> str:
    "The token in a share link's URL (or the token itself), as pasted: spaces and a trailing slash dropped."
    text = text.strip()
    path = urlsplit(text).path if "://" in text else text
    parts = [p for p in path.split("/") if p]
    if SHARE_ROUTE.strip("/") in parts[:-1]:
        return parts[parts.index(SHARE_ROUTE.strip("/")) + 1]
    return parts[-1] if parts else ""


def share_url(base: str, token: str) -> str:
    "The link people open: the studio's base URL (STUDIO_SHARE_URL, or the page's origin) + /share/<token>."
    return f"{base.rstrip('/')}{SHARE_ROUTE}/{token}"


@dataclass(frozen=True)
class ShareLink:
    "One share link as stored (never its token)."

    id: str
    hint: str
    selection: Selection
    created_by: str
    created_at: str
    expires_at: str | None
    allow_download: bool
    revoked_at: str | None

    @classmethod
    def of_row(cls, row: dict) -> ShareLink:
        return cls(
            id=row["id"],
            hint=row["hint"] or "",
            selection=Selection(row["kind"], row["ref"]),
            created_by=row["created_by"] or "",
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            allow_download=bool(row["allow_download"]),
            revoked_at=row["revoked_at"],
        )

    def state(self, now: datetime) -> str:
        "'live', 'revoked' or 'expired'."
        if self.revoked_at:
            return "revoked"
        if self.expires_at and datetime.fromisoformat(self.expires_at) <= now:
            return "expired"
        return "live"

    def describe(self, now: datetime) -> str:
        "'…x3Fq · by Ana · expires 2026-12-09 14:00 UTC · downloads allowed' (or revoked / expired)."
        state = self.state(now)
        parts = [f"…{self.hint}"]
        if self.created_by:
            parts.append(f"by {self.created_by}")
        if state == "revoked":
            parts.append(f"revoked {_when(self.revoked_at)}")
        elif state == "expired":
            parts.append(f"expired {_when(self.expires_at)}")
        else:
            parts.append(f"expires {_when(self.expires_at)}" if self.expires_at else "never expires")
        parts.append("downloads allowed" if self.allow_download else "no downloads")
        return " · ".join(parts)


def _when(stamp: str | None) -> str:
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC") if stamp else "—"


@dataclass(frozen=True)
class NewShareLink:
    "A link just made: the token is here once, to be shown to its owner; only its hash is kept."

    link: ShareLink
    token: str

    def url(self, base: str) -> str:
        return share_url(base, self.token)


@dataclass
class Shared:
    "A share link opened: the link and what it shows now (deleted takes are gone from it)."

    link: ShareLink
    selected: Selected


def expires_at(expiry: str | date | None, now: datetime) -> datetime | None:
    """When a link made `now` stops working: never (None), 1, 7 or 30 days on, or through the end of
    the UTC day of a date (`date` or 'YYYY-MM-DD'); a date before today is refused."""
    if expiry is None or expiry == "never":
        return None
    if isinstance(expiry, str) and expiry.strip() in EXPIRY_DAYS:
        return now + timedelta(days=EXPIRY_DAYS[expiry.strip()])
    day: object = expiry
    if isinstance(expiry, str):
        try:
            day = date.fromisoformat(expiry.strip())
        except ValueError:
            day = None
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ParamsError(
            f"Expiry must be never, 1d, 7d, 30d or a date as YYYY-MM-DD (got {str(expiry)[:40]!r})", field="expires"
        )
    today = now.astimezone(UTC).date()
    if day < today:
        raise ParamsError(f"The expiry date {day} is in the past: pick today or a later day", field="expires")
    if (day - today).days > MAX_EXPIRY_DAYS:
        raise ParamsError(f"The expiry date {day} is more than ten years away; choose never instead", field="expires")
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


class ShareLinks:
    """The share links of one studio. `now` is the clock (a seam for expiry tests); `resolve` turns
    a selection into what it shows (`selections.resolve`, the one resolver exports use too)."""

    def __init__(
        self,
        services: Services,
        *,
        now: Callable[[], datetime] = _utcnow,
        resolver: Callable[[Services, Selection], Selected] = resolve,
    ):
        self.services = services
        self.now = now
        self.resolver = resolver

    # ------------------------------------------------------------------ making and listing

    def create(
        self,
        selection: Selection,
        *,
        expires: str | date | None = "never",
        allow_download: bool = True,
        created_by: str = "",
    ) -> NewShareLink:
        "A new link for `selection` (which must resolve: a deleted collection cannot be shared)."
        if not isinstance(selection, Selection) or selection.kind not in SELECTION_KINDS:
            raise ParamsError("Only a collection, a comparison, a take or a gallery search can be shared")
        if not isinstance(allow_download, bool):
            raise ParamsError("allow_download is yes or no", field="allow_download")
        now = self.now()
        until = expires_at(expires, now)
        self.resolver(self.services, selection)  # ParamsError when it is gone (or the search is unreadable)
        return self._insert(selection, until, allow_download, created_by, now)

    def _insert(
        self,
        selection: Selection,
        until: datetime | None,
        allow_download: bool,
        created_by: str,
        now: datetime,
        *,
        replacing: str | None = None,
    ) -> NewShareLink:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        row = {
            "id": new_id(),
            "token_hash": token_hash(token),
            "hint": token[-HINT_CHARS:],
            "kind": selection.kind,
            "ref": selection.ref,
            "created_by": " ".join(str(created_by or "").split()),
            "created_at": now.isoformat(timespec="microseconds"),
            "expires_at": until.isoformat(timespec="microseconds") if until else None,
            "allow_download": int(allow_download),
            "revoked_at": None,
        }
        if not self.services.store.add_share_link(row, replacing=replacing):
            raise ShareLinkError("That link was revoked meanwhile (in another tab?): make a new one", status=410)
        return NewShareLink(ShareLink.of_row(row), token)

    def list(self, *, selection: Selection | None = None, created_by: str | None = None) -> list[ShareLink]:
        "Links, newest first: all, or those of one selection and/or one person (revoked and expired included)."
        rows = self.services.store.share_links(
            kind=selection.kind if selection else None, ref=selection.ref if selection else None, created_by=created_by
        )
        return [ShareLink.of_row(r) for r in rows]

    def get(self, link_id: str) -> ShareLink:
        row = self.services.store.share_link(link_id=link_id) if isinstance(link_id, str) else None
        if row is None:
            raise ParamsError("There is no such share link", field="link")
        return ShareLink.of_row(row)

    def find(self, token_or_url: str) -> ShareLink:
        "The link a token (or a pasted share URL) belongs to; ShareLinkError 404 when none does."
        token = token_of(token_or_url) if isinstance(token_or_url, str) else ""
        row = self.services.store.share_link(token_hash=token_hash(token)) if TOKEN_PATTERN.fullmatch(token) else None
        if row is None:
            raise ShareLinkError(
                "This share link does not exist: check that it was copied whole, or ask for a new one", status=404
            )
        return ShareLink.of_row(row)

    # ------------------------------------------------------------------ ending links

    def _owned(self, link_id: str, by: str | None) -> ShareLink:
        """The link, when `by` may end or replace it: the person who made it (a link made before
        anyone was known is everyone's). `by=None` is whoever holds the token or runs the server (the
        CLI)."""
        link = self.get(link_id)
        if by is not None and link.created_by and by != link.created_by:
            raise ParamsError(f"Only {link.created_by}, who made this link, can revoke or regenerate it", field="link")
        return link

    def revoke(self, link_id: str, *, by: str | None = None) -> ShareLink:
        "End a link now: it answers 410 from here on. Revoking a revoked link is not an error."
        link = self._owned(link_id, by)
        if link.revoked_at is None:
            self.services.store.revoke_share_link(link.id, self.now().isoformat(timespec="microseconds"))
        return self.get(link_id)

    def regenerate(self, link_id: str, *, by: str | None = None) -> NewShareLink:
        """A new token for the same selection and options (expiry and downloads); the old token is
        revoked in the same step (it answers 410). An ended link cannot be regenerated: make a new one."""
        link = self._owned(link_id, by)
        now = self.now()
        if link.state(now) != "live":
            raise ShareLinkError(f"This link is {link.state(now)}: make a new one instead", status=410)
        until = datetime.fromisoformat(link.expires_at) if link.expires_at else None
        return self._insert(link.selection, until, link.allow_download, link.created_by, now, replacing=link.id)

    # ------------------------------------------------------------------ opening links

    def check(self, token: str) -> ShareLink:
        "The live link of `token`; ShareLinkError 404 (unknown) or 410 (revoked, expired) otherwise."
        link = self.find(token)
        state = link.state(self.now())
        if state == "revoked":
            raise ShareLinkError(f"This share link was revoked on {_when(link.revoked_at)}", status=410)
        if state == "expired":
            raise ShareLinkError(f"This share link expired on {_when(link.expires_at)}", status=410)
        return link

    def open(self, token: str) -> Shared:
        "What a live link shows, as of now; 410 when what it shared (a collection, a comparison, a take) is gone."
        link = self.check(token)
        try:
            selected = self.resolver(self.services, link.selection)
        except ParamsError:
            label = KIND_LABELS.get(link.selection.kind, "item")
            raise ShareLinkError(f"The {label} this link shared was deleted", status=410) from None
        _remember(link.id, {g.id for g in selected.items})
        return Shared(link, selected)

    def media(self, token: str, gen_id: str) -> tuple[ShareLink, Generation]:
        """A finished take the live link shares (for its video, thumbnail or download); ShareLinkError
        404 for any take it does not share, whatever exists elsewhere in the studio."""
        link = self.check(token)
        gen = self.services.store.get(gen_id) if isinstance(gen_id, str) and gen_id else None
        if gen is None or gen.status != "done" or not self._shares(link, gen):
            raise ShareLinkError("This link shares no such video", status=404)
        return link, gen

    def _shares(self, link: ShareLink, gen: Generation) -> bool:
        kind, ref = link.selection.kind, link.selection.ref
        if kind == "generation":
            return gen.id == ref
        if kind == "generations":
            return gen.id in ref.split(",")
        if kind == "grid":
            return gen.grid_id == ref
        if kind == "collection":
            return gen.id in self.services.store.collection_item_authors(ref)
        members = _remembered(link.id)
        if members is None:
            try:
                members = {g.id for g in self.resolver(self.services, link.selection).items}
            except ParamsError:
                return False
            _remember(link.id, members)
        return gen.id in members


# Process-wide: the page and its media requests come through different calls (and threads).
_members: dict[str, tuple[float, set[str]]] = {}
_members_lock = threading.Lock()


def _remember(link_id: str, members: set[str]) -> None:
    with _members_lock:
        _members[link_id] = (time.monotonic() + MEMBERS_TTL_S, members)
        while len(_members) > MEMBERS_CACHE_MAX:
            _members.pop(next(iter(_members)))


def _remembered(link_id: str) -> set[str] | None:
    with _members_lock:
        found = _members.get(link_id)
    return found[1] if found and found[0] > time.monotonic() else None
